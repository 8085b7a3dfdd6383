using OctoMesh.Edge.Wire;

namespace OctoMesh.Edge.Wire;

/// <summary>
/// Anthropic's usage and stop reasons in OpenAI's terms. Anthropic reports cache reads and writes
/// apart from <c>input_tokens</c>; OpenAI counts cached tokens inside <c>prompt_tokens</c>, so the
/// prompt is the sum of the three (Anthropic API reference, "Messages" › usage; prompt caching guide).
/// </summary>
internal static class AnthropicUsage
{
    public static TokenUsage ToOpenAI(int input, int cacheWrite, int cacheRead, int output)
    {
        var prompt = input + cacheWrite + cacheRead;
        return new TokenUsage(prompt, output, prompt + output, cacheRead, 0, cacheWrite);
    }

    /// <summary><c>stop_reason</c> → <c>finish_reason</c>.</summary>
    public static string FinishReason(ReadOnlySpan<byte> stopReason) => stopReason switch
    {
        _ when stopReason.SequenceEqual("max_tokens"u8) => "length",
        _ when stopReason.SequenceEqual("tool_use"u8) => "tool_calls",
        _ when stopReason.SequenceEqual("refusal"u8) => "content_filter",
        _ => "stop", // end_turn, stop_sequence, pause_turn
    };

    /// <summary>An Anthropic error type and status as the OpenAI error a client expects (status, type, code).</summary>
    public static (int Status, string Type, string? Code) ToOpenAIError(int status, string? anthropicType) => anthropicType switch
    {
        "invalid_request_error" or "not_found_error" => (status, "invalid_request_error", null),
        "authentication_error" => (status, "invalid_request_error", "invalid_api_key"),
        "permission_error" => (status, "invalid_request_error", "permission_denied"),
        "request_too_large" => (413, "invalid_request_error", "request_too_large"),
        "rate_limit_error" => (429, "requests", "rate_limit_exceeded"),
        // 529 is Anthropic's own "overloaded"; OpenAI clients know 503 for that.
        "overloaded_error" => (503, "server_error", "overloaded"),
        _ => (status >= 500 ? status : 502, "server_error", null),
    };
}
