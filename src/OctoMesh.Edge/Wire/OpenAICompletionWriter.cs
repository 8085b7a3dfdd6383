using System.Text.Json;

namespace OctoMesh.Edge.Wire;

/// <summary>A tool call in OpenAI's terms: id, function name and its arguments as JSON text.</summary>
internal readonly record struct ToolCall(string Id, string Name, string Arguments);

/// <summary>
/// Writes an OpenAI chat completion (API reference, "The chat completion object") from a translated
/// answer, field for field as OpenAI orders them; <c>content</c> is null when the turn is only tool calls.
/// </summary>
internal static class OpenAICompletionWriter
{
    public static void Write(Utf8JsonWriter writer, string? id, string? model, string? content, IReadOnlyList<ToolCall> toolCalls,
        string finishReason, TokenUsage usage)
    {
        writer.WriteStartObject();
        writer.WriteString("id", id ?? "");
        writer.WriteString("object", "chat.completion");
        writer.WriteNumber("created", DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        writer.WriteString("model", model ?? "");
        writer.WriteStartArray("choices");
        writer.WriteStartObject();
        writer.WriteNumber("index", 0);
        writer.WriteStartObject("message");
        writer.WriteString("role", "assistant");
        if (content is null)
        {
            writer.WriteNull("content");
        }
        else
        {
            writer.WriteString("content", content);
        }
        writer.WriteNull("refusal");
        if (toolCalls.Count > 0)
        {
            writer.WriteStartArray("tool_calls");
            foreach (var call in toolCalls)
            {
                writer.WriteStartObject();
                writer.WriteString("id", call.Id);
                writer.WriteString("type", "function");
                writer.WriteStartObject("function");
                writer.WriteString("name", call.Name);
                writer.WriteString("arguments", call.Arguments);
                writer.WriteEndObject();
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
        }
        writer.WriteStartArray("annotations");
        writer.WriteEndArray();
        writer.WriteEndObject();
        writer.WriteNull("logprobs");
        writer.WriteString("finish_reason", finishReason);
        writer.WriteEndObject();
        writer.WriteEndArray();
        writer.WritePropertyName("usage");
        writer.WriteRawValue(OpenAIUsageJson.Serialize(usage), skipInputValidation: true);
        writer.WriteEndObject();
    }

    /// <summary>Parses a whole JSON answer; null when it is not JSON.</summary>
    public static JsonDocument? TryParse(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            return JsonDocument.TryParseValue(ref reader, out var document) ? document : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
