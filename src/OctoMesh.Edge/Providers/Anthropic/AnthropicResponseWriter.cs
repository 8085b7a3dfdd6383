using System.Text;
using System.Text.Json;
using OctoMesh.Edge.Wire;

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
        using var document = OpenAICompletionWriter.TryParse(anthropic);
        if (document is null || document.RootElement.ValueKind != JsonValueKind.Object
            || !document.RootElement.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.Array)
        {
            return false;
        }
        var root = document.RootElement;
        var text = new StringBuilder();
        var hasText = false;
        var calls = new List<ToolCall>();
        foreach (var block in content.EnumerateArray())
        {
            switch (String(block, "type"))
            {
                case "text":
                    text.Append(String(block, "text"));
                    hasText = true;
                    break;
                case "tool_use":
                    calls.Add(new ToolCall(String(block, "id") ?? "", String(block, "name") ?? "",
                        block.TryGetProperty("input", out var input) ? input.GetRawText() : "{}"));
                    break;
            }
        }
        usage = root.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object ? Usage(u) : default;
        var finish = AnthropicUsage.FinishReason(Encoding.UTF8.GetBytes(String(root, "stop_reason") ?? "end_turn"));
        OpenAICompletionWriter.Write(writer, String(root, "id"), String(root, "model"), hasText || calls.Count == 0 ? text.ToString() : null,
            calls, finish, usage);
        return true;
    }

    private static string? String(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static TokenUsage Usage(JsonElement usage)
    {
        int Read(string name) => usage.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : 0;
        return AnthropicUsage.ToOpenAI(Read("input_tokens"), Read("cache_creation_input_tokens"), Read("cache_read_input_tokens"), Read("output_tokens"));
    }
}
