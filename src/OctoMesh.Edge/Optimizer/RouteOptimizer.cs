using OctoMesh.Routing;
using OctoMesh.Routing.Configuration;
using OctoMesh.Routing.Table;

namespace OctoMesh.Edge.Optimizer;

/// <summary>What the optimizer chose for one task class, and what it costs against the current routing.</summary>
/// <param name="Chosen">The cheapest model whose quality's lower bound clears the floor, then the stronger ones that also do (fallbacks); empty: not enough evidence, the class stays as it is.</param>
/// <param name="Share">The class's share of the workload's items.</param>
/// <param name="CurrentModel">The model the current configuration sends this class to.</param>
internal sealed record TaskChoice(string Task, IReadOnlyList<ModelScore> Chosen, double Share, string? CurrentModel, ModelScore? Current, string Reason);

/// <summary>
/// <c>octomesh optimize</c>: for each task class, the cheapest candidate whose quality's Wilson lower bound (one-sided
/// 95%) is at least the floor, with at least the minimum number of samples, and behind it (as fallbacks, tried when
/// it fails) up to two dearer candidates that also clear the floor. A class where none does, or without enough
/// samples, keeps its current route. Savings are projected from the measured cost per item and the workload's mix.
/// </summary>
internal static class RouteOptimizer
{
    public const string RoutePrefix = "optimized-";

    /// <summary>A candidate is not evidence when more than this share of its answers on a class were errors.</summary>
    public const double MaxErrorShare = 0.05;

    public static List<TaskChoice> Choose(IReadOnlyList<EvalResult> results, GatewayConfig config, string entryModel, double floor, int minSamples)
    {
        var scores = ModelScore.Of(results);
        var items = results.Select(r => (r.Item, r.Task)).Distinct().ToList();
        var routing = new CurrentRouting(config);
        var choices = new List<TaskChoice>();
        foreach (var task in scores.Select(s => s.Task).Distinct().Order(StringComparer.Ordinal))
        {
            var candidates = scores.Where(s => s.Task == task).OrderBy(s => s.MeanCostMicros).ToList();
            var share = items.Count(i => i.Task == task) / (double)items.Count;
            var currentModel = routing.For(entryModel, task).Model;
            // The current model by the name sent upstream: a candidate named by an alias counts as the model it resolves to.
            var current = candidates.FirstOrDefault(s => currentModel is not null && routing.Resolve(s.Model)?.Upstream == currentModel);
            var enough = candidates.Where(s => s.Trials >= minSamples && s.Errors <= MaxErrorShare * (s.Trials + s.Errors)).ToList();
            var clearing = enough.Where(s => s.LowerBound >= floor && routing.Resolve(s.Model) is not null).ToList();
            var reason = enough.Count == 0 ? $"fewer than {minSamples} answered samples (or over {MaxErrorShare:P0} errors) for every candidate"
                : clearing.Count == 0 ? $"no candidate's quality clears {floor:0.###} at 95% confidence"
                : $"cheapest whose lower bound {clearing[0].LowerBound:0.###} ≥ {floor:0.###}";
            choices.Add(new TaskChoice(task, clearing.Take(3).ToList(), share, currentModel, current, reason));
        }
        return choices;
    }

    /// <summary>
    /// Cost per item of the workload under the current routing and under the choices, over the classes whose current
    /// model has results (a class kept as is counts at its current cost); null when no class's current cost is known.
    /// </summary>
    public static (double Current, double Optimized)? CostPerItem(IReadOnlyList<TaskChoice> choices)
    {
        var known = choices.Where(c => c.Current is not null).ToList();
        if (known.Count == 0)
        {
            return null;
        }
        var weight = known.Sum(c => c.Share);
        return (known.Sum(c => c.Share * c.Current!.MeanCostMicros) / weight,
            known.Sum(c => c.Share * (c.Chosen.Count > 0 ? c.Chosen[0].MeanCostMicros : c.Current!.MeanCostMicros)) / weight);
    }
}

/// <summary>
/// How a configuration serves requests today, its optimized routes aside: the routing table and the model aliases,
/// compiled once for all the questions an optimization asks of them.
/// </summary>
internal sealed class CurrentRouting(GatewayConfig config)
{
    private readonly RoutingTable _routes =
        RoutingTable.Compile([.. config.Routes.Where(r => !r.Name.StartsWith(RouteOptimizer.RoutePrefix, StringComparison.Ordinal))]);
    private readonly ModelAliasTable _aliases = ModelAliasTable.Compile(config);

    /// <summary>The route that serves <paramref name="entryModel"/> with <paramref name="task"/> (null: an alias does) and the upstream model it reaches first.</summary>
    public (string? Route, string? Model) For(string entryModel, string task)
    {
        Span<int> order = stackalloc int[RoutingTable.MaxTargets];
        return _routes.TryRoute(new RouteRequest(entryModel) { Task = task }, order, out var decision) && decision.TargetCount > 0
            ? (decision.Route.Name, decision.Route.Definition.Targets[order[0]].Model)
            : (null, Resolve(entryModel)?.Upstream);
    }

    /// <summary>The provider and upstream model a client-facing model name reaches by the aliases; null when no alias serves it.</summary>
    public (string Provider, string Upstream)? Resolve(string model) =>
        _aliases.TryResolve(model, out var target) ? (_aliases.Providers[target.ProviderIndex], target.UpstreamModel ?? model) : null;
}
