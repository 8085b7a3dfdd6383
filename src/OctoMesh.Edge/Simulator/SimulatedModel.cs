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
    /// A small, fast, weak model; a medium one; a large, slow, strong one. Names any other model
    /// gets the medium profile. Delays default to zero so tests and benchmarks are not slowed.
    /// </summary>
    public static IReadOnlyList<SimulatedModel> Catalogue { get; } =
    [
        new("sim-small", 0, 0, 0.55, new Dictionary<string, double> { ["math"] = 0.60 }.ToFrozenDictionary()),
        new("sim-medium", 0, 0, 0.75, new Dictionary<string, double> { ["math"] = 0.85 }.ToFrozenDictionary()),
        new("sim-large", 0, 0, 0.95, new Dictionary<string, double> { ["math"] = 0.99 }.ToFrozenDictionary()),
    ];

    /// <summary>The named model's profile; any other name gets the medium profile, and <c>slow-&lt;ms&gt;</c> also waits that long before its first byte.</summary>
    public static SimulatedModel For(string name)
    {
        if (Catalogue.FirstOrDefault(m => m.Name == name) is { } known)
        {
            return known;
        }
        var slow = name.StartsWith("slow-", StringComparison.Ordinal)
            && int.TryParse(name.AsSpan(5), System.Globalization.CultureInfo.InvariantCulture, out var ms) ? ms : 0;
        return Catalogue[1] with { Name = name, TimeToFirstTokenMs = slow };
    }
}
