using System.Text;
using OctoMesh.Routing.Configuration;
using OctoMesh.Routing.Pricing;

namespace OctoMesh.Routing.Tests.Pricing;

public class PriceTableTests
{
    private static ConfigLoadResult Load(string json) => ConfigLoader.Load(Encoding.UTF8.GetBytes(json), _ => null);

    [Fact]
    public void PricesAreWholeMicroDollarsPerMillionTokens()
    {
        var price = ModelPrice.FromUsd(0.15m, 0.60m, cachedInput: 0.075m);
        Assert.Equal(new ModelPrice(150_000, 600_000, 75_000, 150_000, 600_000), price);
    }

    [Fact]
    public void OpenAIUsageBillsCachedTokensInsideThePromptAtTheirOwnPrice()
    {
        // gpt-4o-mini: 10,000 prompt tokens of which 4,000 cached, 1,000 completion tokens.
        // 6,000 × 0.15 + 4,000 × 0.075 + 1,000 × 0.60 = 900 + 300 + 600 = 1,800 micro-dollars.
        Assert.True(PriceTable.Defaults.TryFind("gpt-4o-mini-2024-07-18", out var price));
        Assert.Equal(1_800, price.Cost(prompt: 10_000, completion: 1_000, cached: 4_000, cacheWrite: 0, reasoning: 0));
    }

    [Fact]
    public void AnthropicCacheReadsAndWritesArePricedApart()
    {
        // Claude Sonnet 4: input 1,000 fresh + 2,000 read + 500 written, output 300:
        // 1,000 × 3 + 2,000 × 0.30 + 500 × 3.75 + 300 × 15 = 3,000 + 600 + 1,875 + 4,500 = 9,975 micro-dollars.
        Assert.True(PriceTable.Defaults.TryFind("claude-sonnet-4-5-20250929", out var price));
        Assert.Equal(9_975, price.Cost(prompt: 3_500, completion: 300, cached: 2_000, cacheWrite: 500, reasoning: 0));
    }

    [Fact]
    public void ReasoningTokensArePricedAsTheirOwnPart()
    {
        var price = ModelPrice.FromUsd(1m, 4m, reasoning: 8m);
        // 100 × 1 + (50 − 30) × 4 + 30 × 8 = 100 + 80 + 240.
        Assert.Equal(420, price.Cost(prompt: 100, completion: 50, cached: 0, cacheWrite: 0, reasoning: 30));
        // Gemini's thoughts default to the output price.
        Assert.True(PriceTable.Defaults.TryFind("gemini-2.5-flash", out var flash));
        Assert.Equal(flash.Output, flash.Reasoning);
    }

    [Fact]
    public void TheSumIsRoundedOnceHalfUp()
    {
        var price = ModelPrice.FromUsd(0.05m, 0.40m);
        Assert.Equal(1, price.Cost(prompt: 10, completion: 0, cached: 0, cacheWrite: 0, reasoning: 0));  // 0.5 → 1
        Assert.Equal(0, price.Cost(prompt: 9, completion: 0, cached: 0, cacheWrite: 0, reasoning: 0));   // 0.45 → 0
        Assert.Equal(2, price.Cost(prompt: 9, completion: 3, cached: 0, cacheWrite: 0, reasoning: 0));   // 0.45 + 1.2 = 1.65 → 2
    }

    [Fact]
    public void ReportsThatDoNotAddUpNeverBillNegativeTokens()
    {
        var price = ModelPrice.FromUsd(1m, 1m, cachedInput: 0.5m);
        Assert.Equal(50, price.Cost(prompt: 10, completion: 0, cached: 100, cacheWrite: 0, reasoning: 0));
    }

    [Fact]
    public void HugeCountsAtTheHighestPriceDoNotOverflow()
    {
        var price = ModelPrice.FromUsd(10_000m, 10_000m);
        Assert.Equal(2L * int.MaxValue * 10_000, price.Cost(int.MaxValue, int.MaxValue, 0, 0, 0));
    }

    [Fact]
    public void ConfiguredPricesWinOverDefaultsAndTheLongestPatternWins()
    {
        var result = Load("""
            { "providers": { "a": { "kind": "sim" } }, "models": { "*": { "provider": "a" } },
              "prices": { "gpt-4o": { "input": 2, "output": 8 }, "my-*": { "input": 0.5, "output": 1.5, "cachedInput": 0.25, "cacheWrite": 0.6, "reasoning": 3 },
                          "*": { "input": 1, "output": 1 } } }
            """);
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        var table = new PriceTable(result.Config!.Prices);
        Assert.True(table.TryFind("gpt-4o", out var exact));
        Assert.Equal(2_000_000, exact.Input);
        Assert.True(table.TryFind("gpt-4o-2024-08-06", out var dated));
        Assert.Equal(2_500_000, dated.Input);   // the default for the family
        Assert.True(table.TryFind("gpt-4o-mini", out var mini));
        Assert.Equal(150_000, mini.Input);      // longer pattern than gpt-4o*
        Assert.True(table.TryFind("my-model", out var mine));
        Assert.Equal(new ModelPrice(500_000, 1_500_000, 250_000, 600_000, 3_000_000), mine);
        Assert.True(table.TryFind("anything", out var other));
        Assert.Equal(1_000_000, other.Output);
        Assert.False(PriceTable.Defaults.TryFind("anything", out _));
    }

    [Fact]
    public void BadPricesAreReportedWithTheirPaths()
    {
        var errors = Load("""
            { "providers": { "a": { "kind": "sim" } }, "models": { "*": { "provider": "a" } },
              "prices": { "x": { "input": -1, "output": 0.1234567 }, "y": { "output": 1, "cached": 1 }, "bad*name": { "input": 1, "output": 1 } },
              "metrics": { "workspaceLabel": "yes", "maxSeries": 1 } }
            """).Errors.Select(e => e.ToString());
        Assert.Equal(
        [
            "$.prices['x'].input: -1 is not a price. Fix: write USD per 1M tokens from 0 to 10000 with at most six decimals, e.g. 0.075.",
            "$.prices['x'].output: 0.1234567 is not a price. Fix: write USD per 1M tokens from 0 to 10000 with at most six decimals, e.g. 0.075.",
            "$.prices['y'].cached: unknown field. Fix: remove it; the fields here are input, output, cachedInput, cacheWrite, reasoning.",
            "$.prices['y'].input: missing. Fix: write the input price in USD per 1M tokens, e.g. 0.15.",
            "$.prices['bad*name']: 'bad*name' is not a model name or pattern. Fix: write the name the provider bills, a prefix ending in '*' such as 'gpt-4o*', or '*' alone.",
            "$.metrics.workspaceLabel: expected true or false, got 'yes'. Fix: write true to label requests and cost by workspace.",
            "$.metrics.maxSeries: 1 is out of range. Fix: write a whole number of series per metric from 10 to 1000000.",
        ], errors);
    }
}
