using System.Text;
using OctoMesh.Edge.Tests.Cache;

namespace OctoMesh.EndToEnd.Tests;

/// <summary>Two native gateway processes and one real Redis: an answer cached through one is served by the other, to the same request and to a rewording of it.</summary>
public sealed class NativeCacheTests
{
    [Fact]
    public async Task TwoGatewayProcessesShareAnswersThroughRedis()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var simulator = await OctoMeshProcess.StartAsync("sim", "--urls", "http://127.0.0.1:0");
        using var work = new WorkDirectory();
        var config = await work.WriteConfigAsync($$"""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{{simulator.Address}}v1" } }, "models": { "*": { "provider": "sim" } },
              "cache": { "exact": true, "redis": "127.0.0.1:{{redis.Port}}", "redisTimeoutMs": 500, "semantic": { "embedder": "hash" } } }
            """);
        await using var a = await OctoMeshProcess.StartAsync("serve", "--config", config, "--urls", "http://127.0.0.1:0");
        await using var b = await OctoMeshProcess.StartAsync("serve", "--config", config, "--urls", "http://127.0.0.1:0");
        using var clientA = new HttpClient { BaseAddress = a.Address };
        using var clientB = new HttpClient { BaseAddress = b.Address };
        const string Body = """{"model":"sim-medium","stream":true,"messages":[{"role":"user","content":"How do I export my invoices as PDF?"}]}""";

        using var first = await clientA.PostAsync("/v1/chat/completions", new StringContent(Body, Encoding.UTF8, "application/json"));
        var firstText = await first.Content.ReadAsStringAsync();
        Assert.Equal("miss", first.Headers.GetValues("x-octomesh-cache").Single());

        // A writes to Redis after answering; B finds it there.
        HttpResponseMessage? second = null;
        for (var i = 0; i < 50; i++)
        {
            second?.Dispose();
            await Task.Delay(20);
            var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(Body, Encoding.UTF8, "application/json") };
            // A miss on B must not fill B's own memory meanwhile: the hit has to come from Redis.
            request.Headers.CacheControl = new System.Net.Http.Headers.CacheControlHeaderValue { NoStore = true };
            second = await clientB.SendAsync(request);
            if (second.Headers.GetValues("x-octomesh-cache").Single() == "hit-exact")
            {
                break;
            }
        }
        Assert.Equal("hit-exact", second!.Headers.GetValues("x-octomesh-cache").Single());
        Assert.Equal(firstText, await second.Content.ReadAsStringAsync());
        Assert.EndsWith("data: [DONE]\n\n", firstText);
        second.Dispose();

        // A rewording on B: its index gets A's question over Redis pub/sub, and the answer is A's.
        var reworded = Body.Replace("How do I export my invoices as PDF?", "how do i export my invoice as pdf");
        HttpResponseMessage? near = null;
        for (var i = 0; i < 50; i++)
        {
            near?.Dispose();
            var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(reworded, Encoding.UTF8, "application/json") };
            request.Headers.CacheControl = new System.Net.Http.Headers.CacheControlHeaderValue { NoStore = true };
            near = await clientB.SendAsync(request);
            if (near.Headers.GetValues("x-octomesh-cache").Single() == "hit-semantic")
            {
                break;
            }
            await Task.Delay(20);
        }
        Assert.Equal("hit-semantic", near!.Headers.GetValues("x-octomesh-cache").Single());
        Assert.Equal(firstText, await near.Content.ReadAsStringAsync());
        near.Dispose();

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
}
