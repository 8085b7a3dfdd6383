using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using OctoMesh.Edge.Tests.Redis;

namespace OctoMesh.EndToEnd.Tests;

/// <summary>
/// Tenancy on the native binary: two gateway processes and one real Redis keep one budget and rate-limit count between
/// them, share keys and revocations, and forget a workspace's content together.
/// </summary>
public sealed class NativeTenancyTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const string AdminSecret = "admin-e2e-secret";

    private static HttpRequestMessage Admin(HttpMethod method, string path, string? body = null)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new("Bearer", AdminSecret);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }
        return request;
    }

    private static HttpRequestMessage Chat(string key, string content)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent($$"""{"model":"sim-small","messages":[{"role":"user","content":"{{content}}"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new("Bearer", key);
        return request;
    }

    /// <summary>The export once it holds the usage records and kept exchanges expected (both are written just after a request ends).</summary>
    private static async Task<string[]> Export(HttpClient client, string workspace, int requests, int exchanges)
    {
        for (var i = 0; ; i++)
        {
            using var response = await client.SendAsync(Admin(HttpMethod.Get, $"/admin/workspaces/{workspace}/export"));
            var lines = (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            if ((lines.Count(l => l.StartsWith("{\"type\":\"request\"", StringComparison.Ordinal)) >= requests
                 && lines.Count(l => l.StartsWith("{\"type\":\"exchange\"", StringComparison.Ordinal)) >= exchanges) || i == 200)
            {
                return lines;
            }
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task KeysRevocationsAndForgettingReachEveryReplica()
    {
        await using var redis = await RedisServer.StartAsync(new RedisAccess(Tls: true));
        await using var simulator = await OctoMeshProcess.StartAsync("sim", "--urls", "http://127.0.0.1:0");
        using var work = new WorkDirectory();
        var config = await work.WriteConfigAsync($$"""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{{simulator.Address}}v1" } }, "models": { "*": { "provider": "sim" } },
              "adminKeys": [ { "name": "ops", "sha256": "{{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(AdminSecret)))}}" } ],
              "cache": { "exact": true },
              "redis": {{redis.Section()}} }
            """);
        // Each replica in a working directory of its own: its own store, keyring and kept content (data/tenancy).
        await using var a = await OctoMeshProcess.StartAsync("serve", "--config", config, "--urls", "http://127.0.0.1:0");
        await using var b = await OctoMeshProcess.StartAsync("serve", "--config", config, "--urls", "http://127.0.0.1:0");
        using var clientA = new HttpClient { BaseAddress = a.Address };
        using var clientB = new HttpClient { BaseAddress = b.Address };
        Assert.Equal(HttpStatusCode.Created, (await clientA.SendAsync(Admin(HttpMethod.Post, "/admin/workspaces", """{"name":"team","content":"full"}"""))).StatusCode);
        var created = JsonNode.Parse(await (await clientA.SendAsync(Admin(HttpMethod.Post, "/admin/keys", """{"name":"ci","workspace":"team"}"""))).Content.ReadAsStringAsync())!;
        var key = created["key"]!.GetValue<string>();
        var other = JsonNode.Parse(await (await clientA.SendAsync(Admin(HttpMethod.Post, "/admin/keys", """{"name":"short","workspace":"team"}"""))).Content.ReadAsStringAsync())!;

        // Made on A, usable on B; revoked on A, refused by B.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while ((await clientB.SendAsync(Chat(other["key"]!.GetValue<string>(), "hi"))).StatusCode != HttpStatusCode.OK)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), "B never accepted the key made on A");
        }
        Assert.Equal(HttpStatusCode.OK, (await clientA.SendAsync(Admin(HttpMethod.Delete, $"/admin/keys/{other["id"]}"))).StatusCode);
        clock.Restart();
        while ((await clientB.SendAsync(Chat(other["key"]!.GetValue<string>(), "hi"))).StatusCode != HttpStatusCode.Unauthorized)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), "B never refused the key revoked on A");
        }
        output.WriteLine($"revocation refused by the other process after {clock.Elapsed.TotalMilliseconds:0.0} ms");

        // A full workspace's exchange: kept redacted and encrypted on A, in A's export.
        Assert.Equal(HttpStatusCode.OK, (await clientA.SendAsync(Chat(key, "Call me at +1 415 555 0100 about the plan"))).StatusCode);
        var before = await Export(clientA, "team", 1, 1);
        var exchange = Assert.Single(before, l => l.StartsWith("{\"type\":\"exchange\"", StringComparison.Ordinal));
        Assert.Contains("Call me at [REDACTED:phone] about the plan", exchange);
        var contentFile = Assert.Single(Directory.GetFiles(Path.Combine(a.WorkingDirectory, "data", "tenancy", "content")));
        Assert.DoesNotContain("plan", await File.ReadAllTextAsync(contentFile));
        var copy = await File.ReadAllTextAsync(contentFile);

        // octomesh forget, through A: A's keys and content are gone, the cache is purged everywhere, billing stays.
        var (exit, said) = await OctoMeshProcess.RunAsync([new("OCTOMESH_ADMIN_KEY", AdminSecret)], "forget", "--workspace", "team", "--url", a.Address.ToString());
        Assert.True(exit == 0, said);
        Assert.Contains("\"exchanges_destroyed\":1", said);
        Assert.False(File.Exists(contentFile));
        Assert.DoesNotContain("\"team\"", await File.ReadAllTextAsync(Path.Combine(a.WorkingDirectory, "data", "tenancy", "keyring.json")));
        var after = await Export(clientA, "team", 1, 0);
        Assert.DoesNotContain(after, l => l.Contains("\"type\":\"exchange\"", StringComparison.Ordinal) || l.Contains("cached_answer", StringComparison.Ordinal));
        Assert.Equal(before.Where(l => l.StartsWith("{\"type\":\"request\"", StringComparison.Ordinal)),
            after.Where(l => l.StartsWith("{\"type\":\"request\"", StringComparison.Ordinal)));
        // The copy taken before was sealed by the workspace's key 1, which the keyring no longer holds (above).
        Assert.StartsWith("1.", copy);
        using var rerun = await clientB.SendAsync(Chat(key, "Call me at +1 415 555 0100 about the plan"));
        Assert.Equal("miss", rerun.Headers.GetValues("x-octomesh-cache").Single());
    }

    [Fact]
    public async Task TwoGatewayProcessesCannotOvershootOneBudgetUnderParallelLoad()
    {
        await using var redis = await RedisServer.StartAsync(new RedisAccess(Tls: true));
        await using var simulator = await OctoMeshProcess.StartAsync("sim", "--urls", "http://127.0.0.1:0");
        using var work = new WorkDirectory();
        var config = work.Combine("octomesh.json");
        var key = Convert.ToHexString(SHA256.HashData("sk-team"u8)).ToLowerInvariant();
        string Config(decimal usd) => $$"""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{{simulator.Address}}v1" } }, "models": { "*": { "provider": "sim" } },
              "clientKeys": [ { "name": "team", "sha256": "{{key}}", "workspace": "team" } ],
              "prices": { "sim-small": { "input": 1, "output": 1 } },
              "budgets": [ { "name": "team-daily", "workspace": "team", "usd": {{usd}} } ],
              "redis": {{redis.Section()}} }
            """;
        const string Body = """{"model":"sim-small","max_tokens":20,"messages":[{"role":"user","content":"Count to twenty"}]}""";
        static HttpRequestMessage Request()
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(Body, Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new("Bearer", "sk-team");
            request.Headers.Add("x-sim-tokens", "20");
            return request;
        }
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

    [Fact]
    public async Task TwoGatewayProcessesShareOneRateLimit()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var simulator = await OctoMeshProcess.StartAsync("sim", "--urls", "http://127.0.0.1:0");
        using var work = new WorkDirectory();
        var config = await work.WriteConfigAsync($$"""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{{simulator.Address}}v1" } }, "models": { "*": { "provider": "sim" } },
              "rateLimits": [ { "name": "everyone", "requestsPerMinute": 3 } ],
              "redis": {{redis.Section()}} }
            """);
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
}
