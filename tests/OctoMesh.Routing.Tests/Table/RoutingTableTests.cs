using System.Collections.Frozen;
using OctoMesh.Routing.Table;

namespace OctoMesh.Routing.Tests.Table;

public class RoutingTableTests
{
    private sealed class Headers(Dictionary<string, string> values) : IRouteHeaders
    {
        public string? Get(string name) => values.GetValueOrDefault(name.ToLowerInvariant());
    }

    private static RouteDefinition Route(string name, RouteMatch match, params string[] targets) =>
        new(name, match, RouteStrategy.Priority, [.. targets.Select(t => new RouteTarget("p", t))]);

    private static (string Route, string[] Targets)? Decide(RoutingTable table, RouteRequest request)
    {
        Span<int> order = stackalloc int[RoutingTable.MaxTargets];
        if (!table.TryRoute(request, order, out var decision))
        {
            return null;
        }
        var targets = decision.Route.Definition.Targets;
        var names = new string[decision.TargetCount];
        for (var i = 0; i < names.Length; i++)
        {
            names[i] = targets[order[i]].Model;
        }
        return (decision.Route.Name, names);
    }

    private static string[] Targets(RoutingTable table, RouteRequest request) => Decide(table, request)!.Value.Targets;

    [Fact]
    public void EarlierRoutesWinAndModelsMatchExactlyByPrefixOrAny()
    {
        var table = RoutingTable.Compile(
        [
            Route("code-4o", new RouteMatch(Model: "gpt-4o", Task: "code"), "a"),
            Route("gpt-family", new RouteMatch(Model: "gpt-*"), "b"),
            Route("exact-4o", new RouteMatch(Model: "gpt-4o"), "c"),
            Route("everything", new RouteMatch(), "d"),
        ]);

        Assert.Equal("code-4o", Decide(table, new RouteRequest("gpt-4o") { Task = "code" })?.Route);
        Assert.Equal("gpt-family", Decide(table, new RouteRequest("gpt-4o"))?.Route);
        Assert.Equal("gpt-family", Decide(table, new RouteRequest("gpt-3.5"))?.Route);
        Assert.Equal("everything", Decide(table, new RouteRequest("claude"))?.Route);
    }

    [Fact]
    public void EveryMatcherMustPass()
    {
        var table = RoutingTable.Compile(
        [
            Route("vip", new RouteMatch(Model: "m", Workspace: "team-a", Tools: true, Images: false, Stream: true, MinPromptTokens: 10, MaxPromptTokens: 100,
                Headers: new Dictionary<string, string> { ["x-tier"] = "gold" }.ToFrozenDictionary()), "vip"),
            Route("rest", new RouteMatch(Model: "m"), "rest"),
        ]);
        var headers = new Headers(new() { ["x-tier"] = "gold" });
        var vip = new RouteRequest("m") { Workspace = "team-a", HasTools = true, Stream = true, PromptTokens = 50, Headers = headers };
        Assert.Equal("vip", Decide(table, vip)?.Route);

        Assert.Equal("rest", Decide(table, vip with { Workspace = "team-b" })?.Route);
        Assert.Equal("rest", Decide(table, vip with { HasTools = false })?.Route);
        Assert.Equal("rest", Decide(table, vip with { HasImages = true })?.Route);
        Assert.Equal("rest", Decide(table, vip with { Stream = false })?.Route);
        Assert.Equal("rest", Decide(table, vip with { PromptTokens = 9 })?.Route);
        Assert.Equal("rest", Decide(table, vip with { PromptTokens = 101 })?.Route);
        Assert.Equal("rest", Decide(table, vip with { Headers = new Headers(new() { ["x-tier"] = "silver" }) })?.Route);
        Assert.Equal("rest", Decide(table, vip with { Headers = null })?.Route);
        Assert.Equal("vip", Decide(table, vip with { PromptTokens = 100 })?.Route);
    }

    [Fact]
    public void NoRouteMeansNoDecision()
    {
        var table = RoutingTable.Compile([Route("only", new RouteMatch(Model: "x*"), "t")]);
        Assert.Null(Decide(table, new RouteRequest("y")));
        Assert.NotNull(Decide(table, new RouteRequest("xy")));
    }

    [Fact]
    public void PriorityKeepsOrderAndPutsOpenBreakersLast()
    {
        var table = RoutingTable.Compile([Route("r", new RouteMatch(), "first", "second", "third")]);
        Assert.Equal(["first", "second", "third"], Targets(table, new RouteRequest("m")));
        table.Routes[0].Health[0].Open();
        Assert.Equal(["second", "third", "first"], Targets(table, new RouteRequest("m")));
    }

