using System.Diagnostics;
using System.Net;
using OctoMesh.Edge.Tests.Cache;
using OctoMesh.Edge.Tests.Hosting;
using OctoMesh.Edge.Tests.Redis;
using Xunit.Abstractions;
using static OctoMesh.Edge.Tests.Tenancy.TenancyApiTests;

namespace OctoMesh.Edge.Tests.Tenancy;

/// <summary>Two replicas on one real Redis: what one is told, the other knows.</summary>
public class TenancyReplicaTests(ITestOutputHelper output)
{
    private static string Config(int redisPort) => $$"""
        { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}" } }, "models": { "*": { "provider": "sim" } },
          "adminKeys": [ { "name": "ops", "sha256": "{{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("admin-secret"u8))}}" } ],
          "cache": { "exact": true, "ttlSeconds": 60 },
          "redis": { "connection": "127.0.0.1:{{redisPort}}", "timeoutMs": 1000 } }
        """;

    /// <summary>Polls until <paramref name="done"/> holds (10 s at most: the test asserts the outcome, not a speed) and returns how long it took.</summary>
    private static async Task<TimeSpan> Until(Func<Task<bool>> done)
    {
        var clock = Stopwatch.StartNew();
        while (!await done())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), "the other replica never caught up");
            await Task.Delay(2);
        }
        return clock.Elapsed;
    }

    [Fact]
    public async Task KeysMadeOnOneReplicaWorkOnTheOtherAndARevocationReachesIt()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await TestGateway.StartAsync(Config(redis.Port));
        await AdminCall(a.Client, HttpMethod.Post, "/admin/workspaces", """{"name":"team","content":"cache"}""");
        var early = (await AdminCall(a.Client, HttpMethod.Post, "/admin/keys", """{"name":"early","workspace":"team"}""")).Body.GetProperty("key").GetString()!;

        // A replica that starts later reads what was made before it (the hash), then hears of changes (the channel).
        await using var b = await TestGateway.StartAsync(Config(redis.Port));
        await Until(async () => (await Chat(b.Client, early)).StatusCode == HttpStatusCode.OK);
        var (_, created) = await AdminCall(a.Client, HttpMethod.Post, "/admin/keys", """{"name":"ci","workspace":"team"}""");
        var secret = created.GetProperty("key").GetString()!;
        var id = created.GetProperty("id").GetString()!;
        var arrived = await Until(async () => (await Chat(b.Client, secret)).StatusCode == HttpStatusCode.OK);

        Assert.Equal(HttpStatusCode.OK, (await AdminCall(a.Client, HttpMethod.Delete, $"/admin/keys/{id}")).Status);
        var revoked = await Until(async () => (await Chat(b.Client, secret)).StatusCode == HttpStatusCode.Unauthorized);
        Assert.Equal(HttpStatusCode.OK, (await Chat(b.Client, early)).StatusCode);
        output.WriteLine($"new key usable on the other replica after {arrived.TotalMilliseconds:0.0} ms; revocation after {revoked.TotalMilliseconds:0.0} ms");

        // Forgetting on one replica purges the workspace's answers everywhere.
        Assert.Equal("miss", (await Chat(b.Client, early, "Remember me")).Headers.GetValues("x-octomesh-cache").Single());
        Assert.Equal("hit-exact", (await Chat(b.Client, early, "Remember me")).Headers.GetValues("x-octomesh-cache").Single());
        Assert.Equal(HttpStatusCode.OK, (await AdminCall(a.Client, HttpMethod.Post, "/admin/workspaces/team/forget")).Status);
        await Until(async () => (await Chat(b.Client, early, "Remember me")).Headers.GetValues("x-octomesh-cache").Single() == "miss");
    }

    [Fact]
    public async Task ARevocationMadeWhileRedisIsDownReachesTheOtherReplicaWhenItIsBack()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await TestGateway.StartAsync(Config(redis.Port));
        await using var b = await TestGateway.StartAsync(Config(redis.Port));
        await AdminCall(a.Client, HttpMethod.Post, "/admin/workspaces", """{"name":"team","content":"cache"}""");
        var (_, created) = await AdminCall(a.Client, HttpMethod.Post, "/admin/keys", """{"name":"ci","workspace":"team"}""");
        var secret = created.GetProperty("key").GetString()!;
        await Until(async () => (await Chat(b.Client, secret)).StatusCode == HttpStatusCode.OK);

        await redis.KillAsync();
        // Kept here (and on disk) at once; the other replica cannot hear of it yet.
        Assert.Equal(HttpStatusCode.OK, (await AdminCall(a.Client, HttpMethod.Delete, $"/admin/keys/{created.GetProperty("id").GetString()}")).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Chat(a.Client, secret)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Chat(b.Client, secret)).StatusCode);

        // Back (empty: no persistence): both replicas resync, and neither can put the unrevoked key back.
        await redis.RestartAsync();
        var caught = await Until(async () => (await Chat(b.Client, secret)).StatusCode == HttpStatusCode.Unauthorized);
        output.WriteLine($"revocation reached the other replica {caught.TotalMilliseconds:0} ms after Redis came back");
        Assert.Equal(HttpStatusCode.Unauthorized, (await Chat(a.Client, secret)).StatusCode);
        Assert.Contains("\"revoked\"", (await redis.CliAsync("HGET", "octomesh:tenancy", "k:" + created.GetProperty("id").GetString()))[0]);
    }

    [Fact]
    public async Task AReplicaThatWasAwayForgetsWhenItIsBack()
    {
        await using var redis = await RedisServer.StartAsync();
        var directory = Path.Combine(Path.GetTempPath(), $"octomesh-away-{Guid.NewGuid():N}");
        var away = Config(redis.Port).Replace("\"redis\": {", $$"""  "tenancy": { "directory": "{{directory}}" }, "redis": {""");
        try
        {
            await using var a = await TestGateway.StartAsync(Config(redis.Port));
            await AdminCall(a.Client, HttpMethod.Post, "/admin/workspaces", """{"name":"team","content":"full"}""");
            var key = (await AdminCall(a.Client, HttpMethod.Post, "/admin/keys", """{"name":"ci","workspace":"team"}""")).Body.GetProperty("key").GetString()!;
            string content;
            await using (var b = await TestGateway.StartAsync(away))
            {
                await Until(async () => (await Chat(b.Client, key, "kept on b")).StatusCode == HttpStatusCode.OK);
                var vault = await KeptAsync(b, "team", 1);
                content = vault.PathOf("team");
                Assert.True(File.Exists(content));
            }
            // Forgotten while b is stopped: b hears of it at its first resync.
            var (_, forgot) = await AdminCall(a.Client, HttpMethod.Post, "/admin/workspaces/team/forget");
            Assert.True(forgot.GetProperty("shared_with_replicas").GetBoolean());
            await using var back = await TestGateway.StartAsync(away);
            Assert.False(File.Exists(content));
            Assert.DoesNotContain("\"team\"", await File.ReadAllTextAsync(Path.Combine(directory, "keyring.json")));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
