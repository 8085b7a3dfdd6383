namespace OctoMesh.Routing.Pricing;

/// <summary>
/// List prices of well-known models, USD per 1M tokens, as the providers published them on
/// <see cref="AsOf"/> (standard tier; Gemini's for prompts up to 200k tokens; Anthropic's cache writes at the
/// 5-minute rate). Prices change: a <c>prices</c> entry in the configuration overrides any of these, and
/// docs/metering.md lists them. Patterns cover dated snapshots (<c>gpt-4o-2024-08-06</c>); the longest wins.
/// </summary>
public static class DefaultPrices
{
    public const string AsOf = "2025-10-15";

    public static IReadOnlyList<(string Pattern, ModelPrice Price)> All { get; } =
    [
        // OpenAI: cached input is read from the prompt cache; reasoning is billed as output.
        ("gpt-5*", ModelPrice.FromUsd(1.25m, 10m, cachedInput: 0.125m)),
        ("gpt-5-mini*", ModelPrice.FromUsd(0.25m, 2m, cachedInput: 0.025m)),
        ("gpt-5-nano*", ModelPrice.FromUsd(0.05m, 0.40m, cachedInput: 0.005m)),
        ("gpt-4.1*", ModelPrice.FromUsd(2m, 8m, cachedInput: 0.50m)),
        ("gpt-4.1-mini*", ModelPrice.FromUsd(0.40m, 1.60m, cachedInput: 0.10m)),
        ("gpt-4.1-nano*", ModelPrice.FromUsd(0.10m, 0.40m, cachedInput: 0.025m)),
        ("gpt-4o*", ModelPrice.FromUsd(2.50m, 10m, cachedInput: 1.25m)),
        ("gpt-4o-mini*", ModelPrice.FromUsd(0.15m, 0.60m, cachedInput: 0.075m)),
        ("o3*", ModelPrice.FromUsd(2m, 8m, cachedInput: 0.50m)),
        ("o3-mini*", ModelPrice.FromUsd(1.10m, 4.40m, cachedInput: 0.55m)),
        ("o4-mini*", ModelPrice.FromUsd(1.10m, 4.40m, cachedInput: 0.275m)),
        ("text-embedding-3-small", ModelPrice.FromUsd(0.02m, 0m)),
        ("text-embedding-3-large", ModelPrice.FromUsd(0.13m, 0m)),
        // Anthropic: cache reads at 10% of input, 5-minute cache writes at 125%.
        ("claude-opus-4*", ModelPrice.FromUsd(15m, 75m, cachedInput: 1.50m, cacheWrite: 18.75m)),
        ("claude-sonnet-4*", ModelPrice.FromUsd(3m, 15m, cachedInput: 0.30m, cacheWrite: 3.75m)),
        ("claude-3-7-sonnet*", ModelPrice.FromUsd(3m, 15m, cachedInput: 0.30m, cacheWrite: 3.75m)),
        ("claude-haiku-4*", ModelPrice.FromUsd(1m, 5m, cachedInput: 0.10m, cacheWrite: 1.25m)),
        ("claude-3-5-haiku*", ModelPrice.FromUsd(0.80m, 4m, cachedInput: 0.08m, cacheWrite: 1m)),
        // Google Gemini: thoughts are billed as output.
        ("gemini-2.5-pro*", ModelPrice.FromUsd(1.25m, 10m, cachedInput: 0.31m)),
        ("gemini-2.5-flash*", ModelPrice.FromUsd(0.30m, 2.50m, cachedInput: 0.075m)),
        ("gemini-2.5-flash-lite*", ModelPrice.FromUsd(0.10m, 0.40m, cachedInput: 0.025m)),
        // The built-in simulator's own list, so its traffic is metered like any other.
        ("sim-nano", ModelPrice.FromUsd(0.05m, 0.20m, cachedInput: 0.0125m)),
        ("sim-small", ModelPrice.FromUsd(0.10m, 0.40m, cachedInput: 0.025m)),
        ("sim-fast", ModelPrice.FromUsd(0.30m, 1.20m, cachedInput: 0.075m)),
        ("sim-medium", ModelPrice.FromUsd(1m, 4m, cachedInput: 0.25m)),
        ("sim-pro", ModelPrice.FromUsd(3m, 12m, cachedInput: 0.75m)),
        ("sim-large", ModelPrice.FromUsd(10m, 40m, cachedInput: 2.50m, cacheWrite: 12.50m)),
    ];
}
