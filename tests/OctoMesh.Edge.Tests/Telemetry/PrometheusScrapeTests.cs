using System.Text;
using OctoMesh.Edge.Tests.Hosting;

namespace OctoMesh.Edge.Tests.Telemetry;

/// <summary>A real Prometheus scrapes the running gateway and answers queries over what it stored.</summary>
public class PrometheusScrapeTests
{
    [Fact]
    public async Task PrometheusScrapesTheGatewayAndItsQueriesAgreeWithTheCounters()
    {
        await using var test = await TestGateway.StartAsync();
        for (var i = 0; i < 6; i++)
        {
            var body = $$"""{"model":"{{(i % 2 == 0 ? "sim-small" : "sim-large")}}","stream":{{(i % 3 == 0 ? "true" : "false")}},"messages":[{"role":"user","content":"Question {{i}}"}]}""";
            using var response = await test.Client.PostAsync("/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));
            await response.Content.ReadAsStringAsync();
        }
        var scrape = await Scrape.OfAsync(test);
        var cost = scrape.Sum("octomesh_cost_microdollars_total");
        Assert.True(cost > 0);

        await using var prometheus = await PrometheusServer.StartAsync(test.BaseUrl);
        await prometheus.WaitAsync(async () => await prometheus.QueryAsync("sum(octomesh_requests_total)") == 6, "Prometheus never saw the 6 requests");
        Assert.Equal(1, await prometheus.QueryAsync("up{job=\"octomesh\"}"));
        Assert.Equal(cost, await prometheus.QueryAsync("sum(octomesh_cost_microdollars_total)"));
        Assert.Equal(3, await prometheus.QueryAsync("sum(octomesh_requests_total{gen_ai_request_model=\"sim-large\"})"));
        Assert.Equal(2, await prometheus.QueryAsync("sum(gen_ai_server_time_to_first_token_seconds_count)"));
        // The buckets form a valid histogram: a quantile over them is a number within the buckets' range.
        var p99 = await prometheus.QueryAsync("histogram_quantile(0.99, sum by (le) (gen_ai_client_operation_duration_seconds_bucket))");
        Assert.True(p99 is > 0 and <= 300, $"p99 = {p99}");
    }
}
