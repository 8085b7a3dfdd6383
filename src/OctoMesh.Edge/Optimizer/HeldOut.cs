using System.Globalization;
using OctoMesh.Edge.Simulator;

namespace OctoMesh.Edge.Optimizer;

/// <summary>
/// The choices measured on a held-out workload (results of the same candidates on items the optimizer did not see):
/// each class's quality there, the cost per item against the current routing, and against the oracle: per class the
/// cheapest candidate whose true quality clears the floor. The truth is the simulator's own table when every candidate
/// is a simulated model, else the held-out accuracy itself (an oracle that has seen the answers).
/// </summary>
internal static class HeldOut
{
    /// <param name="Missing">Classes left out: the held-out results lack the chosen or the current model there.</param>
    public sealed record Outcome(double CurrentCost, double OptimizedCost, double OracleCost, IReadOnlyDictionary<string, double> Quality, bool TrueOracle,
        IReadOnlyList<string> Missing)
    {
        public double Savings => CurrentCost == 0 ? 0 : 1 - OptimizedCost / CurrentCost;

        public double OracleSavings => CurrentCost == 0 ? 0 : 1 - OracleCost / CurrentCost;
    }

    public static Outcome Measure(IReadOnlyList<TaskChoice> choices, IReadOnlyList<EvalResult> heldOut, double floor)
    {
        var scores = ModelScore.Of(heldOut);
        var simulated = scores.All(s => SimulatedModel.Catalogue.Any(m => m.Name == s.Model));
        // The held-out set's own mix of classes.
        var items = heldOut.Select(r => (r.Item, r.Task)).Distinct().ToList();
        double current = 0, optimized = 0, oracle = 0, weight = 0;
        var quality = new Dictionary<string, double>(StringComparer.Ordinal);
        var missing = new List<string>();
        foreach (var choice in choices)
        {
            var here = scores.Where(s => s.Task == choice.Task && s.Trials > 0).ToList();
            var currentScore = here.FirstOrDefault(s => s.Model == choice.Current?.Model);
            var chosen = choice.Chosen.Count > 0 ? here.FirstOrDefault(s => s.Model == choice.Chosen[0].Model) : currentScore;
            if (currentScore is null || chosen is null)
            {
                missing.Add(choice.Task);
                continue;
            }
            double True(ModelScore s) => simulated ? SimulatedModel.For(s.Model).QualityFor(choice.Task) : s.Quality;
            var best = here.Where(s => True(s) >= floor).OrderBy(s => s.MeanCostMicros).FirstOrDefault() ?? currentScore;
            var share = items.Count(i => i.Task == choice.Task) / (double)items.Count;
            weight += share;
            current += share * currentScore.MeanCostMicros;
            optimized += share * chosen.MeanCostMicros;
            oracle += share * best.MeanCostMicros;
            quality[choice.Task] = chosen.Quality;
        }
        return weight == 0
            ? new Outcome(0, 0, 0, quality, simulated, missing)
            : new Outcome(current / weight, optimized / weight, oracle / weight, quality, simulated, missing);
    }

    public static void Print(TextWriter output, IReadOnlyList<TaskChoice> choices, IReadOnlyList<EvalResult> heldOut, double floor)
    {
        var outcome = Measure(choices, heldOut, floor);
        output.WriteLine("held out:");
        foreach (var task in outcome.Missing)
        {
            output.WriteLine($"  {task,-10} left out: the held-out results lack its chosen or current model");
        }
        foreach (var (task, quality) in outcome.Quality)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {task,-10} quality {quality:0.000}{(quality < floor ? "  BELOW THE FLOOR" : "")}"));
        }
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  cost per item {outcome.CurrentCost:0.0} → {outcome.OptimizedCost:0.0}: savings {outcome.Savings:P1}; {(outcome.TrueOracle ? "oracle (true qualities)" : "oracle (held-out accuracy)")} {outcome.OracleSavings:P1}: {(outcome.OracleSavings == 0 ? 1 : outcome.Savings / outcome.OracleSavings):P1} of it"));
    }
}
