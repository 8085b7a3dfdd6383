using System.Text;
using System.Text.Json;
using OctoMesh.Edge.Wire;

namespace OctoMesh.Edge.Providers.Anthropic;

/// <summary>
/// Writes an OpenAI chat request as an Anthropic Messages request (Anthropic API reference,
/// "Messages" › "Create a Message"):
/// <list type="bullet">
/// <item>system and developer messages are lifted, in order, into <c>system</c>;</item>
/// <item>assistant <c>tool_calls</c> become <c>tool_use</c> blocks, <c>tool</c> messages <c>tool_result</c> blocks in a user turn;</item>
/// <item>turns of the same role are merged and empty text dropped, since Anthropic wants user and assistant to alternate, user first;</item>
/// <item><c>max_tokens</c> is required upstream: the client's, else the provider's <c>defaultMaxTokens</c>;</item>
/// <item><c>stop</c> → <c>stop_sequences</c>, <c>user</c> → <c>metadata.user_id</c>, temperature capped at Anthropic's 1;</item>
/// <item>tools and <c>tool_choice</c> (<c>required</c> → <c>any</c>), <c>parallel_tool_calls: false</c> → <c>disable_parallel_tool_use</c>;</item>
/// <item>image parts by URL or as base64 data URLs;</item>
/// <item><c>response_format</c> JSON: Anthropic has no JSON mode, so the instruction goes into <c>system</c>.</item>
/// </list>
/// What Anthropic cannot do (<c>n</c> &gt; 1, <c>logprobs</c>, audio) is refused with a message, not dropped silently.
/// </summary>
internal static class AnthropicRequestWriter
{
    /// <summary>Anthropic needs a user turn first; a conversation that starts with the assistant gets this one.</summary>
    public const string OpeningUserTurn = "(conversation start)";

    private abstract record Block;
    private sealed record TextBlock(string Text) : Block;
    private sealed record ImageBlock(string? Url, string? MediaType, string? Data) : Block;
    private sealed record ToolUseBlock(string Id, string Name, JsonElement Input) : Block;
    private sealed record ToolResultBlock(string ToolUseId, string Content) : Block;
    private sealed record Turn(string Role, List<Block> Blocks);

    /// <summary>Writes the Anthropic body; returns a message saying what is unsupported, or null.</summary>
    public static string? Write(JsonElement request, string upstreamModel, int defaultMaxTokens, Utf8JsonWriter writer)
    {
        if (request.TryGetProperty("n", out var n) && n.ValueKind == JsonValueKind.Number && n.GetInt32() != 1)
        {
            return "Anthropic models return one choice: 'n' must be 1.";
        }
        if (request.TryGetProperty("logprobs", out var logprobs) && logprobs.ValueKind == JsonValueKind.True)
        {
            return "Anthropic models do not return log probabilities: remove 'logprobs'.";
        }
        if (request.TryGetProperty("audio", out var audio) && audio.ValueKind != JsonValueKind.Null)
        {
            return "Anthropic models do not produce audio: remove 'audio'.";
        }

        var system = new StringBuilder();
        var turns = new List<Turn>();
        var index = 0;
        foreach (var message in request.GetProperty("messages").EnumerateArray())
        {
            var error = AddMessage(message, index++, system, turns);
            if (error is not null)
            {
                return error;
            }
        }
        AppendResponseFormat(request, system);
        turns = Normalize(turns);

        writer.WriteStartObject();
        writer.WriteString("model", upstreamModel);
        writer.WriteNumber("max_tokens", MaxTokens(request) ?? defaultMaxTokens);
        if (system.Length > 0)
        {
            writer.WriteString("system", system.ToString());
        }
        writer.WriteStartArray("messages");
        foreach (var turn in turns)
        {
            WriteTurn(writer, turn);
        }
        writer.WriteEndArray();

        if (request.TryGetProperty("stop", out var stop) && stop.ValueKind is JsonValueKind.String or JsonValueKind.Array)
        {
            writer.WriteStartArray("stop_sequences");
            foreach (var sequence in stop.ValueKind == JsonValueKind.String ? [stop] : stop.EnumerateArray().ToArray())
            {
                writer.WriteStringValue(sequence.GetString());
            }
            writer.WriteEndArray();
        }
        if (request.TryGetProperty("temperature", out var temperature) && temperature.ValueKind == JsonValueKind.Number)
        {
            writer.WriteNumber("temperature", Math.Min(temperature.GetDouble(), 1.0));
        }
        if (request.TryGetProperty("top_p", out var topP) && topP.ValueKind == JsonValueKind.Number)
        {
            writer.WriteNumber("top_p", topP.GetDouble());
        }
        WriteTools(request, writer);
        if (request.TryGetProperty("stream", out var stream) && stream.ValueKind == JsonValueKind.True)
        {
            writer.WriteBoolean("stream", true);
        }
        if (request.TryGetProperty("user", out var user) && user.ValueKind == JsonValueKind.String)
        {
            writer.WriteStartObject("metadata");
            writer.WriteString("user_id", user.GetString());
            writer.WriteEndObject();
        }
        writer.WriteEndObject();
        return null;
    }

