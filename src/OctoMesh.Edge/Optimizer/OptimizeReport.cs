using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Optimizer;

/// <summary>What <c>octomesh eval</c> and <c>octomesh optimize</c> write: the markdown report, its frontier plot, and the routes.</summary>
internal static class OptimizeReport
{
    private static readonly CultureInfo s_invariant = CultureInfo.InvariantCulture;

    /// <summary>Per task class, every candidate's quality (and its lower bound), cost and latency, the chosen model marked.</summary>
    public static string Markdown(IReadOnlyList<ModelScore> scores, IReadOnlyList<TaskChoice>? choices, double floor)
    {
        var text = new StringBuilder();
        text.AppendLine("# Evaluation").AppendLine();
        text.AppendLine(string.Create(s_invariant, $"Quality floor {floor:0.###}; lower bound: Wilson, one-sided 95%. Cost per item in micro-dollars.")).AppendLine();
        foreach (var task in scores.Select(s => s.Task).Distinct().Order(StringComparer.Ordinal))
        {
            var chosen = choices?.FirstOrDefault(c => c.Task == task);
            text.AppendLine($"## {task}").AppendLine();
            text.AppendLine("| model | items | quality | lower bound | cost per item | median latency (ms) | |");
            text.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | --- |");
            foreach (var s in scores.Where(s => s.Task == task))
            {
                var mark = chosen is null ? "" : chosen.Chosen.Count > 0 && chosen.Chosen[0].Model == s.Model ? "**chosen**"
                    : chosen.Chosen.Skip(1).Any(c => c.Model == s.Model) ? "fallback" : chosen.CurrentModel == s.Model ? "current" : "";
                text.AppendLine(string.Create(s_invariant,
                    $"| {s.Model} | {s.Trials} | {s.Quality:0.000} | {s.LowerBound:0.000} | {s.MeanCostMicros:0.0} | {s.MedianLatencyMs:0.0} | {mark} |"));
            }
            text.AppendLine();
        }
        return text.ToString();
    }

    /// <summary>
    /// The cost/quality frontier as SVG: each model over the whole workload (its cost per item on a log scale, its
    /// quality), the Pareto frontier through them, and the optimized routing's point.
    /// </summary>
    public static string FrontierSvg(IReadOnlyList<ModelScore> scores, (double Cost, double Quality)? optimized)
    {
        var models = scores.GroupBy(s => s.Model).Select(g => (Model: g.Key, Cost: g.Average(s => s.MeanCostMicros), Quality: g.Average(s => s.Quality)))
            .OrderBy(m => m.Cost).ToList();
        var points = models.Select(m => (m.Cost, m.Quality)).Concat(optimized is { } o ? [o] : []).ToList();
        var (minCost, maxCost) = (Math.Max(1e-3, points.Min(p => p.Cost)) / 2, points.Max(p => p.Cost) * 2);
        const double Width = 640, Height = 400, Left = 60, Bottom = 40, Top = 20, Right = 20;
        double X(double cost) => Left + (Math.Log10(Math.Max(cost, minCost)) - Math.Log10(minCost)) / (Math.Log10(maxCost) - Math.Log10(minCost)) * (Width - Left - Right);
        double Y(double quality) => Height - Bottom - quality * (Height - Bottom - Top);
        var svg = new StringBuilder();
        svg.AppendLine(string.Create(s_invariant, $"""<svg xmlns="http://www.w3.org/2000/svg" width="{Width}" height="{Height}" font-family="sans-serif" font-size="11">"""));
        svg.AppendLine(string.Create(s_invariant, $"""<line x1="{Left}" y1="{Height - Bottom}" x2="{Width - Right}" y2="{Height - Bottom}" stroke="black"/><line x1="{Left}" y1="{Top}" x2="{Left}" y2="{Height - Bottom}" stroke="black"/>"""));
        svg.AppendLine(string.Create(s_invariant, $"""<text x="{Width / 2}" y="{Height - 8}" text-anchor="middle">cost per item (micro-dollars, log scale)</text><text x="14" y="{Height / 2}" transform="rotate(-90 14 {Height / 2})" text-anchor="middle">quality</text>"""));
        for (var q = 0.0; q <= 1.0001; q += 0.25)
        {
            svg.AppendLine(string.Create(s_invariant, $"""<text x="{Left - 6}" y="{Y(q) + 4:0.#}" text-anchor="end">{q:0.00}</text>"""));
        }
        var best = double.MinValue;
        var frontier = new List<(double Cost, double Quality)>();
        foreach (var m in models)
        {
            if (m.Quality > best)
            {
                frontier.Add((m.Cost, m.Quality));
                best = m.Quality;
            }
        }
        svg.AppendLine($"""<polyline fill="none" stroke="#888" stroke-dasharray="4 3" points="{string.Join(' ', frontier.Select(p => string.Create(s_invariant, $"{X(p.Cost):0.#},{Y(p.Quality):0.#}")))}"/>""");
        foreach (var m in models)
        {
            svg.AppendLine(string.Create(s_invariant, $"""<circle cx="{X(m.Cost):0.#}" cy="{Y(m.Quality):0.#}" r="4" fill="#3367d6"/><text x="{X(m.Cost) + 6:0.#}" y="{Y(m.Quality) - 6:0.#}">{m.Model}</text>"""));
        }
        if (optimized is { } point)
        {
            svg.AppendLine(string.Create(s_invariant, $"""<rect x="{X(point.Cost) - 5:0.#}" y="{Y(point.Quality) - 5:0.#}" width="10" height="10" fill="#e8710a"/><text x="{X(point.Cost) + 8:0.#}" y="{Y(point.Quality) + 14:0.#}">optimized routing</text>"""));
        }
        svg.AppendLine("</svg>");
        return svg.ToString();
    }

