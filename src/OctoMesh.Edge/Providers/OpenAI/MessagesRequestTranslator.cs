using System.Text;
using System.Text.Json;

namespace OctoMesh.Edge.Providers.OpenAI;

/// <summary>
/// Writes an Anthropic Messages request as an OpenAI chat request, for Anthropic clients served by an
/// OpenAI-format provider:
/// <list type="bullet">
/// <item><c>system</c> → a leading system message;</item>
/// <item>text and image blocks → content parts (base64 images as data URLs);</item>
/// <item><c>tool_use</c> blocks → the assistant's <c>tool_calls</c> (input serialised as arguments);
/// <c>tool_result</c> blocks → <c>tool</c> messages, placed before the rest of their user turn as OpenAI requires;</item>
/// <item><c>stop_sequences</c> → <c>stop</c>, <c>metadata.user_id</c> → <c>user</c>, tools and <c>tool_choice</c>
/// (<c>any</c> → <c>required</c>), <c>disable_parallel_tool_use</c> → <c>parallel_tool_calls: false</c>.</item>
/// </list>
/// <c>top_k</c> has no OpenAI equivalent and is dropped; extended <c>thinking</c> is refused.
/// </summary>
internal static class MessagesRequestTranslator
{
    /// <param name="askForUsage">Streams ask for the usage chunk (<c>stream_options.include_usage</c>), which carries the counts Anthropic's <c>message_delta</c> reports.</param>
    public static string? Write(JsonElement request, bool askForUsage, Utf8JsonWriter writer)
    {
        if (request.TryGetProperty("thinking", out var thinking) && thinking.ValueKind == JsonValueKind.Object)
        {
            return "Extended thinking is only available from Anthropic providers: remove 'thinking' or route this model to an Anthropic provider.";
        }

        writer.WriteStartObject();
        writer.WriteString("model", request.GetProperty("model").GetString());
        writer.WriteStartArray("messages");
        if (request.TryGetProperty("system", out var system))
        {
            writer.WriteStartObject();
            writer.WriteString("role", "system");
            writer.WriteString("content", TextOf(system));
            writer.WriteEndObject();
        }
        var index = 0;
        foreach (var message in request.GetProperty("messages").EnumerateArray())
        {
            var error = WriteMessage(message, index++, writer);
            if (error is not null)
            {
                return error;
            }
        }
        writer.WriteEndArray();

        writer.WriteNumber("max_tokens", request.GetProperty("max_tokens").GetInt32());
        if (request.TryGetProperty("stop_sequences", out var stop) && stop.ValueKind == JsonValueKind.Array)
        {
            writer.WritePropertyName("stop");
            stop.WriteTo(writer);
        }
        foreach (var name in (ReadOnlySpan<string>)["temperature", "top_p"])
        {
            if (request.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number)
            {
                writer.WriteNumber(name, value.GetDouble());
            }
        }
        if (request.TryGetProperty("stream", out var stream) && stream.ValueKind == JsonValueKind.True)
        {
            writer.WriteBoolean("stream", true);
            if (askForUsage)
            {
                writer.WriteStartObject("stream_options");
                writer.WriteBoolean("include_usage", true);
                writer.WriteEndObject();
            }
        }
        if (request.TryGetProperty("metadata", out var metadata) && metadata.ValueKind == JsonValueKind.Object
            && metadata.TryGetProperty("user_id", out var user) && user.ValueKind == JsonValueKind.String)
        {
            writer.WriteString("user", user.GetString());
        }
        WriteTools(request, writer);
        writer.WriteEndObject();
        return null;
    }

    private static string? WriteMessage(JsonElement message, int index, Utf8JsonWriter writer)
    {
        var role = message.TryGetProperty("role", out var r) ? r.GetString() : null;
        if (role is not ("user" or "assistant"))
        {
            return $"messages.{index}.role: must be 'user' or 'assistant'.";
        }
        var content = message.GetProperty("content");
        if (content.ValueKind == JsonValueKind.String)
        {
            writer.WriteStartObject();
            writer.WriteString("role", role);
            writer.WriteString("content", content.GetString());
            writer.WriteEndObject();
            return null;
        }
        if (content.ValueKind != JsonValueKind.Array)
        {
            return $"messages.{index}.content: expected a string or an array of content blocks.";
        }
        return role == "assistant" ? WriteAssistant(content, writer) : WriteUser(content, index, writer);
    }

