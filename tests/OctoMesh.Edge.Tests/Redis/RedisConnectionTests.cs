using OctoMesh.Edge.Redis;
using OctoMesh.Routing.Configuration;
using StackExchange.Redis;

namespace OctoMesh.Edge.Tests.Redis;

/// <summary>The one Redis connection, against a real redis-server: ACL users, TLS with a private CA, scripts, SCAN, outages.</summary>
public class RedisConnectionTests
{
    private const string Password = "redis-test-password";

    [Fact]
    public async Task AnAclUserRunsScriptsByTheirHashAndScansEveryKey()
    {
        await using var server = await RedisServer.StartAsync(new RedisAccess(Password, User: "octomesh"));
        await using var redis = await RedisConnection.ConnectAsync(new RedisConfig(server.Connection, new RedisCredentials("octomesh", Password), TimeoutMs: 2000));
        var add = new RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])");
        Assert.Equal(5, (long)await add.EvaluateAsync(redis, ["n"], [5]));
        Assert.Equal(7, (long)await add.EvaluateAsync(redis, ["n"], [2]));
        // Redis forgot the script (a restart, a failover): it is sent whole again.
        Assert.Equal(["OK"], await server.CliAsync("SCRIPT", "FLUSH"));
        Assert.Equal(8, (long)await add.EvaluateAsync(redis, ["n"], [1]));

        var batch = redis.Database.CreateBatch();
        var writes = Enumerable.Range(0, 2500).Select(i => batch.StringSetAsync($"page:{i}", i)).ToArray();
        batch.Execute();
        await Task.WhenAll(writes);
        var found = new HashSet<string>();
        await foreach (var key in redis.ScanAsync("page:*"))
        {
            found.Add(key!);
        }
        Assert.Equal(2500, found.Count);
    }

    [Fact]
    public async Task TlsIsTrustedThroughThePrivateCaAndRefusedWithoutIt()
    {
        await using var server = await RedisServer.StartAsync(new RedisAccess(Password, Tls: true));
        var config = new RedisConfig(server.Connection, new RedisCredentials(null, Password), server.CaFile, TimeoutMs: 2000);
        await using (var trusted = await RedisConnection.ConnectAsync(config))
        {
            Assert.True(trusted.Multiplexer.IsConnected);
            await trusted.Database.StringSetAsync("tls", "yes");
            Assert.Equal("yes", (string?)await trusted.Database.StringGetAsync("tls"));
        }
        await using var untrusted = await RedisConnection.ConnectAsync(config with { CaFile = null, TimeoutMs = 200 });
        Assert.False(untrusted.Multiplexer.IsConnected);
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => untrusted.WithinTimeout(untrusted.Database.StringGetAsync("tls")));
        Assert.True(RedisConnection.IsFailure(refused), refused.ToString());
    }

    [Fact]
    public async Task AWrongPasswordAndARedisThatIsDownAreFailuresTheCallerGoesOnWithout()
    {
        await using var server = await RedisServer.StartAsync(Password);
        await using (var wrong = await RedisConnection.ConnectAsync(new RedisConfig(server.Connection, new RedisCredentials(null, "not-it"), TimeoutMs: 200)))
        {
            var refused = await Assert.ThrowsAnyAsync<Exception>(() => wrong.WithinTimeout(wrong.Database.PingAsync()));
            Assert.True(RedisConnection.IsFailure(refused), refused.ToString());
        }

        await using var redis = await RedisConnection.ConnectAsync(new RedisConfig(server.Connection, new RedisCredentials(null, Password), TimeoutMs: 2000));
        await redis.Database.StringSetAsync("k", "v");
        await server.KillAsync();
        var down = await Assert.ThrowsAnyAsync<Exception>(() => redis.WithinTimeout(redis.Database.StringGetAsync("k")));
        Assert.True(RedisConnection.IsFailure(down), down.ToString());

        // Back (empty: no persistence): the client reconnects by itself.
        await server.RestartAsync();
        for (var i = 0; ; i++)
        {
            try
            {
                Assert.True((await redis.WithinTimeout(redis.Database.StringGetAsync("k"))).IsNull);
                break;
            }
            catch (Exception e) when (RedisConnection.IsFailure(e) && i < 200)
            {
                await Task.Delay(50);
            }
        }
    }

    [Fact]
    public void TheSectionBecomesTheClientsSettingsWithTheConnectionStringsOwnOptionsKept()
    {
        var options = RedisConnection.Options(new RedisConfig("a:1,b:2,serviceName=mymaster,ssl=true", new RedisCredentials("u", "p"), TimeoutMs: 80));
        Assert.Equal(["a:1", "b:2"], options.EndPoints.Select(e => e.ToString()!.Replace("Unspecified/", "")));
        Assert.Equal(("mymaster", true, "u", "p"), (options.ServiceName, options.Ssl, options.User, options.Password));
        Assert.Equal((80, false), (options.AsyncTimeout, options.AbortOnConnectFail));
        Assert.Same(BacklogPolicy.FailFast, options.BacklogPolicy);
    }
}