    private static int? MaxTokens(JsonElement request)
    {
        foreach (var name in (ReadOnlySpan<string>)["max_completion_tokens", "max_tokens"])
        {
            if (request.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number)
            {
                return value.GetInt32();
            }
        }
        return null;
    }

    private static string? AddMessage(JsonElement message, int index, StringBuilder system, List<Turn> turns)
    {
        var role = message.TryGetProperty("role", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null;
        message.TryGetProperty("content", out var content);
        switch (role)
        {
            case "system" or "developer":
                if (system.Length > 0)
                {
                    system.Append("\n\n");
                }
                system.Append(OpenAIContent.Text(content));
                return null;

            case "user":
            {
                var blocks = new List<Block>();
                var error = AddContent(content, blocks, index);
                turns.Add(new Turn("user", blocks));
                return error;
            }

            case "assistant":
            {
                var blocks = new List<Block>();
                if (content.ValueKind != JsonValueKind.Null && content.ValueKind != JsonValueKind.Undefined)
                {
                    blocks.Add(new TextBlock(OpenAIContent.Text(content)));
                }
                if (message.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
                {
                    var call = 0;
                    foreach (var toolCall in calls.EnumerateArray())
                    {
                        var function = toolCall.GetProperty("function");
                        if (!OpenAIContent.TryParseArguments(function, out var input))
                        {
                            return $"messages[{index}].tool_calls[{call}].function.arguments is not valid JSON; Anthropic needs the arguments as an object.";
                        }
                        blocks.Add(new ToolUseBlock(toolCall.GetProperty("id").GetString()!, function.GetProperty("name").GetString()!, input));
                        call++;
                    }
                }
                turns.Add(new Turn("assistant", blocks));
                return null;
            }

            case "tool":
            {
                var id = message.TryGetProperty("tool_call_id", out var toolCallId) && toolCallId.ValueKind == JsonValueKind.String ? toolCallId.GetString()! : null;
                if (id is null)
                {
                    return $"messages[{index}] is a tool message without 'tool_call_id'.";
                }
                turns.Add(new Turn("user", [new ToolResultBlock(id, OpenAIContent.Text(content))]));
                return null;
            }

            default:
                return $"messages[{index}].role '{role}' cannot be sent to Anthropic: use system, developer, user, assistant or tool.";
        }
    }

    private static string? AddContent(JsonElement content, List<Block> blocks, int index)
    {
        if (content.ValueKind == JsonValueKind.String)
        {
            blocks.Add(new TextBlock(content.GetString()!));
            return null;
        }
        if (content.ValueKind != JsonValueKind.Array)
        {
            return null;
        }
        foreach (var part in content.EnumerateArray())
        {
            var type = part.TryGetProperty("type", out var t) ? t.GetString() : null;
            if (type == "text")
            {
                blocks.Add(new TextBlock(part.GetProperty("text").GetString()!));
            }
            else if (type == "image_url")
            {
                var url = part.GetProperty("image_url").GetProperty("url").GetString()!;
                blocks.Add(ParseImage(url));
            }
            else
            {
                return $"messages[{index}] has a '{type}' part, which Anthropic models do not accept here.";
            }
        }
        return null;
    }

    /// <summary><c>data:image/png;base64,…</c> becomes a base64 source; anything else a URL source.</summary>
    private static ImageBlock ParseImage(string url) =>
        OpenAIContent.TryParseDataUrl(url, out var mediaType, out var data) ? new ImageBlock(null, mediaType, data) : new ImageBlock(url, null, null);

    private static void AppendResponseFormat(JsonElement request, StringBuilder system)
    {
        if (!request.TryGetProperty("response_format", out var format) || !format.TryGetProperty("type", out var type))
        {
            return;
        }
        var instruction = type.GetString() switch
        {
            "json_object" => "Respond with one JSON object and nothing else.",
            "json_schema" when format.TryGetProperty("json_schema", out var schema) && schema.TryGetProperty("schema", out var s) =>
                "Respond with one JSON object that conforms to this JSON schema, and nothing else: " + s.GetRawText(),
            _ => null,
        };
        if (instruction is not null)
        {
            system.Append(system.Length > 0 ? "\n\n" : "").Append(instruction);
        }
    }

    /// <summary>Drops empty text, merges neighbours of one role, and opens with a user turn.</summary>
    private static List<Turn> Normalize(List<Turn> turns)
    {
        var merged = new List<Turn>();
        foreach (var turn in turns)
        {
            turn.Blocks.RemoveAll(b => b is TextBlock { Text.Length: 0 });
            if (turn.Blocks.Count == 0)
            {
                continue;
            }
            if (merged.Count > 0 && merged[^1].Role == turn.Role)
            {
                merged[^1].Blocks.AddRange(turn.Blocks);
            }
            else
            {
                merged.Add(turn);
            }
        }
        if (merged.Count == 0 || merged[0].Role != "user")
        {
            merged.Insert(0, new Turn("user", [new TextBlock(OpeningUserTurn)]));
        }
        return merged;
    }

    private static void WriteTurn(Utf8JsonWriter writer, Turn turn)
    {
        writer.WriteStartObject();
        writer.WriteString("role", turn.Role);
        if (turn.Blocks is [TextBlock only])
        {
            writer.WriteString("content", only.Text);
            writer.WriteEndObject();
            return;
        }
        writer.WriteStartArray("content");
        foreach (var block in turn.Blocks)
        {
            writer.WriteStartObject();
            switch (block)
            {
                case TextBlock text:
                    writer.WriteString("type", "text");
                    writer.WriteString("text", text.Text);
                    break;
                case ImageBlock image:
                    writer.WriteString("type", "image");
                    writer.WriteStartObject("source");
                    if (image.Url is not null)
                    {
                        writer.WriteString("type", "url");
                        writer.WriteString("url", image.Url);
                    }
                    else
                    {
                        writer.WriteString("type", "base64");
                        writer.WriteString("media_type", image.MediaType);
                        writer.WriteString("data", image.Data);
                    }
                    writer.WriteEndObject();
                    break;
                case ToolUseBlock use:
                    writer.WriteString("type", "tool_use");
                    writer.WriteString("id", use.Id);
                    writer.WriteString("name", use.Name);
                    writer.WritePropertyName("input");
                    use.Input.WriteTo(writer);
                    break;
                case ToolResultBlock result:
                    writer.WriteString("type", "tool_result");
                    writer.WriteString("tool_use_id", result.ToolUseId);
                    writer.WriteString("content", result.Content);
                    break;
            }
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private static void WriteTools(JsonElement request, Utf8JsonWriter writer)
    {
        if (!request.TryGetProperty("tools", out var tools) || tools.ValueKind != JsonValueKind.Array || tools.GetArrayLength() == 0)
        {
            return;
        }
        writer.WriteStartArray("tools");
        foreach (var tool in tools.EnumerateArray())
        {
            var function = tool.GetProperty("function");
            writer.WriteStartObject();
            writer.WriteString("name", function.GetProperty("name").GetString());
            if (function.TryGetProperty("description", out var description) && description.ValueKind == JsonValueKind.String)
            {
                writer.WriteString("description", description.GetString());
            }
            writer.WritePropertyName("input_schema");
            if (function.TryGetProperty("parameters", out var parameters) && parameters.ValueKind == JsonValueKind.Object)
            {
                parameters.WriteTo(writer);
            }
            else
            {
                writer.WriteStartObject();
                writer.WriteString("type", "object");
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
        }
        writer.WriteEndArray();

        var parallel = !(request.TryGetProperty("parallel_tool_calls", out var p) && p.ValueKind == JsonValueKind.False);
        string type = "auto";
        string? name = null;
        if (request.TryGetProperty("tool_choice", out var choice))
        {
            if (choice.ValueKind == JsonValueKind.String)
            {
                type = choice.GetString() switch { "none" => "none", "required" => "any", _ => "auto" };
            }
            else if (choice.ValueKind == JsonValueKind.Object && choice.TryGetProperty("function", out var f))
            {
                (type, name) = ("tool", f.GetProperty("name").GetString());
            }
        }
        writer.WriteStartObject("tool_choice");
        writer.WriteString("type", type);
        if (name is not null)
        {
            writer.WriteString("name", name);
        }
        if (!parallel && type != "none")
        {
            writer.WriteBoolean("disable_parallel_tool_use", true);
        }
        writer.WriteEndObject();
    }
}
