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
    public sealed record Outcome(double CurrentCost, double OptimizedCost, double OracleCost, IReadOnlyDictionary<string, double> Quality, bool TrueOracle)
    {
        public double Savings => CurrentCost == 0 ? 0 : 1 - OptimizedCost / CurrentCost;

        public double OracleSavings => CurrentCost == 0 ? 0 : 1 - OracleCost / CurrentCost;
    }

    public static Outcome Measure(IReadOnlyList<TaskChoice> choices, IReadOnlyList<EvalResult> heldOut, double floor)
    {
        var scores = ModelScore.Of(heldOut);
        var simulated = scores.All(s => SimulatedModel.Catalogue.Any(m => m.Name == s.Model));
        double current = 0, optimized = 0, oracle = 0;
        var quality = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var choice in choices)
        {
            var here = scores.Where(s => s.Task == choice.Task).ToList();
            var currentScore = here.FirstOrDefault(s => s.Model == choice.CurrentModel);
            var chosen = choice.Chosen.Count > 0 ? here.FirstOrDefault(s => s.Model == choice.Chosen[0].Model) : currentScore;
            double True(ModelScore s) => simulated ? SimulatedModel.For(s.Model).QualityFor(choice.Task) : s.Quality;
            var best = here.Where(s => True(s) >= floor).OrderBy(s => s.MeanCostMicros).FirstOrDefault() ?? currentScore;
            current += choice.Share * (currentScore?.MeanCostMicros ?? 0);
            optimized += choice.Share * (chosen?.MeanCostMicros ?? 0);
            oracle += choice.Share * (best?.MeanCostMicros ?? 0);
            quality[choice.Task] = chosen?.Quality ?? 0;
        }
        return new Outcome(current, optimized, oracle, quality, simulated);
    }

    public static void Print(TextWriter output, IReadOnlyList<TaskChoice> choices, IReadOnlyList<EvalResult> heldOut, double floor)
    {
        var outcome = Measure(choices, heldOut, floor);
        output.WriteLine("held out:");
        foreach (var (task, quality) in outcome.Quality)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {task,-10} quality {quality:0.000}{(quality < floor ? "  BELOW THE FLOOR" : "")}"));
        }
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  cost per item {outcome.CurrentCost:0.0} → {outcome.OptimizedCost:0.0}: savings {outcome.Savings:P1}; {(outcome.TrueOracle ? "oracle (true qualities)" : "oracle (held-out accuracy)")} {outcome.OracleSavings:P1}: {(outcome.OracleSavings == 0 ? 1 : outcome.Savings / outcome.OracleSavings):P1} of it"));
    }
}