    /// <summary>
    /// The routes for the choices: one per task class with a choice, for the workload's entry model; targets by provider
    /// and upstream model (as the aliases resolve each candidate), the chosen first. The settings of the route that
    /// serves the class today (retry, breaker, deadline, cache, limits) are kept; its strategy, hedging and shadow are not.
    /// </summary>
    public static JsonArray Routes(IReadOnlyList<TaskChoice> choices, GatewayConfig config, string entryModel, JsonNode? file = null)
    {
        var routes = new JsonArray();
        var routing = new CurrentRouting(config);
        foreach (var choice in choices.Where(c => c.Chosen.Count > 0))
        {
            var targets = new JsonArray();
            foreach (var model in choice.Chosen)
            {
                var (provider, upstream) = routing.Resolve(model.Model)!.Value;
                targets.Add((JsonNode)new JsonObject { ["provider"] = provider, ["model"] = upstream });
            }
            var route = routing.For(entryModel, choice.Task).Route is { } current
                && file?["routes"] is JsonArray existing && existing.FirstOrDefault(r => r?["name"]?.GetValue<string>() == current) is JsonObject settings
                ? settings.DeepClone().AsObject()
                : new JsonObject();
            foreach (var replaced in s_notCopied)
            {
                route.Remove(replaced);
            }
            route["name"] = RouteOptimizer.RoutePrefix + choice.Task;
            route["match"] = new JsonObject { ["model"] = entryModel, ["task"] = choice.Task };
            route["targets"] = targets;
            routes.Add((JsonNode)route);
        }
        return routes;
    }

    private static readonly string[] s_notCopied = ["name", "match", "targets", "strategy", "qualityFloor", "hedgeAfterMs", "shadow"];

    /// <summary>The configuration file with its optimized routes replaced by <paramref name="routes"/> (placed first, so they are tried first).</summary>
    public static JsonNode Apply(JsonNode file, JsonArray routes)
    {
        var root = file.AsObject();
        var kept = root["routes"] is JsonArray existing
            ? existing.Where(r => r?["name"]?.GetValue<string>() is not { } name || !name.StartsWith(RouteOptimizer.RoutePrefix, StringComparison.Ordinal))
                .Select(r => r?.DeepClone()).ToList()
            : [];
        var all = new JsonArray();
        foreach (var route in routes.Select(r => r?.DeepClone()).Concat(kept))
        {
            all.Add(route);
        }
        root["routes"] = all;
        return root;
    }

    /// <summary>A line diff by longest common subsequence: each line with ' ' (both), '-' (only before) or '+' (only after).</summary>
    public static List<(char Kind, string Line)> Diff(string[] before, string[] after)
    {
        var common = new int[before.Length + 1, after.Length + 1];
        for (var i = before.Length - 1; i >= 0; i--)
        {
            for (var j = after.Length - 1; j >= 0; j--)
            {
                common[i, j] = before[i] == after[j] ? common[i + 1, j + 1] + 1 : Math.Max(common[i + 1, j], common[i, j + 1]);
            }
        }
        var diff = new List<(char, string)>();
        int a = 0, b = 0;
        while (a < before.Length || b < after.Length)
        {
            if (a < before.Length && b < after.Length && before[a] == after[b])
            {
                diff.Add((' ', before[a++]));
                b++;
            }
            else if (b < after.Length && (a == before.Length || common[a, b + 1] >= common[a + 1, b]))
            {
                diff.Add(('+', after[b++]));
            }
            else
            {
                diff.Add(('-', before[a++]));
            }
        }
        return diff;
    }

    public static string ToText(JsonNode node)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            node.WriteTo(json);
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }
}
