using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using OctoMesh.Edge.Tests.Cache;

namespace OctoMesh.EndToEnd.Tests;

/// <summary>Budgets and rate limits on the native binary: two gateway processes and one real Redis keep one count between them.</summary>
public sealed class NativeTenancyTests
{
    [Fact]
    public async Task TwoGatewayProcessesCannotOvershootOneBudgetUnderParallelLoad()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var simulator = await OctoMeshProcess.StartAsync("sim", "--urls", "http://127.0.0.1:0");
        var work = OctoMeshProcess.NewWorkingDirectory();
        var config = Path.Combine(work, "octomesh.json");
        var key = Convert.ToHexString(SHA256.HashData("sk-team"u8)).ToLowerInvariant();
        string Config(decimal usd) => $$"""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{{simulator.Address}}v1" } }, "models": { "*": { "provider": "sim" } },
              "clientKeys": [ { "name": "team", "sha256": "{{key}}", "workspace": "team" } ],
              "prices": { "sim-small": { "input": 1, "output": 1 } },
              "budgets": [ { "name": "team-daily", "workspace": "team", "usd": {{usd}} } ],
              "redis": { "address": "127.0.0.1:{{redis.Port}}", "timeoutMs": 1000 } }
            """;
        const string Body = """{"model":"sim-small","max_tokens":20,"messages":[{"role":"user","content":"Count to twenty"}]}""";
        static HttpRequestMessage Request()
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(Body, Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new("Bearer", "sk-team");
            request.Headers.Add("x-sim-tokens", "20");
            return request;
        }
        try
        {
            // One request's cost at USD 1 per million tokens is its token count; the budget allows ten of them.
            await File.WriteAllTextAsync(config, Config(1000));
            long cost;
            await using (var probe = await OctoMeshProcess.StartAsync("serve", "--config", config, "--urls", "http://127.0.0.1:0"))
            {
                using var client = new HttpClient { BaseAddress = probe.Address };
                cost = JsonNode.Parse(await (await client.SendAsync(Request())).Content.ReadAsStringAsync())!["usage"]!["total_tokens"]!.GetValue<long>();
            }
            await File.WriteAllTextAsync(config, Config(10 * cost / 1_000_000m));
            await redis.CliAsync("FLUSHALL");

            await using var a = await OctoMeshProcess.StartAsync("serve", "--config", config, "--urls", "http://127.0.0.1:0");
            await using var b = await OctoMeshProcess.StartAsync("serve", "--config", config, "--urls", "http://127.0.0.1:0");
            using var clientA = new HttpClient { BaseAddress = a.Address };
            using var clientB = new HttpClient { BaseAddress = b.Address };
            var answers = await Task.WhenAll(Enumerable.Range(0, 100).Select(i => (i % 2 == 0 ? clientA : clientB).SendAsync(Request())));
            var served = answers.Count(r => r.StatusCode == HttpStatusCode.OK);
            Assert.InRange(served, 1, 10);
            Assert.All(answers.Where(r => r.StatusCode != HttpStatusCode.OK), r => Assert.Equal(HttpStatusCode.TooManyRequests, r.StatusCode));

            // What Redis holds: the exact cost of what was served, nothing left reserved, within the limit.
            var counts = await redis.CliAsync("HMGET", $"octomesh:budget:team-daily:{DateTime.UtcNow:yyyy-MM-dd}", "spent", "reserved");
            Assert.Equal((served * cost, 0L), (long.Parse(counts[0]), long.Parse(counts[1])));
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    [Fact]
    public async Task TwoGatewayProcessesShareOneRateLimit()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var simulator = await OctoMeshProcess.StartAsync("sim", "--urls", "http://127.0.0.1:0");
        var work = OctoMeshProcess.NewWorkingDirectory();
        var config = Path.Combine(work, "octomesh.json");
        await File.WriteAllTextAsync(config, $$"""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{{simulator.Address}}v1" } }, "models": { "*": { "provider": "sim" } },
              "rateLimits": [ { "name": "everyone", "requestsPerMinute": 3 } ],
              "redis": { "address": "127.0.0.1:{{redis.Port}}", "timeoutMs": 1000 } }
            """);
        try
        {
            await using var a = await OctoMeshProcess.StartAsync("serve", "--config", config, "--urls", "http://127.0.0.1:0");
            await using var b = await OctoMeshProcess.StartAsync("serve", "--config", config, "--urls", "http://127.0.0.1:0");
            using var clientA = new HttpClient { BaseAddress = a.Address };
            using var clientB = new HttpClient { BaseAddress = b.Address };
            var statuses = new List<HttpStatusCode>();
            for (var i = 0; i < 6; i++)
            {
                using var answer = await (i % 2 == 0 ? clientA : clientB).PostAsync("/v1/chat/completions",
                    new StringContent("""{"model":"sim-small","max_tokens":5,"messages":[{"role":"user","content":"Hi"}]}""", Encoding.UTF8, "application/json"));
                statuses.Add(answer.StatusCode);
            }
            Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK,
                HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], statuses);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
