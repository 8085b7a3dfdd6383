using System.Text;
using System.Text.Json;
using OctoMesh.Edge.Proxy;

namespace OctoMesh.Edge.Providers.Gemini;

/// <summary>
/// A whole Gemini <c>GenerateContentResponse</c> as an OpenAI chat completion: text parts joined,
/// <c>functionCall</c> parts as <c>tool_calls</c> (ids <c>call_N</c>, Gemini has none), thought parts
/// left out, finish reason and usage mapped. A prompt Gemini blocked (no candidates) finishes with
/// <c>content_filter</c>.
/// </summary>
internal static class GeminiResponseWriter
{
    public static bool TryWrite(ReadOnlySpan<byte> gemini, string requestedModel, Utf8JsonWriter writer, out TokenUsage usage)
    {
        usage = default;
        var reader = new Utf8JsonReader(gemini);
        JsonDocument? document;
        try
        {
            if (!JsonDocument.TryParseValue(ref reader, out document))
            {
                return false;
            }
        }
        catch (JsonException)
        {
            return false;
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return false;
            }
            usage = root.TryGetProperty("usageMetadata", out var metadata) ? Usage(metadata) : default;
            var text = new StringBuilder();
            var calls = new List<(string Name, string Arguments)>();
            string? reason = null;
            if (root.TryGetProperty("candidates", out var candidates) && candidates.ValueKind == JsonValueKind.Array && candidates.GetArrayLength() > 0)
            {
                var candidate = candidates[0];
                reason = candidate.TryGetProperty("finishReason", out var f) ? f.GetString() : null;
                if (candidate.TryGetProperty("content", out var content) && content.TryGetProperty("parts", out var parts))
                {
                    foreach (var part in parts.EnumerateArray())
                    {
                        if (part.TryGetProperty("thought", out var thought) && thought.ValueKind == JsonValueKind.True)
                        {
                            continue;
                        }
                        if (part.TryGetProperty("text", out var t))
                        {
                            text.Append(t.GetString());
                        }
                        else if (part.TryGetProperty("functionCall", out var call))
                        {
                            calls.Add((call.GetProperty("name").GetString()!, call.TryGetProperty("args", out var args) ? args.GetRawText() : "{}"));
                        }
                    }
                }
            }
            else
            {
                reason = "PROHIBITED_CONTENT";
            }

            writer.WriteStartObject();
            writer.WriteString("id", root.TryGetProperty("responseId", out var id) ? id.GetString() : "chatcmpl-gemini");
            writer.WriteString("object", "chat.completion");
            writer.WriteNumber("created", DateTimeOffset.UtcNow.ToUnixTimeSeconds());
            writer.WriteString("model", root.TryGetProperty("modelVersion", out var model) ? model.GetString() : requestedModel);
            writer.WriteStartArray("choices");
            writer.WriteStartObject();
            writer.WriteNumber("index", 0);
            writer.WriteStartObject("message");
            writer.WriteString("role", "assistant");
            if (text.Length > 0 || calls.Count == 0)
            {
                writer.WriteString("content", text.ToString());
            }
            else
            {
                writer.WriteNull("content");
            }
            writer.WriteNull("refusal");
            if (calls.Count > 0)
            {
                writer.WriteStartArray("tool_calls");
                for (var i = 0; i < calls.Count; i++)
                {
                    writer.WriteStartObject();
                    writer.WriteString("id", $"call_{i}");
                    writer.WriteString("type", "function");
                    writer.WriteStartObject("function");
                    writer.WriteString("name", calls[i].Name);
                    writer.WriteString("arguments", calls[i].Arguments);
                    writer.WriteEndObject();
                    writer.WriteEndObject();
                }
                writer.WriteEndArray();
            }
            writer.WriteStartArray("annotations");
            writer.WriteEndArray();
            writer.WriteEndObject();
            writer.WriteNull("logprobs");
            writer.WriteString("finish_reason", GeminiUsage.FinishReason(reason, calls.Count > 0));
            writer.WriteEndObject();
            writer.WriteEndArray();
            writer.WritePropertyName("usage");
            writer.WriteRawValue(OpenAIUsageJson.Serialize(usage), skipInputValidation: true);
            writer.WriteEndObject();
        }
        return true;
    }

    private static TokenUsage Usage(JsonElement metadata)
    {
        int Read(string name) => metadata.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : 0;
        return GeminiUsage.ToOpenAI(Read("promptTokenCount"), Read("candidatesTokenCount"), Read("cachedContentTokenCount"), Read("thoughtsTokenCount"));
    }
}