    [Fact]
    public void WeightedSplitsByWeight()
    {
        var table = RoutingTable.Compile(
            [new RouteDefinition("canary", new RouteMatch(), RouteStrategy.Weighted, [new RouteTarget("p", "stable", Weight: 90), new RouteTarget("p", "canary", Weight: 10)])],
            new Random(20261122));
        var canary = 0;
        const int Draws = 20_000;
        for (var i = 0; i < Draws; i++)
        {
            var targets = Decide(table, new RouteRequest("m"))!.Value.Targets;
            Assert.Equal(2, targets.Length);
            if (targets[0] == "canary")
            {
                canary++;
                Assert.Equal("stable", targets[1]);
            }
        }
        // 10% expected; with 20,000 draws the standard deviation is 0.21 points, so ±1 point is about 5 sigma.
        Assert.InRange(canary / (double)Draws, 0.09, 0.11);
    }

    [Fact]
    public void LeastLatencyTriesTheUntriedThenTheFastest()
    {
        var table = RoutingTable.Compile(
            [new RouteDefinition("fast", new RouteMatch(), RouteStrategy.LeastLatency, [new RouteTarget("p", "a"), new RouteTarget("p", "b"), new RouteTarget("p", "c")])]);
        var health = table.Routes[0].Health;
        health[0].Record(300, succeeded: true);
        health[1].Record(100, succeeded: true);
        Assert.Equal(["c", "b", "a"], Targets(table, new RouteRequest("m")));

        health[2].Record(200, succeeded: true);
        Assert.Equal(["b", "c", "a"], Targets(table, new RouteRequest("m")));

        // Errors count as slowness: b fails twice and falls behind.
        health[1].Record(100, succeeded: false);
        health[1].Record(100, succeeded: false);
        Assert.Equal(["c", "b", "a"], Targets(table, new RouteRequest("m")));
    }

    [Fact]
    public void CheapestAboveQualityPicksTheCheapestGoodEnoughThenStrongerOnes()
    {
        FrozenDictionary<string, double> Quality(double math, double other) =>
            new Dictionary<string, double> { ["math"] = math, ["*"] = other }.ToFrozenDictionary();
        var table = RoutingTable.Compile(
        [
            new RouteDefinition("save", new RouteMatch(), RouteStrategy.CheapestAboveQuality,
            [
                new RouteTarget("p", "large", PricePerMillionTokens: 15, Quality: Quality(0.99, 0.95)),
                new RouteTarget("p", "small", PricePerMillionTokens: 0.3, Quality: Quality(0.60, 0.85)),
                new RouteTarget("p", "medium", PricePerMillionTokens: 2, Quality: Quality(0.90, 0.90)),
            ], QualityFloor: 0.8),
        ]);

        Assert.Equal(["medium", "large", "small"], Targets(table, new RouteRequest("m") { Task = "math" }));
        Assert.Equal(["small", "medium", "large"], Targets(table, new RouteRequest("m") { Task = "chat" }));
        Assert.Equal(["small", "medium", "large"], Targets(table, new RouteRequest("m")));
    }

    [Fact]
    public void DecidingAllocatesNothing()
    {
        var routes = Enumerable.Range(0, 1000).Select(i => Route($"r{i}", new RouteMatch(Model: $"model-{i}", Workspace: i % 2 == 0 ? "w" : null), "a", "b"))
            .Append(new RouteDefinition("lat", new RouteMatch(Model: "fam-*"), RouteStrategy.LeastLatency, [new RouteTarget("p", "x"), new RouteTarget("p", "y")]))
            .ToList();
        var table = RoutingTable.Compile(routes);
        Span<int> order = stackalloc int[RoutingTable.MaxTargets];
        var request = new RouteRequest("model-517") { Workspace = "w" };
        var family = new RouteRequest("fam-large");
        table.TryRoute(request, order, out _);
        table.TryRoute(family, order, out _);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            Assert.True(table.TryRoute(request, order, out _));
            Assert.True(table.TryRoute(family, order, out _));
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void RoutesNeedTargets()
    {
        var error = Assert.Throws<ArgumentException>(() => RoutingTable.Compile([new RouteDefinition("empty", new RouteMatch(), RouteStrategy.Priority, [])]));
        Assert.StartsWith("route 'empty' has 0 targets; a route needs 1 to 64", error.Message);
    }
}
