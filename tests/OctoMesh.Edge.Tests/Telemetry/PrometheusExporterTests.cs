using System.Diagnostics.Metrics;
using OctoMesh.Edge.Telemetry;

namespace OctoMesh.Edge.Tests.Telemetry;

public class PrometheusExporterTests
{
    [Theory]
    [InlineData("octomesh.requests", "{request}", "counter", "octomesh_requests_total")]
    [InlineData("gen_ai.server.time_to_first_token", "s", "histogram", "gen_ai_server_time_to_first_token_seconds")]
    [InlineData("gen_ai.client.token.usage", "{token}", "histogram", "gen_ai_client_token_usage")]
    [InlineData("octomesh.cost", "microdollars", "counter", "octomesh_cost_microdollars_total")]
    [InlineData("octomesh.queue_bytes", "By", "gauge", "octomesh_queue_bytes")]
    [InlineData("2xx-rate", null, "gauge", "_2xx_rate")]
    public void NamesFollowOpenTelemetrysPrometheusMapping(string name, string? unit, string kind, string expected) =>
        Assert.Equal(expected, MetricFamily.PrometheusName(name, unit, Enum.Parse<MetricKind>(kind, ignoreCase: true)));

    [Fact]
    public async Task CountersHistogramsAndGaugesAreWrittenInTheTextFormat()
    {
        using var meter = new Meter("test-" + Guid.NewGuid());
        using var exporter = new PrometheusExporter(meter, maxSeries: 100);
        var requests = meter.CreateCounter<long>("t.requests", "{request}", "Requests.");
        var latency = meter.CreateHistogram("t.latency", "s", "Latency.", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.1, 1] });
        var active = meter.CreateUpDownCounter<long>("t.active", "{stream}", "Active.");
        requests.Add(2, new KeyValuePair<string, object?>("route", "a"));
        requests.Add(3, new KeyValuePair<string, object?>("route", "a"));
        requests.Add(1, new KeyValuePair<string, object?>("route", "b \"quoted\" \\ back\nslash"));
        latency.Record(0.05);
        latency.Record(0.1);   // on a bound: counted in that bucket (le)
        latency.Record(0.5);
        latency.Record(7);
        active.Add(3);
        active.Add(-1);

        var text = exporter.Scrape();
        var lines = text.Split('\n');
        Assert.Contains("# HELP t_requests_total Requests.", lines);
        Assert.Contains("# TYPE t_requests_total counter", lines);
        Assert.Contains("t_requests_total{route=\"a\"} 5", lines);
        Assert.Contains("t_requests_total{route=\"b \\\"quoted\\\" \\\\ back\\nslash\"} 1", lines);
        Assert.Contains("# TYPE t_latency_seconds histogram", lines);
        Assert.Contains("t_latency_seconds_bucket{le=\"0.1\"} 2", lines);
        Assert.Contains("t_latency_seconds_bucket{le=\"1\"} 3", lines);
        Assert.Contains("t_latency_seconds_bucket{le=\"+Inf\"} 4", lines);
        Assert.Contains("t_latency_seconds_sum 7.65", lines);
        Assert.Contains("t_latency_seconds_count 4", lines);
        Assert.Contains("# TYPE t_active gauge", lines);
        Assert.Contains("t_active 2", lines);

        var (exit, output) = await Promtool.CheckMetricsAsync(text);
        Assert.True(exit == 0 && output.Trim().Length == 0, output);
    }

    [Fact]
    public void LabelSetsPastTheLimitAreCountedTogether()
    {
        using var meter = new Meter("test-" + Guid.NewGuid());
        using var exporter = new PrometheusExporter(meter, maxSeries: 10);
        var counter = meter.CreateCounter<long>("t.models", "{request}", "By model.");
        for (var i = 0; i < 13; i++)
        {
            counter.Add(1, new KeyValuePair<string, object?>("model", $"client-chosen-{i}"));
        }
        var series = exporter.Scrape().Split('\n').Where(l => l.StartsWith("t_models_total{", StringComparison.Ordinal)).ToList();
        Assert.Equal(11, series.Count);
        Assert.Contains("t_models_total{model=\"_other_\"} 3", series);
    }

    [Fact]
    public void ObservedSeriesThatAreNoLongerObservedDisappear()
    {
        using var meter = new Meter("test-" + Guid.NewGuid());
        using var exporter = new PrometheusExporter(meter, maxSeries: 100);
        string[] routes = ["a", "b"];
        meter.CreateObservableGauge("t.breaker", () => routes.Select(r => new Measurement<int>(2, new KeyValuePair<string, object?>("route", r))), null, "Breakers.");
        Assert.Contains("t_breaker{route=\"b\"} 2", exporter.Scrape().Split('\n'));
        routes = ["a"];
        var text = exporter.Scrape();
        Assert.Contains("t_breaker{route=\"a\"} 2", text.Split('\n'));
        Assert.DoesNotContain("route=\"b\"", text);
    }

    [Fact]
    public void OnlyItsOwnMeterIsExported()
    {
        using var mine = new Meter("test-" + Guid.NewGuid());
        using var other = new Meter(mine.Name);
        using var exporter = new PrometheusExporter(mine, maxSeries: 100);
        other.CreateCounter<long>("t.elsewhere").Add(1);
        mine.CreateCounter<long>("t.here").Add(1);
        var text = exporter.Scrape();
        Assert.Contains("t_here_total 1", text);
        Assert.DoesNotContain("t_elsewhere", text);
    }
}
