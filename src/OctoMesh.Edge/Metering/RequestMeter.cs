using OctoMesh.Edge.Proxy;
using OctoMesh.Edge.Telemetry;
using OctoMesh.Routing.Pricing;

namespace OctoMesh.Edge.Metering;

/// <summary>Accounts a finished request: its cost from the price table, then metrics.</summary>
internal sealed class RequestMeter(GatewayMetrics metrics)
{
    public GatewayMetrics Metrics => metrics;

    /// <summary>Prices the exchange's usage and records it. Returns the cost in micro-dollars.</summary>
    public long Record(Exchange exchange, int status, PriceTable prices)
    {
        var cost = 0L;
        var priced = true;
        if (exchange.Usage is { } usage && exchange.Model is { } model)
        {
            priced = prices.TryFind(model, out var price);
            cost = priced ? Cost(price, usage) : 0;
        }
        metrics.RecordRequest(exchange, status, cost, priced);
        return cost;
    }

    /// <summary>The cost of <paramref name="usage"/>, which every adapter reports in OpenAI's terms (cached and cache writes inside the prompt, reasoning inside the completion).</summary>
    public static long Cost(ModelPrice price, TokenUsage usage) =>
        price.Cost(usage.PromptTokens, usage.CompletionTokens, usage.CachedTokens, usage.CacheWriteTokens, usage.ReasoningTokens);
}
