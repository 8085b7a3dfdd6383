using OctoMesh.Edge.Wire;

namespace OctoMesh.Edge.Providers.Gemini;

/// <summary>
/// Gemini's <c>usageMetadata</c>, finish reasons and errors in OpenAI's terms. Gemini reports thinking
/// apart (<c>thoughtsTokenCount</c>); OpenAI counts reasoning inside <c>completion_tokens</c>. Cached
/// tokens (<c>cachedContentTokenCount</c>) are part of <c>promptTokenCount</c>, as in OpenAI.
/// </summary>
internal static class GeminiUsage
{
    public static TokenUsage ToOpenAI(int prompt, int candidates, int cached, int thoughts) =>
        new(prompt, candidates + thoughts, prompt + candidates + thoughts, cached, thoughts);

    /// <summary><c>finishReason</c> → <c>finish_reason</c>; a turn that called functions finishes with <c>tool_calls</c>.</summary>
    public static string FinishReason(string? reason, bool calledTools) => reason switch
    {
        "MAX_TOKENS" => "length",
        "SAFETY" or "RECITATION" or "BLOCKLIST" or "PROHIBITED_CONTENT" or "SPII" or "IMAGE_SAFETY" => "content_filter",
        _ => calledTools ? "tool_calls" : "stop",
    };

    /// <summary>A Gemini error status as OpenAI's error type and code.</summary>
    public static (string Type, string? Code) ToOpenAIError(int status) => status switch
    {
        401 => ("invalid_request_error", "invalid_api_key"),
        403 => ("invalid_request_error", "permission_denied"),
        429 => ("requests", "rate_limit_exceeded"),
        503 => ("server_error", "overloaded"),
        >= 500 => ("server_error", null),
        _ => ("invalid_request_error", null),
    };
}
