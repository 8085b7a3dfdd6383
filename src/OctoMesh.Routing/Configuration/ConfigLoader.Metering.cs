using System.Collections.Immutable;
using System.Text.Json;
using OctoMesh.Routing.Pricing;

namespace OctoMesh.Routing.Configuration;

public static partial class ConfigLoader
{
    /// <summary>The <c>prices</c> and <c>metrics</c> sections.</summary>
    private sealed partial class ConfigReader
    {
        private static readonly string[] s_priceFields = ["input", "output", "cachedInput", "cacheWrite", "reasoning"];
        private static readonly string[] s_metricsFields = ["workspaceLabel", "maxSeries"];

        /// <summary>Largest price accepted, USD per 1M tokens: far above any model's, low enough that no cost overflows.</summary>
        private const decimal MaxUsdPerMillion = 10_000m;

        private ImmutableArray<(string Pattern, ModelPrice Price)> ReadPrices(JsonElement element, string path)
        {
            if (!ExpectObject(element, path, "write prices as { \"model\": { \"input\": 0.15, \"output\": 0.6 } } in USD per 1M tokens"))
            {
                return [];
            }
            var prices = ImmutableArray.CreateBuilder<(string, ModelPrice)>();
            foreach (var (pattern, value) in Fields(element, path, known: null))
            {
                var here = $"{path}['{pattern}']";
                if (!IsModelPattern(pattern))
                {
                    Error(here, $"'{pattern}' is not a model name or pattern", "write the name the provider bills, a prefix ending in '*' such as 'gpt-4o*', or '*' alone");
                    continue;
                }
                if (!ExpectObject(value, here, "write { \"input\": 0.15, \"output\": 0.6 } in USD per 1M tokens"))
                {
                    continue;
                }
                var fields = Fields(value, here, s_priceFields);
                var errorsBefore = _errors.Count;
                decimal? Price(string name, bool required)
                {
                    if (!fields.TryGetValue(name, out var field))
                    {
                        if (required)
                        {
                            Error($"{here}.{name}", "missing", $"write the {name} price in USD per 1M tokens, e.g. 0.15");
                        }
                        return null;
                    }
                    if (field.ValueKind == JsonValueKind.Number && field.TryGetDecimal(out var usd) && usd >= 0 && usd <= MaxUsdPerMillion
                        && usd * ModelPrice.MicrosPerUsd == decimal.Truncate(usd * ModelPrice.MicrosPerUsd))
                    {
                        return usd;
                    }
                    Error($"{here}.{name}", $"{Describe(field)} is not a price", $"write USD per 1M tokens from 0 to {MaxUsdPerMillion} with at most six decimals, e.g. 0.075");
                    return null;
                }
                var input = Price("input", required: true);
                var output = Price("output", required: true);
                var price = ModelPrice.FromUsd(input ?? 0, output ?? 0, Price("cachedInput", false), Price("cacheWrite", false), Price("reasoning", false));
                if (_errors.Count == errorsBefore)
                {
                    prices.Add((pattern, price));
                }
            }
            return prices.ToImmutable();
        }

        private MetricsConfig ReadMetrics(JsonElement element, string path)
        {
            if (!ExpectObject(element, path, "write { \"workspaceLabel\": true, \"maxSeries\": 2000 }"))
            {
                return new MetricsConfig();
            }
            var fields = Fields(element, path, s_metricsFields);
            var metrics = new MetricsConfig();
            if (fields.TryGetValue("workspaceLabel", out var label))
            {
                if (label.ValueKind is JsonValueKind.True or JsonValueKind.False)
                {
                    metrics = metrics with { WorkspaceLabel = label.GetBoolean() };
                }
                else
                {
                    Error($"{path}.workspaceLabel", $"expected true or false, got {Describe(label)}", "write true to label requests and cost by workspace");
                }
            }
            if (fields.TryGetValue("maxSeries", out var max) && Integer(max, $"{path}.maxSeries", 10, 1_000_000, "a whole number of series per metric from 10 to 1000000") is { } series)
            {
                metrics = metrics with { MaxSeries = (int)series };
            }
            return metrics;
        }
    }
}
