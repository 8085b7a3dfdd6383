using System.Text;
using System.Text.Json;
using OctoMesh.Edge.Wire;

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
        using var document = OpenAICompletionWriter.TryParse(gemini);
        if (document is null || document.RootElement.ValueKind != JsonValueKind.Object)
        {
            return false;
        }
        var root = document.RootElement;
        usage = root.TryGetProperty("usageMetadata", out var metadata) && metadata.ValueKind == JsonValueKind.Object ? Usage(metadata) : default;
        var text = new StringBuilder();
        var calls = new List<ToolCall>();
        var reason = "PROHIBITED_CONTENT";
        if (root.TryGetProperty("candidates", out var candidates) && candidates.ValueKind == JsonValueKind.Array && candidates.GetArrayLength() > 0)
        {
            var candidate = candidates[0];
            reason = candidate.TryGetProperty("finishReason", out var f) && f.ValueKind == JsonValueKind.String ? f.GetString()! : "STOP";
            if (candidate.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.Object
                && content.TryGetProperty("parts", out var parts) && parts.ValueKind == JsonValueKind.Array)
            {
                foreach (var part in parts.EnumerateArray())
                {
                    if (part.ValueKind != JsonValueKind.Object || part.TryGetProperty("thought", out var thought) && thought.ValueKind == JsonValueKind.True)
                    {
                        continue;
                    }
                    if (part.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String)
                    {
                        text.Append(t.GetString());
                    }
                    else if (part.TryGetProperty("functionCall", out var call) && call.ValueKind == JsonValueKind.Object
                        && call.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String)
                    {
                        calls.Add(new ToolCall($"call_{calls.Count}", name.GetString()!, call.TryGetProperty("args", out var args) ? args.GetRawText() : "{}"));
                    }
                }
            }
        }
        var id = root.TryGetProperty("responseId", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : "chatcmpl-gemini";
        var model = root.TryGetProperty("modelVersion", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : requestedModel;
        OpenAICompletionWriter.Write(writer, id, model, text.Length > 0 || calls.Count == 0 ? text.ToString() : null, calls,
            GeminiUsage.FinishReason(reason, calls.Count > 0), usage);
        return true;
    }

    private static TokenUsage Usage(JsonElement metadata)
    {
        int Read(string name) => metadata.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : 0;
        return GeminiUsage.ToOpenAI(Read("promptTokenCount"), Read("candidatesTokenCount"), Read("cachedContentTokenCount"), Read("thoughtsTokenCount"));
    }
}
