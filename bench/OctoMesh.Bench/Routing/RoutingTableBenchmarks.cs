using System.Collections.Frozen;
using BenchmarkDotNet.Attributes;
using OctoMesh.Routing.Table;

namespace OctoMesh.Bench.Routing;

/// <summary>
/// A routing decision over 1,000 routes (aim: ≤ 1 µs, 0 B): an exact model whose routes also check a
/// workspace and a header, a <c>prefix*</c> family with least-latency ordering, and a model only the
/// catch-all route takes, after every prefix route was tried.
/// </summary>
public class RoutingTableBenchmarks
{
    private sealed class NoHeaders : IRouteHeaders
    {
        public string? Get(string name) => name == "x-tier" ? "gold" : null;
    }

    private RoutingTable _table = null!;
    private readonly int[] _order = new int[RoutingTable.MaxTargets];
    private readonly NoHeaders _headers = new();

    [GlobalSetup]
    public void Setup()
    {
        var routes = new List<RouteDefinition>();
        for (var i = 0; i < 900; i++)
        {
            routes.Add(new RouteDefinition($"r{i}", new RouteMatch(Model: $"model-{i}", Workspace: i % 3 == 0 ? "team-a" : null,
                Headers: i % 5 == 0 ? new Dictionary<string, string> { ["x-tier"] = "gold" }.ToFrozenDictionary() : null),
                RouteStrategy.Priority, [new RouteTarget("p", "a"), new RouteTarget("p", "b"), new RouteTarget("p", "c")]));
        }
        for (var i = 0; i < 99; i++)
        {
            routes.Add(new RouteDefinition($"fam{i}", new RouteMatch(Model: $"family{i}-*"), RouteStrategy.LeastLatency,
                [new RouteTarget("p", "x"), new RouteTarget("p", "y"), new RouteTarget("p", "z")]));
        }
        routes.Add(new RouteDefinition("default", new RouteMatch(), RouteStrategy.Weighted, [new RouteTarget("p", "d", 9), new RouteTarget("p", "e", 1)]));
        _table = RoutingTable.Compile(routes);
    }

    [Benchmark(Baseline = true)]
    public int ExactModelWithMatchers()
    {
        _table.TryRoute(new RouteRequest("model-615") { Workspace = "team-a", Headers = _headers, PromptTokens = 800 }, _order, out var decision);
        return decision.TargetCount;
    }

    [Benchmark]
    public int PrefixFamilyLeastLatency()
    {
        _table.TryRoute(new RouteRequest("family42-large") { PromptTokens = 800 }, _order, out var decision);
        return decision.TargetCount;
    }

    [Benchmark]
    public int CatchAllAfterEveryPrefix()
    {
        _table.TryRoute(new RouteRequest("unknown-model"), _order, out var decision);
        return decision.TargetCount;
    }
}
