using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using OctoMesh.Edge.Telemetry;
using OctoMesh.Edge.Tests.Hosting;
using OctoMesh.Routing.Pricing;

namespace OctoMesh.Edge.Tests.Telemetry;

/// <summary>What <c>/metrics</c> says after real requests through the gateway and the simulator.</summary>
public class GatewayMetricsTests
{
    private static async Task<HttpResponseMessage> Post(TestGateway test, string body, string? key = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (key is not null)
        {
            request.Headers.Authorization = new("Bearer", key);
        }
        return await test.Client.SendAsync(request);
    }

    private static string Chat(string model, string text, bool stream = false) => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["model"] = model,
        ["messages"] = new[] { new Dictionary<string, string> { ["role"] = "user", ["content"] = text } },
        ["stream"] = stream,
    }).Replace("\"stream\":true", "\"stream\":true,\"stream_options\":{\"include_usage\":true}");

    /// <summary>The usage the client saw: the body's <c>usage</c>, or the last stream chunk's.</summary>
    private static async Task<(long Prompt, long Completion)> UsageOf(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        var json = text.StartsWith('{') ? text : text.Split('\n').Where(l => l.StartsWith("data: {", StringComparison.Ordinal) && l.Contains("\"usage\":{")).Last()[6..];
        var usage = JsonDocument.Parse(json).RootElement.GetProperty("usage");
        return (usage.GetProperty("prompt_tokens").GetInt64(), usage.GetProperty("completion_tokens").GetInt64());
    }

    [Fact]
    public async Task CostAndTokensAddUpToWhatTheClientsWereAnswered()
    {
        await using var test = await TestGateway.StartAsync();
        long expectedCost = 0, prompt = 0, completion = 0;
        var requests = new[]
        {
            ("sim-small", "Hello there", false), ("sim-large", "What is the capital of France?", false),
            ("sim-large", "Tell me a story about a lighthouse keeper", true), ("fast", "Hi", true), ("sim-medium", "One more", false),
        };
        foreach (var (model, text, stream) in requests)
        {
            using var response = await Post(test, Chat(model, text, stream));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var upstream = response.Headers.GetValues("x-octomesh-model").Single();
            var (p, c) = await UsageOf(response);
            Assert.True(PriceTable.Defaults.TryFind(upstream, out var price));
            expectedCost += price.Cost(p, c, 0, 0, 0);
            (prompt, completion) = (prompt + p, completion + c);
        }
        using (await Post(test, "{not json")) { }
        using (await Post(test, Chat("sim-small", "Hi").Replace("\"model\":\"sim-small\"", "\"model\":7"))) { }

        var scrape = await Scrape.OfAsync(test);
        Assert.True(expectedCost > 0);
        Assert.Equal(expectedCost, scrape.Sum("octomesh_cost_microdollars_total"));
        Assert.Equal(prompt, scrape.Sum("octomesh_tokens_total", "gen_ai_token_type=\"input\""));
        Assert.Equal(completion, scrape.Sum("octomesh_tokens_total", "gen_ai_token_type=\"output\""));
        Assert.Equal(5, scrape.Sum("octomesh_requests_total", "octomesh_status_class=\"2xx\""));
        Assert.Equal(2, scrape.Sum("octomesh_requests_total", "octomesh_status_class=\"4xx\""));
        Assert.Equal(2, scrape.Sum("gen_ai_server_time_to_first_token_seconds_count"));
        Assert.Equal(7, scrape.Sum("gen_ai_client_operation_duration_seconds_count"));
        Assert.Equal(7, scrape.Sum("octomesh_gateway_overhead_seconds_count"));
        Assert.Equal(0, scrape.Sum("octomesh_active_streams"));
        Assert.Equal(0, scrape.Sum("octomesh_unpriced_requests_total"));

        var (exit, output) = await Promtool.CheckMetricsAsync(scrape.Text);
        Assert.True(exit == 0 && output.Trim().Length == 0, output);
    }

    [Fact]
    public async Task FailoverRetriesHedgesAndBreakersAreCounted()
    {
        await using var test = await TestGateway.StartAsync("""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}" } },
              "routes": [
                { "name": "failover", "match": { "model": "chat" }, "retry": { "attempts": 1, "backoffMs": 1, "maxBackoffMs": 5 }, "breaker": { "failures": 2 },
                  "targets": [ { "provider": "sim", "model": "fail-503" }, { "provider": "sim", "model": "sim-small" } ] },
                { "name": "hedged", "match": { "model": "hedged" }, "hedgeAfterMs": 50,
                  "targets": [ { "provider": "sim", "model": "slow-1000" }, { "provider": "sim", "model": "sim-small" } ] }
              ] }
            """);
        using (var rescued = await Post(test, Chat("chat", "Hello")))
        {
            Assert.Equal(HttpStatusCode.OK, rescued.StatusCode);
        }
        using (var hedged = await Post(test, Chat("hedged", "Hello")))
        {
            Assert.Equal(HttpStatusCode.OK, hedged.StatusCode);
        }

        var scrape = await Scrape.OfAsync(test);
        // fail-503 tried twice (one retry), then the fallback answered.
        Assert.Equal(1, scrape.Sum("octomesh_retries_total", "octomesh_route=\"failover\""));
        Assert.Equal(1, scrape.Sum("octomesh_fallbacks_total", "octomesh_route=\"failover\""));
        Assert.Equal(2, scrape.Sum("octomesh_upstream_errors_total", "error_type=\"server_error\""));
        Assert.Equal(1, scrape.Sum("octomesh_hedges_total", "octomesh_route=\"hedged\""));
        // Two failures in a row opened the first target's breaker; the others stay closed.
        Assert.Equal(2, scrape.Sum("octomesh_breaker_state", "octomesh_route=\"failover\"", "gen_ai_request_model=\"fail-503\""));
        Assert.Equal(0, scrape.Sum("octomesh_breaker_state", "gen_ai_request_model=\"sim-small\""));
        Assert.Equal(2, scrape.Sum("octomesh_requests_total", "octomesh_status_class=\"2xx\"", "gen_ai_request_model=\"sim-small\""));
    }

    [Fact]
    public async Task AWorkspaceLabelAppearsOnlyWhenConfigured()
    {
        var hash = Convert.ToHexString(SHA256.HashData("om-team-a"u8)).ToLowerInvariant();
        var config = $$"""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}" } }, "models": { "*": { "provider": "sim" } },
              "clientKeys": [ { "name": "a", "sha256": "{{hash}}", "workspace": "team-a" } ] METRICS }
            """;
        await using (var plain = await TestGateway.StartAsync(config.Replace("METRICS", "")))
        {
            using (await Post(plain, Chat("sim-small", "Hi"), "om-team-a")) { }
            Assert.DoesNotContain("octomesh_workspace", (await Scrape.OfAsync(plain)).Text);
        }
        await using var labelled = await TestGateway.StartAsync(config.Replace("METRICS", ", \"metrics\": { \"workspaceLabel\": true }"));
        using (await Post(labelled, Chat("sim-small", "Hi"), "om-team-a")) { }
        var scrape = await Scrape.OfAsync(labelled);
        Assert.Equal(1, scrape.Sum("octomesh_requests_total", "octomesh_workspace=\"team-a\""));
        Assert.True(scrape.Sum("octomesh_cost_microdollars_total", "octomesh_workspace=\"team-a\"") > 0);
    }

    /// <summary>The registry's text, as <c>/metrics</c> serves it.</summary>
    internal static async Task<string> TextOf(GatewayMetrics metrics)
    {
        using var stream = new MemoryStream();
        await metrics.Registry.CollectAndExportAsTextAsync(stream);
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    [Fact]
    public async Task WhatWasRecordedBeforeTheFirstScrapeIsInIt()
    {
        var metrics = new GatewayMetrics();
        metrics.Retry("chat");
        metrics.Retry("chat");
        metrics.StreamStarted("chat");
        metrics.TraceCommitted(0.0003);
        var lines = (await TextOf(metrics)).Split('\n');
        Assert.Contains("octomesh_retries_total{octomesh_route=\"chat\"} 2", lines);
        Assert.Contains("octomesh_active_streams{gen_ai_operation_name=\"chat\"} 1", lines);
        Assert.Contains("octomesh_trace_commit_duration_seconds_bucket{le=\"0.0005\"} 1", lines);
        Assert.Contains("octomesh_trace_commit_failures_total 0", lines);
    }

    [Fact]
    public async Task ObservedValuesAreReadAtEachScrapeAndSeriesNoLongerReadDisappear()
    {
        var metrics = new GatewayMetrics();
        long dropped = 0;
        string[] routes = ["a", "b"];
        metrics.ObserveCounter("t_dropped_total", "Dropped.", () => dropped);
        metrics.ObserveGauges("t_breaker", "Breakers.", ["route"], () => routes.Select(r => (new[] { r }, 2.0)));
        var first = (await TextOf(metrics)).Split('\n');
        Assert.Contains("t_dropped_total 0", first);
        Assert.Contains("t_breaker{route=\"b\"} 2", first);
        (dropped, routes) = (5, ["a"]);
        var text = await TextOf(metrics);
        Assert.Contains("t_dropped_total 5", text.Split('\n'));
        Assert.Contains("t_breaker{route=\"a\"} 2", text.Split('\n'));
        Assert.DoesNotContain("route=\"b\"", text);
        var (exit, output) = await Promtool.CheckMetricsAsync(text);
        Assert.True(exit == 0 && output.Trim().Length == 0, output);
    }
}
