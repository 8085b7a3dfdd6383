namespace OctoMesh.Edge.Wire;

/// <summary>Token counts as the upstream reported them, in OpenAI's terms (its <c>usage</c> object).</summary>
/// <param name="CachedTokens"><c>prompt_tokens_details.cached_tokens</c>: part of <paramref name="PromptTokens"/>.</param>
/// <param name="ReasoningTokens"><c>completion_tokens_details.reasoning_tokens</c>: part of <paramref name="CompletionTokens"/>.</param>
/// <param name="CacheWriteTokens">Prompt tokens written to the provider's cache (Anthropic's <c>cache_creation_input_tokens</c>): part of <paramref name="PromptTokens"/>.</param>
internal readonly record struct TokenUsage(int PromptTokens, int CompletionTokens, int TotalTokens, int CachedTokens, int ReasoningTokens, int CacheWriteTokens = 0);
