namespace OctoMesh.Routing.Pricing;

/// <summary>
/// What a model's tokens cost, in micro-dollars per million tokens (so USD 0.075 per 1M is 75,000):
/// integers, so that costs add up exactly.
/// </summary>
/// <param name="Input">Prompt tokens neither read from nor written to the provider's cache.</param>
/// <param name="Output">Completion tokens other than reasoning.</param>
/// <param name="CachedInput">Prompt tokens read from the provider's cache.</param>
/// <param name="CacheWrite">Prompt tokens written to the provider's cache (Anthropic bills them above input).</param>
/// <param name="Reasoning">Reasoning (thinking) tokens; every well-known provider bills them as output.</param>
public readonly record struct ModelPrice(long Input, long Output, long CachedInput, long CacheWrite, long Reasoning)
{
    /// <summary>Micro-dollars per million tokens in one USD per million tokens.</summary>
    public const long MicrosPerUsd = 1_000_000;

    /// <summary>A price from USD per 1M tokens; cached input and cache writes default to the input price, reasoning to the output price.</summary>
    public static ModelPrice FromUsd(decimal input, decimal output, decimal? cachedInput = null, decimal? cacheWrite = null, decimal? reasoning = null) => new(
        Micros(input), Micros(output), Micros(cachedInput ?? input), Micros(cacheWrite ?? input), Micros(reasoning ?? output));

    private static long Micros(decimal usdPerMillion) => decimal.ToInt64(usdPerMillion * MicrosPerUsd);

    /// <summary>
    /// The cost in micro-dollars of one exchange, from usage in OpenAI's terms (the gateway's common form, to which each
    /// adapter brings its provider's report): <paramref name="cached"/> and <paramref name="cacheWrite"/> are part of
    /// <paramref name="prompt"/>, <paramref name="reasoning"/> part of <paramref name="completion"/>. Each part is billed at
    /// its own price, the sum rounded once to the nearest micro-dollar (half up).
    /// </summary>
    public long Cost(long prompt, long completion, long cached, long cacheWrite, long reasoning)
    {
        // Reports that do not add up (a provider counting cached tokens apart) must not bill negative tokens.
        var uncached = Math.Max(0, prompt - cached - cacheWrite);
        var visibleOutput = Math.Max(0, completion - reasoning);
        var picos = (Int128)uncached * Input + (Int128)cached * CachedInput + (Int128)cacheWrite * CacheWrite
            + (Int128)visibleOutput * Output + (Int128)reasoning * Reasoning;
        return (long)((picos + MicrosPerUsd / 2) / MicrosPerUsd);
    }
}
