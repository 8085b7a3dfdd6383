using System.Text;
using System.Text.Json;
using OctoMesh.Edge.Wire;

namespace OctoMesh.Edge.Providers.OpenAI;

/// <summary>
/// An OpenAI chat completion as an Anthropic message, for Anthropic clients served by an
/// OpenAI-format provider: content as a text block, <c>tool_calls</c> as <c>tool_use</c> blocks,
/// <c>finish_reason</c> → <c>stop_reason</c>, and usage in Anthropic's terms (cached tokens reported
/// apart from <c>input_tokens</c>).
/// </summary>
internal static class MessagesResponseWriter
{
    public static string StopReason(string? finishReason) => finishReason switch
    {
        "length" => "max_tokens",
        "tool_calls" or "function_call" => "tool_use",
        "content_filter" => "refusal",
        _ => "end_turn",
    };

    public static void WriteUsage(Utf8JsonWriter writer, TokenUsage usage)
    {
        writer.WriteStartObject("usage");
        writer.WriteNumber("input_tokens", usage.PromptTokens - usage.CachedTokens - usage.CacheWriteTokens);
        writer.WriteNumber("cache_creation_input_tokens", usage.CacheWriteTokens);
        writer.WriteNumber("cache_read_input_tokens", usage.CachedTokens);
        writer.WriteNumber("output_tokens", usage.CompletionTokens);
        writer.WriteEndObject();
    }

    public static bool TryWrite(ReadOnlySpan<byte> openAI, Utf8JsonWriter writer, out TokenUsage usage)
    {
        usage = default;
        using var document = OpenAICompletionWriter.TryParse(openAI);
        if (document is null)
        {
            return false;
        }
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array
            || choices.GetArrayLength() == 0 || !choices[0].TryGetProperty("message", out var message) || message.ValueKind != JsonValueKind.Object)
        {
            return false;
        }
        UsageReader.TryRead(openAI, out usage, out _);
        var choice = choices[0];
        var text = message.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString()! : "";
        var calls = message.TryGetProperty("tool_calls", out var tc) && tc.ValueKind == JsonValueKind.Array ? tc : default;

        writer.WriteStartObject();
        writer.WriteString("id", root.TryGetProperty("id", out var id) ? id.GetString() : "");
        writer.WriteString("type", "message");
        writer.WriteString("role", "assistant");
        writer.WriteString("model", root.TryGetProperty("model", out var model) ? model.GetString() : "");
        writer.WriteStartArray("content");
        if (text.Length > 0 || calls.ValueKind != JsonValueKind.Array)
        {
            writer.WriteStartObject();
            writer.WriteString("type", "text");
            writer.WriteString("text", text);
            writer.WriteEndObject();
        }
        if (calls.ValueKind == JsonValueKind.Array)
        {
            foreach (var call in calls.EnumerateArray())
            {
                var function = call.GetProperty("function");
                writer.WriteStartObject();
                writer.WriteString("type", "tool_use");
                writer.WriteString("id", call.GetProperty("id").GetString());
                writer.WriteString("name", function.GetProperty("name").GetString());
                writer.WritePropertyName("input");
                WriteInput(writer, function.TryGetProperty("arguments", out var a) ? a.GetString() : null);
                writer.WriteEndObject();
            }
        }
        writer.WriteEndArray();
        writer.WriteString("stop_reason", StopReason(choice.TryGetProperty("finish_reason", out var f) ? f.GetString() : null));
        writer.WriteNull("stop_sequence");
        WriteUsage(writer, usage);
        writer.WriteEndObject();
        return true;
    }

    /// <summary>Tool arguments as an object; a model that produced no valid JSON gets an empty one.</summary>
    private static void WriteInput(Utf8JsonWriter writer, string? arguments)
    {
        try
        {
            using var parsed = JsonDocument.Parse(string.IsNullOrEmpty(arguments) ? "{}" : arguments);
            if (parsed.RootElement.ValueKind == JsonValueKind.Object)
            {
                parsed.RootElement.WriteTo(writer);
                return;
            }
        }
        catch (JsonException)
        {
        }
        writer.WriteStartObject();
        writer.WriteEndObject();
    }
}
