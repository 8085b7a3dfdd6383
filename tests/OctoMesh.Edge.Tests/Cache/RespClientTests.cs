using System.Buffers;
using System.Text;
using OctoMesh.Edge.Cache.Redis;

namespace OctoMesh.Edge.Tests.Cache;

/// <summary>The RESP client against a real redis-server.</summary>
public class RespClientTests
{
    /// <summary>Generous timeouts (the suite runs in parallel on two cores), a short backoff.</summary>
    private static readonly RespOptions s_fast = new(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2), TimeSpan.FromMilliseconds(200));

    [Fact]
    public async Task GetSetExpiryDeleteAndErrors()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var client = new RespClient("127.0.0.1", redis.Port, s_fast);
        Assert.True(await client.PingAsync());
        Assert.Null(await client.GetAsync("missing"));

        var binary = Enumerable.Range(0, 300).Select(i => (byte)i).ToArray();   // every byte value, CR and LF included
        await client.SetAsync("k", binary);
        Assert.Equal(binary, await client.GetAsync("k"));
        await client.SetAsync("empty", ReadOnlyMemory<byte>.Empty);
        Assert.Empty((await client.GetAsync("empty"))!);

        await client.SetAsync("brief", "x"u8.ToArray(), TimeSpan.FromMilliseconds(30));
        Assert.InRange((await client.ExecuteAsync(["PTTL", "brief"])).Integer, 1, 30);
        await Task.Delay(80);
        Assert.Null(await client.GetAsync("brief"));

        Assert.Equal(2, await client.DelAsync(["k", "empty", "never"]));
        var error = await client.ExecuteAsync(["INCR", "not-a-number-key", "extra"]);
        Assert.Equal(RespKind.Error, error.Kind);
        Assert.StartsWith("ERR", error.Text);
        await client.SetAsync("text", "abc"u8.ToArray());
        var wrongType = await Assert.ThrowsAsync<RedisErrorException>(() => client.EvalAsync(new RespScript("return redis.call('LPOP', KEYS[1])"), ["text"], []));
        Assert.Contains("WRONGTYPE", wrongType.Message);
    }

    [Fact]
    public async Task PipelinedCommandsGetTheirOwnRepliesInOrder()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var client = new RespClient("127.0.0.1", redis.Port, s_fast);
        var writes = Enumerable.Range(0, 1000).Select(i => client.SetAsync($"key:{i}", Encoding.UTF8.GetBytes($"value {i}")));
        await Task.WhenAll(writes);
        var reads = await Task.WhenAll(Enumerable.Range(0, 1000).Select(i => client.GetAsync($"key:{i}")));
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => $"value {i}"), reads.Select(r => Encoding.UTF8.GetString(r!)));
        var array = await client.ExecuteAsync(["MGET", "key:1", "nope", "key:2"]);
        Assert.Equal(["value 1", null, "value 2"], array.Items!.Select(i => i.Text));
    }

    [Fact]
    public async Task ScriptsRunBySha1AndAreLoadedOnceWhenMissing()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var client = new RespClient("127.0.0.1", redis.Port, s_fast);
        var script = new RespScript("return redis.call('INCRBY', KEYS[1], ARGV[1])");
        Assert.Equal(0, (await client.ExecuteAsync(["SCRIPT", "EXISTS", script.Sha1])).Items![0].Integer);
        Assert.Equal(5, (await client.EvalAsync(script, ["counter"], [5L])).Integer);   // NOSCRIPT, then EVAL
        Assert.Equal(1, (await client.ExecuteAsync(["SCRIPT", "EXISTS", script.Sha1])).Items![0].Integer);
        Assert.Equal(12, (await client.EvalAsync(script, ["counter"], ["7"])).Integer);  // EVALSHA
        await Assert.ThrowsAsync<RedisErrorException>(() => client.EvalAsync(new RespScript("return redis.call('NOPE')"), [], []));
    }

    [Fact]
    public async Task PublishedMessagesReachSubscribersAndSubscriptionsSurviveARestart()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var client = new RespClient("127.0.0.1", redis.Port, s_fast);
        var received = new System.Collections.Concurrent.ConcurrentQueue<string>();
        await using var subscriber = new RespSubscriber("127.0.0.1", redis.Port, new Dictionary<string, Action<byte[]>>
        {
            ["octomesh:test"] = message => received.Enqueue(Encoding.UTF8.GetString(message)),
        });
        await subscriber.Subscribed.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(1, await client.PublishAsync("octomesh:test", "one"u8.ToArray()));
        Assert.Equal(0, await client.PublishAsync("octomesh:other", "ignored"u8.ToArray()));
        await WaitAsync(() => received.Count == 1);

        await redis.KillAsync();
        await redis.RestartAsync();
        // The subscriber reconnects and subscribes again by itself.
        long delivered = 0;
        for (var i = 0; i < 200 && delivered == 0; i++)
        {
            await Task.Delay(25);
            try
            {
                delivered = await client.PublishAsync("octomesh:test", "two"u8.ToArray());
            }
            catch (RedisUnavailableException)
            {
                // The client reconnects after its backoff.
            }
        }
        Assert.Equal(1, delivered);
        await WaitAsync(() => received.Count == 2);
        Assert.Equal(["one", "two"], received);
        Assert.Equal(2, subscriber.Connections);
    }

    [Fact]
    public async Task ARedisWithAPasswordIsSpokenToAfterAuth()
    {
        await using var redis = await RedisServer.StartAsync(password: "s3cret-redis-pass");
        // Without credentials: Redis refuses the command.
        await using (var anonymous = new RespClient("127.0.0.1", redis.Port, s_fast))
        {
            Assert.StartsWith("NOAUTH", (await anonymous.ExecuteAsync(["GET", "k"])).Text);
        }
        // Wrong password: the connection fails, and the password is not in the error.
        await using (var wrong = new RespClient("127.0.0.1", redis.Port, s_fast with { Credentials = new("default", "not-it") }))
        {
            var refused = await Assert.ThrowsAsync<RedisUnavailableException>(() => wrong.PingAsync());
            Assert.Contains("WRONGPASS", refused.Message);
            Assert.DoesNotContain("not-it", refused.Message);
        }
        await using var client = new RespClient("127.0.0.1", redis.Port, s_fast with { Credentials = new(null, "s3cret-redis-pass") });
        await client.SetAsync("k", "v"u8.ToArray());
        Assert.Equal("v"u8.ToArray(), await client.GetAsync("k"));
        Assert.DoesNotContain("s3cret", (s_fast with { Credentials = new(null, "s3cret-redis-pass") }).ToString());

        var received = new System.Collections.Concurrent.ConcurrentQueue<string>();
        await using var subscriber = new RespSubscriber("127.0.0.1", redis.Port, new Dictionary<string, Action<byte[]>>
        {
            ["octomesh:test"] = message => received.Enqueue(Encoding.UTF8.GetString(message)),
        }, new(null, "s3cret-redis-pass"));
        await subscriber.Subscribed.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(1, await client.PublishAsync("octomesh:test", "hello"u8.ToArray()));
        await WaitAsync(() => received.Count == 1);
    }

    [Fact]
    public async Task ADownRedisFailsFastAndIsReconnectedWhenBack()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var client = new RespClient("127.0.0.1", redis.Port, s_fast);
        await client.SetAsync("k", "v"u8.ToArray());

        await redis.KillAsync();
        // The connection breaks, then a connect fails and starts the backoff: within it the client does not even try.
        RedisUnavailableException failure;
        do
        {
            failure = await Assert.ThrowsAsync<RedisUnavailableException>(() => client.GetAsync("k"));
        }
        while (!failure.Message.StartsWith("cannot connect", StringComparison.Ordinal));
        Assert.Contains("next try in", (await Assert.ThrowsAsync<RedisUnavailableException>(() => client.GetAsync("k"))).Message);
        Assert.False(client.IsConnected);

        await redis.RestartAsync();
        byte[]? value = [1];
        for (var i = 0; i < 100; i++)
        {
            try
            {
                value = await client.GetAsync("k");
                break;
            }
            catch (RedisUnavailableException)
            {
                await Task.Delay(25);
            }
        }
        Assert.Null(value);   // a fresh server: the key is gone, but the client answers again
        Assert.True(client.IsConnected);
    }

    [Fact]
    public async Task ASlowReplyTimesOutAndLaterCommandsGetTheirOwnReplies()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var client = new RespClient("127.0.0.1", redis.Port, s_fast with { CommandTimeout = TimeSpan.FromMilliseconds(200) });
        await client.SetAsync("k", "v"u8.ToArray());
        // The server is busy for 600 ms on this command; the client gives up after 200.
        var busy = "local t = redis.call('TIME'); while true do local n = redis.call('TIME'); if (n[1] - t[1]) * 1000000 + (n[2] - t[2]) > 600000 then return 'late' end end";
        await Assert.ThrowsAsync<RedisUnavailableException>(() => client.ExecuteAsync(["EVAL", busy, "0"]));
        await Task.Delay(800);
        // The late reply was dropped: the next command gets its own.
        Assert.Equal("v", Encoding.UTF8.GetString((await client.GetAsync("k"))!));
    }

    [Fact]
    public void RepliesSplitAnywhereAreReadWhole()
    {
        var wire = "*3\r\n$5\r\nhello\r\n:42\r\n*2\r\n+OK\r\n$-1\r\n"u8.ToArray();
        for (var split = 0; split <= wire.Length; split++)
        {
            var first = new SequenceReader<byte>(new ReadOnlySequence<byte>(wire, 0, split));
            var complete = RespValue.TryRead(ref first, out var partial);
            Assert.Equal(split == wire.Length, complete);
            if (!complete)
            {
                Assert.Equal(0, first.Consumed);
            }
        }
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(wire));
        Assert.True(RespValue.TryRead(ref reader, out var value));
        Assert.Equal("[hello, 42, [OK, (nil)]]", value.ToString());
        var bad = new SequenceReader<byte>(new ReadOnlySequence<byte>("?nope\r\n"u8.ToArray()));
        try
        {
            RespValue.TryRead(ref bad, out _);
            Assert.Fail("not RESP");
        }
        catch (InvalidDataException)
        {
        }
    }

    private static async Task WaitAsync(Func<bool> condition)
    {
        for (var i = 0; i < 200 && !condition(); i++)
        {
            await Task.Delay(10);
        }
        Assert.True(condition());
    }
}
