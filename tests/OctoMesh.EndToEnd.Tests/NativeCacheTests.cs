using System.Text;
using System.Net.Http.Headers;
using OctoMesh.Edge.Tests.Redis;

namespace OctoMesh.EndToEnd.Tests;

/// <summary>
/// Two native gateway processes and one real Redis, over TLS with a private CA and an ACL user: an answer cached through
/// one is served by the other, to the same request and to a rewording of it, and a purge through one empties both.
/// </summary>
public sealed class NativeCacheTests
{
    [Fact]
    public async Task TwoGatewayProcessesShareAnswersThroughRedis()
    {
        const string Password = "redis-tls-SECRET-3d9e";
        await using var redis = await RedisServer.StartAsync(new RedisAccess(Password, User: "octomesh", Tls: true));
        await using var simulator = await OctoMeshProcess.StartAsync("sim", "--urls", "http://127.0.0.1:0");
        using var work = new WorkDirectory();
        var admin = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("admin-secret"u8));
        var config = await work.WriteConfigAsync($$"""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{{simulator.Address}}v1" } }, "models": { "*": { "provider": "sim" } },
              "adminKeys": [ { "name": "ops", "sha256": "{{admin}}" } ],
              "cache": { "exact": true, "semantic": { "embedder": "hash" } },
              "redis": { "connection": "{{redis.Connection}}", "user": "octomesh", "password": "${REDIS_PASSWORD}", "caFile": "{{redis.CaFile}}", "timeoutMs": 500 } }
            """);
        KeyValuePair<string, string>[] environment = [new("REDIS_PASSWORD", Password)];
        await using var a = await OctoMeshProcess.StartInAsync(work.Path, environment, "serve", "--config", config, "--urls", "http://127.0.0.1:0");
        await using var b = await OctoMeshProcess.StartInAsync(work.Path, environment, "serve", "--config", config, "--urls", "http://127.0.0.1:0");
        using var clientA = new HttpClient { BaseAddress = a.Address };
        using var clientB = new HttpClient { BaseAddress = b.Address };
        const string Body = """{"model":"sim-medium","stream":true,"messages":[{"role":"user","content":"How do I export my invoices as PDF?"}]}""";

        using var first = await clientA.PostAsync("/v1/chat/completions", new StringContent(Body, Encoding.UTF8, "application/json"));
        var firstText = await first.Content.ReadAsStringAsync();
        Assert.Equal("miss", first.Headers.GetValues("x-octomesh-cache").Single());

        // A writes to Redis after answering; B finds it there.
        var (second, secondText) = await UntilAsync(clientB, Body, "hit-exact");
        Assert.Equal(("hit-exact", firstText), (second, secondText));
        Assert.EndsWith("data: [DONE]\n\n", firstText);

        // A rewording on B: its index gets A's question over Redis pub/sub, and the answer is A's.
        var (near, nearText) = await UntilAsync(clientB, Body.Replace("How do I export my invoices as PDF?", "how do i export my invoice as pdf"), "hit-semantic");
        Assert.Equal(("hit-semantic", firstText), (near, nearText));

        // A purge through B: gone from Redis and from A's memory, so A asks upstream again (and keeps the new answer).
        var purge = new HttpRequestMessage(HttpMethod.Delete, "/admin/cache?all=true");
        purge.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "admin-secret");
        Assert.True((await clientB.SendAsync(purge)).IsSuccessStatusCode);
        Assert.DoesNotContain(await redis.CliAsync("--scan", "--pattern", "octomesh:answer:*"), key => !key.Contains("__fc:", StringComparison.Ordinal));
        Assert.Equal("miss", (await UntilAsync(clientA, Body, "miss")).Cache);
        using (var refill = await clientA.PostAsync("/v1/chat/completions", new StringContent(Body, Encoding.UTF8, "application/json")))
        {
            firstText = await refill.Content.ReadAsStringAsync();
        }

        // Redis killed mid-run: both keep serving, repeats from their own memory, new questions upstream.
        await redis.KillAsync();
        using var fromMemory = await clientA.PostAsync("/v1/chat/completions", new StringContent(Body, Encoding.UTF8, "application/json"));
        using var upstream = await clientB.PostAsync("/v1/chat/completions",
            new StringContent(Body.Replace("How do I export my invoices as PDF?", "What is a pro-forma invoice?"), Encoding.UTF8, "application/json"));
        Assert.Equal(("hit-exact", System.Net.HttpStatusCode.OK, "miss"),
            (fromMemory.Headers.GetValues("x-octomesh-cache").Single(), upstream.StatusCode, upstream.Headers.GetValues("x-octomesh-cache").Single()));
        Assert.Equal(firstText, await fromMemory.Content.ReadAsStringAsync());
    }

    /// <summary>The openai and @anthropic-ai/sdk npm SDKs read what the cache serves: answers in the other shape, semantic hits.</summary>
    [Fact]
    public async Task OfficialSdksReadCachedAnswersInEitherShape()
    {
        await using var simulator = await OctoMeshProcess.StartAsync("sim", "--urls", "http://127.0.0.1:0");
        using var work = new WorkDirectory();
        var config = await work.WriteConfigAsync($$"""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{{simulator.Address}}v1" } }, "models": { "*": { "provider": "sim" } },
              "cache": { "exact": true, "semantic": { "embedder": "hash" } } }
            """);
        await using var gateway = await OctoMeshProcess.StartAsync("serve", "--config", config, "--urls", "http://127.0.0.1:0");
        var output = await NativeGatewayTests.NodeAsync("cache-smoke.mjs", gateway.Address.ToString().TrimEnd('/'));
        Assert.Equal(["ok openai json kept, stream served", "ok openai stream kept, json served", "ok openai semantic hit", "ok anthropic both ways"],
            output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    /// <summary>
    /// Asks until the cache says <paramref name="outcome"/> (what another replica did reaches this one in milliseconds; 50
    /// tries). The requests say <c>no-store</c>, so a miss meanwhile does not fill this replica's own memory.
    /// </summary>
    private static async Task<(string Cache, string Body)> UntilAsync(HttpClient client, string body, string outcome)
    {
        for (var i = 0; ; i++)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            request.Headers.CacheControl = new CacheControlHeaderValue { NoStore = true };
            using var response = await client.SendAsync(request);
            var cache = response.Headers.GetValues("x-octomesh-cache").Single();
            if (cache == outcome || i == 49)
            {
                return (cache, await response.Content.ReadAsStringAsync());
            }
            await Task.Delay(20);
        }
    }
}
