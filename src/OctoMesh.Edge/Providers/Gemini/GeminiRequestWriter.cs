using System.Text;
using System.Text.Json;
using OctoMesh.Edge.Wire;

namespace OctoMesh.Edge.Providers.Gemini;

/// <summary>
/// Writes an OpenAI chat request as a Gemini <c>generateContent</c> request (Gemini API reference,
/// "Generating content" and "Function calling"):
/// <list type="bullet">
/// <item>system and developer messages → <c>systemInstruction</c>;</item>
/// <item>user and assistant messages → <c>contents</c> with roles <c>user</c> and <c>model</c>; text → text parts,
/// base64 data-URL images → <c>inlineData</c>; neighbours of one role merged;</item>
/// <item>assistant <c>tool_calls</c> → <c>functionCall</c> parts; <c>tool</c> messages → <c>functionResponse</c> parts,
/// named after the call they answer (Gemini matches results by function name);</item>
/// <item><c>temperature</c>, <c>top_p</c>, <c>max_tokens</c>, <c>stop</c> → <c>generationConfig</c>; JSON response
/// formats → <c>responseMimeType: application/json</c>;</item>
/// <item>tools → <c>functionDeclarations</c>; <c>tool_choice</c> → <c>functionCallingConfig</c> (<c>required</c> → <c>ANY</c>,
/// a named function → <c>ANY</c> with <c>allowedFunctionNames</c>).</item>
/// </list>
/// Image URLs (Gemini wants uploaded files for those), <c>n</c> &gt; 1, <c>logprobs</c> and audio are refused.
/// </summary>
internal static class GeminiRequestWriter
{
    private sealed record Content(string Role, List<Action<Utf8JsonWriter>> Parts);

