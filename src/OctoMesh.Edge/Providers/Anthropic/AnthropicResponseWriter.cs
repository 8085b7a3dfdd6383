using System.Text;
using System.Text.Json;
using OctoMesh.Edge.Proxy;

namespace OctoMesh.Edge.Providers.Anthropic;

/// <summary>
/// A whole Anthropic message (Anthropic API reference, "Messages" › response) as an OpenAI chat
/// completion: text blocks joined into <c>content</c>, <c>tool_use</c> blocks as <c>tool_calls</c>
/// (input re-serialised as the arguments string), <c>stop_reason</c> mapped, usage in OpenAI's terms.
/// Thinking blocks are not part of OpenAI's message and are left out.
/// </summary>
internal static class AnthropicResponseWriter
{
    public static bool TryWrite(ReadOnlySpan<byte> anthropic, Utf8JsonWriter writer, out TokenUsage usage)
    {
        usage = default;
        JsonDocument document;
        try
        {
            var reader = new Utf8JsonReader(anthropic);
            if (!JsonDocument.TryParseValue(ref reader, out var parsed))
            {
                return false;
            }
            document = parsed;
        }
        catch (JsonException)
        {
            return false;
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.Array)
            {
                return false;
            }
            var text = new StringBuilder();
            var hasText = false;
            var tools = new List<JsonElement>();
            foreach (var block in content.EnumerateArray())
            {
                var type = block.TryGetProperty("type", out var t) ? t.GetString() : null;
                if (type == "text")
                {
                    text.Append(block.GetProperty("text").GetString());
                    hasText = true;
                }
                else if (type == "tool_use")
                {
                    tools.Add(block);
                }
            }
            usage = root.TryGetProperty("usage", out var u) ? Usage(u) : default;
            var stopReason = root.TryGetProperty("stop_reason", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString()! : "end_turn";

            writer.WriteStartObject();
            writer.WriteString("id", root.TryGetProperty("id", out var id) ? id.GetString() : "");
            writer.WriteString("object", "chat.completion");
            writer.WriteNumber("created", DateTimeOffset.UtcNow.ToUnixTimeSeconds());
            writer.WriteString("model", root.TryGetProperty("model", out var model) ? model.GetString() : "");
            writer.WriteStartArray("choices");
            writer.WriteStartObject();
            writer.WriteNumber("index", 0);
            writer.WriteStartObject("message");
            writer.WriteString("role", "assistant");
            if (hasText || tools.Count == 0)
            {
                writer.WriteString("content", text.ToString());
            }
            else
            {
                writer.WriteNull("content");
            }
            writer.WriteNull("refusal");
            if (tools.Count > 0)
            {
                writer.WriteStartArray("tool_calls");
                foreach (var tool in tools)
                {
                    writer.WriteStartObject();
                    writer.WriteString("id", tool.GetProperty("id").GetString());
                    writer.WriteString("type", "function");
                    writer.WriteStartObject("function");
                    writer.WriteString("name", tool.GetProperty("name").GetString());
                    writer.WriteString("arguments", tool.TryGetProperty("input", out var input) ? input.GetRawText() : "{}");
                    writer.WriteEndObject();
                    writer.WriteEndObject();
                }
                writer.WriteEndArray();
            }
            writer.WriteStartArray("annotations");
            writer.WriteEndArray();
            writer.WriteEndObject();
            writer.WriteNull("logprobs");
            writer.WriteString("finish_reason", AnthropicUsage.FinishReason(Encoding.UTF8.GetBytes(stopReason)));
            writer.WriteEndObject();
            writer.WriteEndArray();
            writer.WritePropertyName("usage");
            writer.WriteRawValue(OpenAIUsageJson.Serialize(usage), skipInputValidation: true);
            writer.WriteEndObject();
        }
        return true;
    }

    private static TokenUsage Usage(JsonElement usage)
    {
        int Read(string name) => usage.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : 0;
        return AnthropicUsage.ToOpenAI(Read("input_tokens"), Read("cache_creation_input_tokens"), Read("cache_read_input_tokens"), Read("output_tokens"));
    }
}
