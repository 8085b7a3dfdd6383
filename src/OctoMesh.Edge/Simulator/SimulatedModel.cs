using System.Collections.Frozen;

namespace OctoMesh.Edge.Simulator;

/// <summary>
/// A model the simulator pretends to be: its speed, and its true quality per task class (the chance
/// that a checkable answer is right), so routing and optimization can be measured against ground truth.
/// </summary>
/// <param name="TimeToFirstTokenMs">Delay before the first byte of the answer.</param>
/// <param name="TimePerTokenMs">Delay between streamed tokens (and added per token to a non-streamed answer).</param>
/// <param name="Quality">Chance of a right answer for a task class missing from <paramref name="QualityByTask"/>.</param>
public sealed record SimulatedModel(string Name, int TimeToFirstTokenMs, int TimePerTokenMs, double Quality,
    FrozenDictionary<string, double> QualityByTask)
{
    public double QualityFor(string task) => QualityByTask.TryGetValue(task, out var q) ? q : Quality;

    /// <summary>
    /// The simulated market: six models whose prices (DefaultPrices) span 200×, each with a true quality per task class
    /// of the workload generator (<see cref="Optimizer.WorkloadGenerator"/>): classify, extract, reverse, json, math, and summarize (judged). Each
    /// class has one cheapest model that does it well (0.98), the cheaper ones clearly worse, the dearer ones as good
    /// or better, so an optimizer's choices can be checked against the oracle that knows this table. Names any other
    /// model gets the medium profile. Delays default to zero so tests and benchmarks are not slowed.
    /// </summary>
    public static IReadOnlyList<SimulatedModel> Catalogue { get; } =
    [
        Model("sim-nano", 0.50, classify: 0.98, extract: 0.75, reverse: 0.45, json: 0.50, math: 0.30, summarize: 0.30),
        Model("sim-small", 0.55, classify: 0.98, extract: 0.98, reverse: 0.65, json: 0.70, math: 0.60, summarize: 0.50),
        Model("sim-fast", 0.65, classify: 0.98, extract: 0.98, reverse: 0.98, json: 0.80, math: 0.75, summarize: 0.70),
        Model("sim-medium", 0.75, classify: 0.99, extract: 0.98, reverse: 0.98, json: 0.98, math: 0.85, summarize: 0.80),
        Model("sim-pro", 0.85, classify: 0.99, extract: 0.99, reverse: 0.99, json: 0.98, math: 0.98, summarize: 0.99),
        Model("sim-large", 0.95, classify: 0.99, extract: 0.99, reverse: 0.99, json: 0.99, math: 0.99, summarize: 0.99),
    ];

    private static SimulatedModel Model(string name, double other, double classify, double extract, double reverse, double json, double math,
        double summarize) =>
        new(name, 0, 0, other, new Dictionary<string, double>
        {
            ["classify"] = classify, ["extract"] = extract, ["reverse"] = reverse, ["json"] = json, ["math"] = math, ["summarize"] = summarize,
        }.ToFrozenDictionary());

    /// <summary>The named model's profile; any other name gets the medium profile, and <c>slow-&lt;ms&gt;</c> also waits that long before its first byte.</summary>
    public static SimulatedModel For(string name)
    {
        if (Catalogue.FirstOrDefault(m => m.Name == name) is { } known)
        {
            return known;
        }
        var slow = name.StartsWith("slow-", StringComparison.Ordinal)
            && int.TryParse(name.AsSpan(5), System.Globalization.CultureInfo.InvariantCulture, out var ms) ? ms : 0;
        return Catalogue[3] with { Name = name, TimeToFirstTokenMs = slow };
    }
}
