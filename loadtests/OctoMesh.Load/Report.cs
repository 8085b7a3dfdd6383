using System.Globalization;
using System.Text;
using System.Text.Json;

namespace OctoMesh.Load;

/// <summary>A threshold a run must meet: <c>p99=50ms</c>, <c>p99.9=200ms</c>, <c>ttft_p99=20ms</c>, <c>errors=1%</c>, <c>rps=1000</c> (at least).</summary>
public sealed record Slo(string Metric, double Limit)
{
    public static Slo Parse(string text)
    {
        var parts = text.Split('=', 2);
        if (parts.Length != 2)
        {
            throw new FormatException($"'{text}' is not an SLO: write e.g. p99=50ms, ttft_p99=20ms, errors=1% or rps=1000");
        }
        var value = parts[1].Trim();
        var limit = value.EndsWith("ms", StringComparison.Ordinal) ? double.Parse(value[..^2], CultureInfo.InvariantCulture) * 1000
            : value.EndsWith('%') ? double.Parse(value[..^1], CultureInfo.InvariantCulture) / 100
            : double.Parse(value, CultureInfo.InvariantCulture);
        return new Slo(parts[0].Trim(), limit);
    }

    /// <summary>The measured value (microseconds for latencies, a fraction for errors) and whether it meets the limit.</summary>
    public (double Value, bool Met) Check(LoadResult result)
    {
        var value = Metric switch
        {
            "errors" => result.ErrorRate,
            "rps" => result.RequestsPerSecond,
            _ when Metric.StartsWith("ttft_p", StringComparison.Ordinal) => result.TimeToFirstToken.Percentile(Percent(Metric[6..])),
            _ when Metric.StartsWith("itl_p", StringComparison.Ordinal) => result.InterToken.Percentile(Percent(Metric[5..])),
            _ when Metric.StartsWith('p') => result.Latency.Percentile(Percent(Metric[1..])),
            _ => throw new FormatException($"unknown SLO metric '{Metric}'"),
        };
        return (value, Metric == "rps" ? value >= Limit : value <= Limit);
    }

    private static double Percent(string text) => double.Parse(text, CultureInfo.InvariantCulture);

    /// <summary>A value of this metric as people read it: milliseconds, a percentage, or requests per second.</summary>
    public string Format(double value) => Metric switch
    {
        "errors" => value.ToString("P2", CultureInfo.InvariantCulture),
        "rps" => value.ToString("0", CultureInfo.InvariantCulture) + " rps",
        _ => (value / 1000).ToString("0.00", CultureInfo.InvariantCulture) + " ms",
    };
}

/// <summary>The run's numbers as a console table, markdown, and JSON.</summary>
public static class Report
{
    private static readonly double[] s_percentiles = [50, 90, 99, 99.9];

    public static string Markdown(string name, LoadResult r, IReadOnlyList<Slo> slos)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"### {name}").AppendLine();
        text.AppendLine("| requests | rps | errors | tokens/s | p50 | p90 | p99 | p99.9 | max | TTFT p50 | TTFT p99 | ITL p50 | ITL p99 |");
        text.AppendLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"| {r.Requests} | {r.RequestsPerSecond:0} | {r.ErrorRate:P2} | {r.TokensPerSecond:0} | {string.Join(" | ", s_percentiles.Select(p => Ms(r.Latency.Percentile(p))))} | {Ms(r.Latency.Max)} | {Ms(r.TimeToFirstToken.Percentile(50))} | {Ms(r.TimeToFirstToken.Percentile(99))} | {Ms(r.InterToken.Percentile(50))} | {Ms(r.InterToken.Percentile(99))} |"));
        foreach (var slo in slos)
        {
            var (value, met) = slo.Check(r);
            text.AppendLine(CultureInfo.InvariantCulture,
                $"- SLO {slo.Metric} {(slo.Metric == "rps" ? "≥" : "≤")} {slo.Format(slo.Limit)}: {(met ? "met" : "MISSED")} ({slo.Format(value)})");
        }
        return text.ToString();
    }

    public static string Json(string name, LoadResult r)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("scenario", name);
            json.WriteNumber("requests", r.Requests);
            json.WriteNumber("errors", r.Errors);
            json.WriteNumber("late", r.Late);
            json.WriteNumber("seconds", Math.Round(r.Elapsed.TotalSeconds, 3));
            json.WriteNumber("rps", Math.Round(r.RequestsPerSecond, 1));
            json.WriteNumber("tokens_per_second", Math.Round(r.TokensPerSecond, 1));
            Write(json, "latency_us", r.Latency);
            Write(json, "ttft_us", r.TimeToFirstToken);
            Write(json, "inter_token_us", r.InterToken);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());

        static void Write(Utf8JsonWriter json, string name, Histogram h)
        {
            json.WriteStartObject(name);
            json.WriteNumber("count", h.Count);
            foreach (var p in s_percentiles)
            {
                json.WriteNumber("p" + p.ToString(CultureInfo.InvariantCulture), h.Percentile(p));
            }
            json.WriteNumber("max", h.Max);
            json.WriteEndObject();
        }
    }

    private static string Ms(long micros) => (micros / 1000.0).ToString("0.00", CultureInfo.InvariantCulture) + " ms";
}
