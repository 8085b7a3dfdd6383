namespace OctoMesh.Edge.Proxy;

/// <summary>Token counts as the upstream reported them (OpenAI's <c>usage</c> object).</summary>
/// <param name="CachedTokens"><c>prompt_tokens_details.cached_tokens</c>: part of <paramref name="PromptTokens"/>.</param>
/// <param name="ReasoningTokens"><c>completion_tokens_details.reasoning_tokens</c>: part of <paramref name="CompletionTokens"/>.</param>
internal readonly record struct TokenUsage(int PromptTokens, int CompletionTokens, int TotalTokens, int CachedTokens, int ReasoningTokens);