    private static string? WriteAssistant(JsonElement blocks, Utf8JsonWriter writer)
    {
        var text = new StringBuilder();
        var calls = new List<JsonElement>();
        foreach (var block in blocks.EnumerateArray())
        {
            switch (block.TryGetProperty("type", out var t) ? t.GetString() : null)
            {
                case "text": text.Append(block.GetProperty("text").GetString()); break;
                case "tool_use": calls.Add(block); break;
                // thinking and redacted_thinking blocks have no OpenAI equivalent.
            }
        }
        writer.WriteStartObject();
        writer.WriteString("role", "assistant");
        if (text.Length > 0 || calls.Count == 0)
        {
            writer.WriteString("content", text.ToString());
        }
        else
        {
            writer.WriteNull("content");
        }
        if (calls.Count > 0)
        {
            writer.WriteStartArray("tool_calls");
            foreach (var call in calls)
            {
                writer.WriteStartObject();
                writer.WriteString("id", call.GetProperty("id").GetString());
                writer.WriteString("type", "function");
                writer.WriteStartObject("function");
                writer.WriteString("name", call.GetProperty("name").GetString());
                writer.WriteString("arguments", call.TryGetProperty("input", out var input) ? input.GetRawText() : "{}");
                writer.WriteEndObject();
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
        }
        writer.WriteEndObject();
        return null;
    }

    private static string? WriteUser(JsonElement blocks, int index, Utf8JsonWriter writer)
    {
        // Tool results first: OpenAI wants them right after the assistant turn that called the tools.
        foreach (var block in blocks.EnumerateArray())
        {
            if (block.TryGetProperty("type", out var t) && t.ValueEquals("tool_result"))
            {
                writer.WriteStartObject();
                writer.WriteString("role", "tool");
                writer.WriteString("tool_call_id", block.GetProperty("tool_use_id").GetString());
                var result = block.TryGetProperty("content", out var c) ? TextOf(c) : "";
                var isError = block.TryGetProperty("is_error", out var e) && e.ValueKind == JsonValueKind.True;
                writer.WriteString("content", isError ? "Error: " + result : result);
                writer.WriteEndObject();
            }
        }
        var parts = blocks.EnumerateArray().Where(b => !(b.TryGetProperty("type", out var t) && t.ValueEquals("tool_result"))).ToList();
        if (parts.Count == 0)
        {
            return null;
        }
        writer.WriteStartObject();
        writer.WriteString("role", "user");
        writer.WriteStartArray("content");
        foreach (var part in parts)
        {
            var type = part.TryGetProperty("type", out var t) ? t.GetString() : null;
            writer.WriteStartObject();
            if (type == "text")
            {
                writer.WriteString("type", "text");
                writer.WriteString("text", part.GetProperty("text").GetString());
            }
            else if (type == "image" && part.TryGetProperty("source", out var source))
            {
                writer.WriteString("type", "image_url");
                writer.WriteStartObject("image_url");
                writer.WriteString("url", source.TryGetProperty("url", out var url)
                    ? url.GetString()
                    : $"data:{source.GetProperty("media_type").GetString()};base64,{source.GetProperty("data").GetString()}");
                writer.WriteEndObject();
            }
            else
            {
                return $"messages.{index}.content: '{type}' blocks can only be sent to Anthropic providers.";
            }
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
        return null;
    }

    /// <summary>A system prompt or tool result as text: a string, or its text blocks joined.</summary>
    private static string TextOf(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString()!,
        JsonValueKind.Array => string.Concat(value.EnumerateArray()
            .Where(b => b.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String)
            .Select(b => b.GetProperty("text").GetString())),
        _ => "",
    };

    private static void WriteTools(JsonElement request, Utf8JsonWriter writer)
    {
        if (!request.TryGetProperty("tools", out var tools) || tools.ValueKind != JsonValueKind.Array || tools.GetArrayLength() == 0)
        {
            return;
        }
        writer.WriteStartArray("tools");
        foreach (var tool in tools.EnumerateArray())
        {
            writer.WriteStartObject();
            writer.WriteString("type", "function");
            writer.WriteStartObject("function");
            writer.WriteString("name", tool.GetProperty("name").GetString());
            if (tool.TryGetProperty("description", out var description))
            {
                writer.WriteString("description", description.GetString());
            }
            if (tool.TryGetProperty("input_schema", out var schema))
            {
                writer.WritePropertyName("parameters");
                schema.WriteTo(writer);
            }
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        writer.WriteEndArray();

        if (request.TryGetProperty("tool_choice", out var choice) && choice.ValueKind == JsonValueKind.Object)
        {
            var type = choice.TryGetProperty("type", out var t) ? t.GetString() : "auto";
            writer.WritePropertyName("tool_choice");
            switch (type)
            {
                case "tool":
                    writer.WriteStartObject();
                    writer.WriteString("type", "function");
                    writer.WriteStartObject("function");
                    writer.WriteString("name", choice.GetProperty("name").GetString());
                    writer.WriteEndObject();
                    writer.WriteEndObject();
                    break;
                default:
                    writer.WriteStringValue(type switch { "any" => "required", "none" => "none", _ => "auto" });
                    break;
            }
            if (choice.TryGetProperty("disable_parallel_tool_use", out var disable) && disable.ValueKind == JsonValueKind.True)
            {
                writer.WriteBoolean("parallel_tool_calls", false);
            }
        }
    }
}
