using System.Text.Json;

namespace OctoMesh.Edge.Optimizer;

/// <summary>One item answered by one candidate model: its score, what it cost and how long it took (a line of the result store).</summary>
/// <param name="Error">Why there is no answer (the gateway's error code or status); such a result scores 0 and is not counted as evidence.</param>
internal sealed record EvalResult(string Item, string Task, string Model, double Score, long CostMicros, double LatencyMs, int PromptTokens,
    int CompletionTokens, string? Error = null)
{
    public void Write(Utf8JsonWriter json)
    {
        json.WriteStartObject();
        json.WriteString("item", Item);
        json.WriteString("task", Task);
        json.WriteString("model", Model);
        json.WriteNumber("score", Score);
        json.WriteNumber("cost_micros", CostMicros);
        json.WriteNumber("latency_ms", Math.Round(LatencyMs, 2));
        json.WriteNumber("prompt_tokens", PromptTokens);
        json.WriteNumber("completion_tokens", CompletionTokens);
        if (Error is not null)
        {
            json.WriteString("error", Error);
        }
        json.WriteEndObject();
    }

    /// <summary>Every result in a store (JSON Lines); a line cut short by a crash is skipped (its pair is run again on resume).</summary>
    public static List<EvalResult> ReadAll(string path)
    {
        var results = new List<EvalResult>();
        if (!File.Exists(path))
        {
            return results;
        }
        foreach (var line in File.ReadLines(path))
        {
            try
            {
                using var document = JsonDocument.Parse(line);
                var r = document.RootElement;
                results.Add(new EvalResult(r.GetProperty("item").GetString()!, r.GetProperty("task").GetString()!, r.GetProperty("model").GetString()!,
                    r.GetProperty("score").GetDouble(), r.GetProperty("cost_micros").GetInt64(), r.GetProperty("latency_ms").GetDouble(),
                    r.GetProperty("prompt_tokens").GetInt32(), r.GetProperty("completion_tokens").GetInt32(),
                    r.TryGetProperty("error", out var e) ? e.GetString() : null));
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                // A torn last line.
            }
        }
        return results;
    }
}

/// <summary>What the results say of one model on one task class.</summary>
/// <param name="Trials">Answered items (errors aside).</param>
/// <param name="Errors">Items with no answer to score (the gateway's or provider's error, an unparsable verdict, an unpriced model).</param>
internal sealed record ModelScore(string Task, string Model, int Trials, double Successes, double MeanCostMicros, double MedianLatencyMs, int Errors = 0)
{
    public double Quality => Trials == 0 ? 0 : Successes / Trials;

    public double LowerBound => Wilson.LowerBound(Successes, Trials);

    public static List<ModelScore> Of(IEnumerable<EvalResult> results) =>
    [
        .. results.GroupBy(r => (r.Task, r.Model)).Select(g =>
        {
            var answered = g.Where(r => r.Error is null).ToList();
            var latencies = answered.Select(r => r.LatencyMs).Order().ToArray();
            return new ModelScore(g.Key.Task, g.Key.Model, answered.Count, answered.Sum(r => r.Score),
                answered.Count == 0 ? 0 : answered.Average(r => (double)r.CostMicros), latencies.Length == 0 ? 0 : latencies[latencies.Length / 2],
                g.Count() - answered.Count);
        }).OrderBy(s => s.Task, StringComparer.Ordinal).ThenBy(s => s.MeanCostMicros),
    ];
}
