using System.Collections.Frozen;
using System.Collections.Immutable;

namespace OctoMesh.Routing.Table;

/// <summary>Which route a request took, and the order to try its targets in.</summary>
/// <param name="TargetCount">How many target indices were written to the caller's span.</param>
public readonly record struct RouteDecision(CompiledRoute Route, int TargetCount);

/// <summary>
/// The compiled routes: immutable, and built off the hot path. A decision finds the candidate routes
/// for the model in one frozen-dictionary lookup by span (routes naming that model exactly, <c>prefix*</c>
/// routes it matches, and routes for any model, in configuration order), takes the first whose other
/// matchers pass, and lets its strategy order the targets into a caller's span: no allocation.
/// Routes earlier in the configuration win.
/// </summary>
public sealed class RoutingTable
{
    /// <summary>Bound on targets per route, so a decision can order them on the stack.</summary>
    public const int MaxTargets = 64;

    private readonly CompiledRoute[] _routes;
    private readonly FrozenDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _byModel;
    /// <summary>For a model no route names exactly: prefix routes (checked at decision time) and any-model routes, in order.</summary>
    private readonly (string? Prefix, int Route)[] _others;
    private readonly Random _random;

    private RoutingTable(CompiledRoute[] routes, FrozenDictionary<string, int[]> byModel, (string?, int)[] others, Random random)
    {
        _routes = routes;
        _byModel = byModel.GetAlternateLookup<ReadOnlySpan<char>>();
        _others = others;
        _random = random;
        Routes = [.. routes];
        MatchesHeaders = routes.Any(r => r.Definition.Match.Headers is { Count: > 0 });
        MatchesImages = routes.Any(r => r.Definition.Match.Images is not null);
    }

    public ImmutableArray<CompiledRoute> Routes { get; }

    /// <summary>Some route matches on request headers: only then does the host hand them over.</summary>
    public bool MatchesHeaders { get; }

    /// <summary>Some route matches on images present: only then does the host look for them.</summary>
    public bool MatchesImages { get; }

    /// <param name="random">The draw for weighted routes; tests pass a seeded one.</param>
    /// <param name="previous">The table this one replaces on a reload: a target kept under the same route name keeps its health.</param>
    /// <param name="time">The clock breakers open and close by; tests pass their own.</param>
    public static RoutingTable Compile(IReadOnlyList<RouteDefinition> definitions, Random? random = null, RoutingTable? previous = null,
        TimeProvider? time = null)
    {
        var routes = definitions
            .Select((d, i) => new CompiledRoute(d, i, previous?.Routes.FirstOrDefault(r => r.Name == d.Name), time ?? TimeProvider.System))
            .ToArray();
        if (routes.FirstOrDefault(r => r.Definition.Targets.Length is 0 or > MaxTargets) is { } bad)
        {
            throw new ArgumentException($"route '{bad.Name}' has {bad.Definition.Targets.Length} targets; a route needs 1 to {MaxTargets}", nameof(definitions));
        }

        static bool IsPattern(string? model) => model is not null && model.EndsWith('*');
        var exactModels = routes.Select(r => r.Definition.Match.Model).Where(m => m is not null && !IsPattern(m)).Distinct(StringComparer.Ordinal);
        var byModel = exactModels.ToFrozenDictionary(
            model => model!,
            model => routes.Where(r => r.Definition.Match.Model switch
            {
                null => true,
                var m when IsPattern(m) => model!.StartsWith(m[..^1], StringComparison.Ordinal),
                var m => m == model,
            }).Select(r => r.Index).ToArray(),
            StringComparer.Ordinal);
        var others = routes
            .Where(r => r.Definition.Match.Model is null || IsPattern(r.Definition.Match.Model))
            .Select(r => (r.Definition.Match.Model is { } m ? m[..^1] : null, r.Index))
            .ToArray();
        return new RoutingTable(routes, byModel, others, random ?? Random.Shared);
    }

    /// <summary>Finds the route for <paramref name="request"/> and writes its targets' indices, in the order to try them, into <paramref name="order"/> (at least <see cref="MaxTargets"/> long).</summary>
    public bool TryRoute(in RouteRequest request, Span<int> order, out RouteDecision decision)
    {
        if (_byModel.TryGetValue(request.Model, out var candidates))
        {
            foreach (var index in candidates)
            {
                if (_routes[index].MatchesFeatures(request))
                {
                    return Decide(_routes[index], request, order, out decision);
                }
            }
        }
        else
        {
            foreach (var (prefix, index) in _others)
            {
                if ((prefix is null || request.Model.StartsWith(prefix, StringComparison.Ordinal)) && _routes[index].MatchesFeatures(request))
                {
                    return Decide(_routes[index], request, order, out decision);
                }
            }
        }
        decision = default;
        return false;
    }

    /// <summary>The routes a request for <paramref name="model"/> is checked against, in order: for explaining a decision, not the hot path.</summary>
    public IReadOnlyList<CompiledRoute> CandidatesFor(string model)
    {
        if (_byModel.TryGetValue(model.AsSpan(), out var candidates))
        {
            return candidates.Select(i => _routes[i]).ToList();
        }
        return _others.Where(o => o.Prefix is null || model.StartsWith(o.Prefix, StringComparison.Ordinal)).Select(o => _routes[o.Route]).ToList();
    }

    private bool Decide(CompiledRoute route, in RouteRequest request, Span<int> order, out RouteDecision decision)
    {
        decision = new RouteDecision(route, route.Order(request, order, _random));
        return true;
    }
}
