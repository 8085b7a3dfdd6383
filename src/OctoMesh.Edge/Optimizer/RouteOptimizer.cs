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

    public static List<TaskChoice> Choose(IReadOnlyList<EvalResult> results, GatewayConfig config, string entryModel, double floor, int minSamples)
    {
        var scores = ModelScore.Of(results);
        var items = results.Select(r => (r.Item, r.Task)).Distinct().ToList();
        var choices = new List<TaskChoice>();
        foreach (var task in scores.Select(s => s.Task).Distinct().Order(StringComparer.Ordinal))
        {
            var candidates = scores.Where(s => s.Task == task).OrderBy(s => s.MeanCostMicros).ToList();
            var share = items.Count(i => i.Task == task) / (double)items.Count;
            var currentModel = CurrentModel(config, entryModel, task);
            var current = candidates.FirstOrDefault(s => s.Model == currentModel);
            var enough = candidates.Where(s => s.Trials >= minSamples).ToList();
            var clearing = enough.Where(s => s.LowerBound >= floor).ToList();
            var reason = enough.Count == 0 ? $"fewer than {minSamples} samples for every candidate"
                : clearing.Count == 0 ? $"no candidate's quality clears {floor:0.###} at 95% confidence"
                : $"cheapest whose lower bound {clearing[0].LowerBound:0.###} ≥ {floor:0.###}";
            choices.Add(new TaskChoice(task, clearing.Take(3).ToList(), share, currentModel, current, reason));
        }
        return choices;
    }

    /// <summary>The model a request of <paramref name="task"/> for <paramref name="entryModel"/> reaches under <paramref name="config"/>, optimized routes aside (its first target).</summary>
    public static string? CurrentModel(GatewayConfig config, string entryModel, string task)
    {
        var routes = config.Routes.Where(r => !r.Name.StartsWith(RoutePrefix, StringComparison.Ordinal)).ToList();
        var table = RoutingTable.Compile([.. routes]);
        var request = new RouteRequest(entryModel) { Task = task };
        Span<int> order = stackalloc int[RoutingTable.MaxTargets];
        if (table.TryRoute(request, order, out var decision) && decision.TargetCount > 0)
        {
            return decision.Route.Definition.Targets[order[0]].Model;
        }
        return ModelAliasTable.Compile(config).TryResolve(entryModel, out var alias) ? alias.UpstreamModel ?? entryModel : null;
    }

    /// <summary>Cost per item of the workload under the current routing and under the choices (a class kept as is counts at its current cost).</summary>
    public static (double Current, double Optimized) CostPerItem(IReadOnlyList<TaskChoice> choices) => (
        choices.Sum(c => c.Share * (c.Current?.MeanCostMicros ?? 0)),
        choices.Sum(c => c.Share * (c.Chosen.Count > 0 ? c.Chosen[0].MeanCostMicros : c.Current?.MeanCostMicros ?? 0)));

    /// <summary>The provider that serves <paramref name="model"/> by the configuration's aliases (the gateway's own resolution).</summary>
    public static string? ProviderOf(GatewayConfig config, string model)
    {
        var aliases = ModelAliasTable.Compile(config);
        return aliases.TryResolve(model, out var target) ? aliases.Providers[target.ProviderIndex] : null;
    }
}
