using System.Globalization;
using System.Text;
using System.Text.Json;
using OctoMesh.Edge.Tests.Telemetry;

namespace OctoMesh.EndToEnd.Tests;

/// <summary>
/// Metering on the native binary: a mixed load, scraped by a real Prometheus and checked by promtool; after a
/// graceful stop, the billing export's total equals the cost counter to the micro-dollar, and a follow cursor
/// run twice counts nothing twice.
/// </summary>
public sealed class NativeMeteringTests
{
    [Fact]
    public async Task PrometheusMetricsAndTheBillingExportAgreeForAMixedLoad()
    {
        await using var simulator = await OctoMeshProcess.StartAsync("sim", "--urls", "http://127.0.0.1:0");
        using var work = new WorkDirectory();
        var config = await work.WriteConfigAsync($$"""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{{simulator.Address}}v1" },
                             "anthro": { "kind": "anthropic", "baseUrl": "{{simulator.Address}}v1", "apiKey": "${E2E_PROVIDER_KEY}" } },
              "models": { "claude": { "provider": "anthro", "model": "sim-large" }, "*": { "provider": "sim" } },
              "routes": [ { "name": "failover", "match": { "model": "chat" }, "targets": [ { "provider": "sim", "model": "fail-503" }, { "provider": "sim", "model": "sim-medium" } ] } ] }
            """);
        double cost, requests;
        string scrape;
        await using (var gateway = await OctoMeshProcess.StartInAsync(work.Path, [NativeGateway.ProviderKey], "serve", "--config", config, "--urls", "http://127.0.0.1:0"))
        {
            using var client = new HttpClient { BaseAddress = gateway.Address };
            string[] models = ["sim-small", "sim-large", "chat", "claude"];
            var load = Enumerable.Range(0, 60).Select(async i =>
            {
                var body = i % 10 == 9
                    ? "{not json"
                    : $$"""{"model":"{{models[i % models.Length]}}","stream":{{(i % 3 == 0 ? "true" : "false")}},"max_tokens":64,"messages":[{"role":"user","content":"Request {{i}}"}]}""";
                using var response = await client.PostAsync("/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));
                await response.Content.ReadAsStringAsync();
            });
            await Task.WhenAll(load);

            scrape = await client.GetStringAsync("/metrics");
            cost = Sum(scrape, "octomesh_cost_microdollars_total");
            requests = Sum(scrape, "octomesh_requests_total");
            Assert.Equal(60, requests);
            Assert.True(cost > 0);
            Assert.Equal(6, Sum(scrape, "octomesh_requests_total", "octomesh_status_class=\"4xx\""));
            Assert.True(Sum(scrape, "octomesh_fallbacks_total") > 0);

            await using var prometheus = await PrometheusServer.StartAsync(gateway.Address);
            await prometheus.WaitAsync(async () => await prometheus.QueryAsync("sum(octomesh_requests_total)") == 60, "Prometheus never saw the 60 requests");
            Assert.Equal(cost, await prometheus.QueryAsync("sum(octomesh_cost_microdollars_total)"));
            // Every fourth request is for claude (15), less the three of them that were bad JSON.
            Assert.Equal(12, await prometheus.QueryAsync("sum(octomesh_requests_total{gen_ai_request_model=\"sim-large\",gen_ai_provider_name=\"anthro\"})"));
            Assert.True(await prometheus.QueryAsync("histogram_quantile(0.5, sum by (le) (gen_ai_server_time_to_first_token_seconds_bucket))") > 0);
            Assert.Equal(0, await gateway.StopAsync());
        }
        var (exit, output) = await Promtool.CheckMetricsAsync(scrape);
        Assert.True(exit == 0 && output.Trim().Length == 0, output);

        var trace = work.Trace;
        var export = work.Combine("all.jsonl");
        var (code, text) = await OctoMeshProcess.RunAsync("export", "--trace", trace, "--format", "jsonl", "--out", export);
        Assert.True(code == 0, text);
        var rows = File.ReadAllLines(export).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(60, rows.Count);
        Assert.Equal((long)cost, rows.Sum(r => r.GetProperty("cost_micros").GetInt64()));

        var billing = work.Combine("billing.csv");
        Assert.Contains("exported 60 records", (await OctoMeshProcess.RunAsync("export", "--trace", trace, "--follow", "b", "--once", "--out", billing)).Output);
        Assert.Contains("exported 0 records", (await OctoMeshProcess.RunAsync("export", "--trace", trace, "--follow", "b", "--once", "--out", billing)).Output);
        var totals = work.Combine("totals.csv");
        Assert.Equal(0, (await OctoMeshProcess.RunAsync("export", "--trace", trace, "--group-by", "model", "--out", totals)).ExitCode);
        Assert.Equal((long)cost, File.ReadAllLines(totals).Skip(1).Sum(l => long.Parse(l.Split(',')[^2], CultureInfo.InvariantCulture)));
    }

    private static double Sum(string scrape, string name, string? label = null) => scrape.Split('\n')
        .Where(l => (l.StartsWith(name + "{", StringComparison.Ordinal) || l.StartsWith(name + " ", StringComparison.Ordinal)) && (label is null || l.Contains(label)))
        .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
}
