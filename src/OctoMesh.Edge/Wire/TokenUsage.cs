namespace OctoMesh.Edge.Wire;

/// <summary>Token counts as the upstream reported them, in OpenAI's terms (its <c>usage</c> object).</summary>
/// <param name="CachedTokens"><c>prompt_tokens_details.cached_tokens</c>: part of <paramref name="PromptTokens"/>.</param>
/// <param name="ReasoningTokens"><c>completion_tokens_details.reasoning_tokens</c>: part of <paramref name="CompletionTokens"/>.</param>
/// <param name="CacheWriteTokens">Prompt tokens written to the provider's cache (Anthropic's <c>cache_creation_input_tokens</c>): part of <paramref name="PromptTokens"/>.</param>
internal readonly record struct TokenUsage(int PromptTokens, int CompletionTokens, int TotalTokens, int CachedTokens, int ReasoningTokens, int CacheWriteTokens = 0)
{
    /// <summary>More tokens than any model's context holds by far: a count above it is an upstream's mistake, not usage.</summary>
    public const int MostTokens = 100_000_000;

    /// <summary>
    /// Whether the counts can be real: none negative or past <see cref="MostTokens"/>, and the parts (cached and
    /// cache-write tokens of the prompt, reasoning tokens of the completion) no larger than their whole.
    /// </summary>
    public bool IsSane =>
        PromptTokens is >= 0 and <= MostTokens && CompletionTokens is >= 0 and <= MostTokens && TotalTokens is >= 0
        && CachedTokens >= 0 && CacheWriteTokens >= 0 && ReasoningTokens >= 0
        && (long)CachedTokens + CacheWriteTokens <= PromptTokens && ReasoningTokens <= CompletionTokens;
}
