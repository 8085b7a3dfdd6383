using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using OctoMesh.Edge.Metering;
using OctoMesh.Edge.Tests.Hosting;
using OctoMesh.Edge.Tests.Telemetry;

namespace OctoMesh.Edge.Tests.Metering;

/// <summary>The trace log, the billing export and <c>/admin/usage</c> agree with <c>/metrics</c> to the micro-dollar.</summary>
public class TraceReconcileTests
{
    [Fact]
    public async Task ExportUsageAndMetricsAgreeToTheMicroDollarAndAFollowCursorNeverCountsTwice()
    {
        var admin = Convert.ToHexString(SHA256.HashData("admin-secret"u8)).ToLowerInvariant();
        var team = Convert.ToHexString(SHA256.HashData("om-team-a"u8)).ToLowerInvariant();
        await using var test = await TestGateway.StartAsync($$"""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}" } },
              "models": { "*": { "provider": "sim" } },
              "adminKeys": [ { "name": "ops", "sha256": "{{admin}}" } ],
              "clientKeys": [ { "name": "a-key", "sha256": "{{team}}", "workspace": "team-a" } ],
              "routes": [ { "name": "failover", "match": { "model": "chat" }, "targets": [ { "provider": "sim", "model": "fail-500" }, { "provider": "sim", "model": "sim-large" } ] } ] }
            """);
        string[] bodies =
        [
            """{"model":"sim-small","messages":[{"role":"user","content":"Hello"}]}""",
            """{"model":"sim-large","stream":true,"messages":[{"role":"user","content":"Tell me about the sea"}]}""",
            """{"model":"chat","messages":[{"role":"user","content":"Rescue me"}]}""",
            """{"model":"sim-medium","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Count to five"}]}""",
            """{"model":"sim-small","messages":"not an array"}""",
        ];
        foreach (var body in bodies)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "om-team-a");
            using var response = await test.Client.SendAsync(request);
            await response.Content.ReadAsStringAsync();
        }
        using (var anonymous = await test.Client.PostAsync("/v1/chat/completions", new StringContent("{}", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }

        var scrape = await Scrape.OfAsync(test);
        var cost = (long)scrape.Sum("octomesh_cost_microdollars_total");
        Assert.True(cost > 0);
        Assert.Equal(6, scrape.Sum("octomesh_requests_total"));

        // Every request is traced, the refused ones too, once its group commit is done.
        JsonElement usage = default;
        for (var i = 0; i < 200; i++)
        {
            usage = await UsageAsync(test, "/admin/usage?groupBy=workspace,model");
            if (usage.GetProperty("total").GetProperty("requests").GetInt64() == 6)
            {
                break;
            }
            await Task.Delay(20);
        }
        Assert.Equal(6, usage.GetProperty("total").GetProperty("requests").GetInt64());
        Assert.Equal(cost, usage.GetProperty("total").GetProperty("costMicros").GetInt64());
        Assert.Equal(UsageReport.Usd(cost), usage.GetProperty("total").GetProperty("costUsd").GetString());
        var teamA = await UsageAsync(test, "/admin/usage?workspace=team-a");
        Assert.Equal(5, teamA.GetProperty("total").GetProperty("requests").GetInt64());
        Assert.Equal(cost, teamA.GetProperty("total").GetProperty("costMicros").GetInt64());
        Assert.Contains(teamA.GetProperty("groups").EnumerateArray(), g => g.GetProperty("model").GetString() == "sim-large" && g.GetProperty("requests").GetInt64() == 2);
        var empty = await UsageAsync(test, "/admin/usage?workspace=team-a&from=2001-01-01&to=2001-02-01");
        Assert.Equal(0, empty.GetProperty("total").GetProperty("requests").GetInt64());

        // The export, read while the gateway runs, has the same total; a follow cursor run twice adds nothing the second time.
        using (var reader = TraceReader.Open(test.TraceDirectory))
        using (var output = new MemoryStream())
        {
            Assert.Equal(6, BillingExport.Export(reader, output, ExportFormat.Jsonl, null, null, []));
            var rows = Encoding.UTF8.GetString(output.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
            Assert.Equal(cost, rows.Sum(r => r.GetProperty("cost_micros").GetInt64()));
            var rescued = rows.Single(r => r.GetProperty("route").GetString() == "failover");
            Assert.Equal(("sim-large", 1, 200), (rescued.GetProperty("model").GetString(), rescued.GetProperty("fallbacks").GetInt32(), rescued.GetProperty("status").GetInt32()));
            Assert.Equal(2, rows.Count(r => r.GetProperty("stream").GetBoolean()));
            Assert.Single(rows, r => r.GetProperty("status").GetInt32() == 401 && r.GetProperty("workspace").GetString() == "");
        }
        var billing = Path.Combine(test.TraceDirectory, "billing.jsonl");
        Assert.Equal(6, await BillingExport.FollowAsync(test.TraceDirectory, "billing", billing, ExportFormat.Jsonl, null, TextWriter.Null, default));
        Assert.Equal(0, await BillingExport.FollowAsync(test.TraceDirectory, "billing", billing, ExportFormat.Jsonl, null, TextWriter.Null, default));
        Assert.Equal(cost, File.ReadAllLines(billing).Sum(l => JsonDocument.Parse(l).RootElement.GetProperty("cost_micros").GetInt64()));
    }

    private static async Task<JsonElement> UsageAsync(TestGateway test, string path)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "admin-secret");
        using var response = await test.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }
}