    public static string? Write(JsonElement request, Utf8JsonWriter writer)
    {
        if (request.TryGetProperty("n", out var n) && n.ValueKind == JsonValueKind.Number && n.GetInt32() != 1)
        {
            return "This Gemini provider returns one choice: 'n' must be 1.";
        }
        if (request.TryGetProperty("logprobs", out var logprobs) && logprobs.ValueKind == JsonValueKind.True)
        {
            return "Gemini log probabilities are not translated: remove 'logprobs'.";
        }

        var system = new StringBuilder();
        var contents = new List<Content>();
        var toolNames = new Dictionary<string, string>(StringComparer.Ordinal);
        var index = 0;
        foreach (var message in request.GetProperty("messages").EnumerateArray())
        {
            var error = AddMessage(message, index++, system, contents, toolNames);
            if (error is not null)
            {
                return error;
            }
        }

        writer.WriteStartObject();
        writer.WriteStartArray("contents");
        foreach (var content in contents)
        {
            writer.WriteStartObject();
            writer.WriteString("role", content.Role);
            writer.WriteStartArray("parts");
            foreach (var part in content.Parts)
            {
                writer.WriteStartObject();
                part(writer);
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        if (system.Length > 0)
        {
            writer.WriteStartObject("systemInstruction");
            writer.WriteStartArray("parts");
            writer.WriteStartObject();
            writer.WriteString("text", system.ToString());
            writer.WriteEndObject();
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        WriteTools(request, writer);
        WriteGenerationConfig(request, writer);
        writer.WriteEndObject();
        return null;
    }

    private static string? AddMessage(JsonElement message, int index, StringBuilder system, List<Content> contents, Dictionary<string, string> toolNames)
    {
        var role = message.TryGetProperty("role", out var r) ? r.GetString() : null;
        message.TryGetProperty("content", out var content);
        switch (role)
        {
            case "system" or "developer":
                system.Append(system.Length > 0 ? "\n\n" : "").Append(OpenAIContent.Text(content));
                return null;

            case "user":
            {
                var parts = new List<Action<Utf8JsonWriter>>();
                if (content.ValueKind == JsonValueKind.String)
                {
                    AddText(parts, content.GetString()!);
                }
                else if (content.ValueKind == JsonValueKind.Array)
                {
                    foreach (var part in content.EnumerateArray())
                    {
                        var type = part.TryGetProperty("type", out var t) ? t.GetString() : null;
                        if (type == "text")
                        {
                            AddText(parts, part.GetProperty("text").GetString()!);
                        }
                        else if (type == "image_url")
                        {
                            var url = part.GetProperty("image_url").GetProperty("url").GetString()!;
                            if (!OpenAIContent.TryParseDataUrl(url, out var mime, out var data))
                            {
                                return $"messages[{index}]: Gemini takes images inline here; send them as data:image/…;base64,… URLs.";
                            }
                            parts.Add(w =>
                            {
                                w.WriteStartObject("inlineData");
                                w.WriteString("mimeType", mime);
                                w.WriteString("data", data);
                                w.WriteEndObject();
                            });
                        }
                        else
                        {
                            return $"messages[{index}] has a '{type}' part, which is not translated for Gemini.";
                        }
                    }
                }
                Add(contents, "user", parts);
                return null;
            }

            case "assistant":
            {
                var parts = new List<Action<Utf8JsonWriter>>();
                AddText(parts, OpenAIContent.Text(content));
                if (message.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
                {
                    var call = 0;
                    foreach (var toolCall in calls.EnumerateArray())
                    {
                        var function = toolCall.GetProperty("function");
                        var name = function.GetProperty("name").GetString()!;
                        toolNames[toolCall.GetProperty("id").GetString()!] = name;
                        if (!OpenAIContent.TryParseArguments(function, out var args))
                        {
                            return $"messages[{index}].tool_calls[{call}].function.arguments is not valid JSON; Gemini needs the arguments as an object.";
                        }
                        parts.Add(w =>
                        {
                            w.WriteStartObject("functionCall");
                            w.WriteString("name", name);
                            w.WritePropertyName("args");
                            args.WriteTo(w);
                            w.WriteEndObject();
                        });
                        call++;
                    }
                }
                Add(contents, "model", parts);
                return null;
            }

            case "tool":
            {
                var id = message.TryGetProperty("tool_call_id", out var toolCallId) ? toolCallId.GetString() : null;
                if (id is null || !toolNames.TryGetValue(id, out var name))
                {
                    return $"messages[{index}]: tool_call_id '{id}' answers no earlier tool call; Gemini matches tool results by function name.";
                }
                var text = OpenAIContent.Text(content);
                JsonElement response;
                try
                {
                    using var parsed = JsonDocument.Parse(text);
                    response = parsed.RootElement.ValueKind == JsonValueKind.Object ? parsed.RootElement.Clone() : Wrap(text);
                }
                catch (JsonException)
                {
                    response = Wrap(text);
                }
                Add(contents, "user", [w =>
                {
                    w.WriteStartObject("functionResponse");
                    w.WriteString("name", name);
                    w.WritePropertyName("response");
                    response.WriteTo(w);
                    w.WriteEndObject();
                }]);
                return null;
            }

            default:
                return $"messages[{index}].role '{role}' cannot be sent to Gemini: use system, developer, user, assistant or tool.";
        }
    }

    /// <summary>Gemini's function response must be an object: plain text goes in as <c>{"content": …}</c>.</summary>
    private static JsonElement Wrap(string text)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(text.Length + 16);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("content", text);
            writer.WriteEndObject();
        }
        using var document = JsonDocument.Parse(buffer.WrittenMemory);
        return document.RootElement.Clone();
    }

    private static void AddText(List<Action<Utf8JsonWriter>> parts, string text)
    {
        if (text.Length > 0)
        {
            parts.Add(w => w.WriteString("text", text));
        }
    }

    /// <summary>Appends to the last content when it has the same role; Gemini wants turns to alternate.</summary>
    private static void Add(List<Content> contents, string role, List<Action<Utf8JsonWriter>> parts)
    {
        if (parts.Count == 0)
        {
            return;
        }
        if (contents.Count > 0 && contents[^1].Role == role)
        {
            contents[^1].Parts.AddRange(parts);
        }
        else
        {
            contents.Add(new Content(role, parts));
        }
    }

    private static void WriteTools(JsonElement request, Utf8JsonWriter writer)
    {
        if (!request.TryGetProperty("tools", out var tools) || tools.ValueKind != JsonValueKind.Array || tools.GetArrayLength() == 0)
        {
            return;
        }
        writer.WriteStartArray("tools");
        writer.WriteStartObject();
        writer.WriteStartArray("functionDeclarations");
        foreach (var tool in tools.EnumerateArray())
        {
            var function = tool.GetProperty("function");
            writer.WriteStartObject();
            writer.WriteString("name", function.GetProperty("name").GetString());
            if (function.TryGetProperty("description", out var description) && description.ValueKind == JsonValueKind.String)
            {
                writer.WriteString("description", description.GetString());
            }
            if (function.TryGetProperty("parameters", out var parameters) && parameters.ValueKind == JsonValueKind.Object)
            {
                writer.WritePropertyName("parameters");
                parameters.WriteTo(writer);
            }
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
        writer.WriteEndArray();

        if (!request.TryGetProperty("tool_choice", out var choice))
        {
            return;
        }
        string mode;
        string? only = null;
        if (choice.ValueKind == JsonValueKind.String)
        {
            mode = choice.GetString() switch { "none" => "NONE", "required" => "ANY", _ => "AUTO" };
        }
        else if (choice.ValueKind == JsonValueKind.Object && choice.TryGetProperty("function", out var f))
        {
            (mode, only) = ("ANY", f.GetProperty("name").GetString());
        }
        else
        {
            return;
        }
        writer.WriteStartObject("toolConfig");
        writer.WriteStartObject("functionCallingConfig");
        writer.WriteString("mode", mode);
        if (only is not null)
        {
            writer.WriteStartArray("allowedFunctionNames");
            writer.WriteStringValue(only);
            writer.WriteEndArray();
        }
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    private static void WriteGenerationConfig(JsonElement request, Utf8JsonWriter writer)
    {
        var started = false;
        void Start()
        {
            if (!started)
            {
                writer.WriteStartObject("generationConfig");
                started = true;
            }
        }
        if (request.TryGetProperty("temperature", out var temperature) && temperature.ValueKind == JsonValueKind.Number)
        {
            Start();
            writer.WriteNumber("temperature", temperature.GetDouble());
        }
        if (request.TryGetProperty("top_p", out var topP) && topP.ValueKind == JsonValueKind.Number)
        {
            Start();
            writer.WriteNumber("topP", topP.GetDouble());
        }
        foreach (var name in (ReadOnlySpan<string>)["max_completion_tokens", "max_tokens"])
        {
            if (request.TryGetProperty(name, out var max) && max.ValueKind == JsonValueKind.Number)
            {
                Start();
                writer.WriteNumber("maxOutputTokens", max.GetInt32());
                break;
            }
        }
        if (request.TryGetProperty("stop", out var stop) && stop.ValueKind is JsonValueKind.String or JsonValueKind.Array)
        {
            Start();
            writer.WriteStartArray("stopSequences");
            foreach (var sequence in stop.ValueKind == JsonValueKind.String ? [stop] : stop.EnumerateArray().ToArray())
            {
                writer.WriteStringValue(sequence.GetString());
            }
            writer.WriteEndArray();
        }
        if (request.TryGetProperty("response_format", out var format) && format.TryGetProperty("type", out var type)
            && type.GetString() is "json_object" or "json_schema")
        {
            Start();
            writer.WriteString("responseMimeType", "application/json");
        }
        if (started)
        {
            writer.WriteEndObject();
        }
    }
}
