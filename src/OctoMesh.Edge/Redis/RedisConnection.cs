using System.Runtime.CompilerServices;
using OctoMesh.Routing.Configuration;
using StackExchange.Redis;

namespace OctoMesh.Edge.Redis;

/// <summary>
/// The gateway's one connection to the configured <c>redis</c> section (StackExchange.Redis), shared by the response
/// cache, budgets, rate limits and the workspace and key store. It connects in the background and reconnects by
/// itself, resubscribing its channels; while Redis is away a command fails at once (no backlog), and one that is slow
/// fails after the section's timeout. Each user counts its failures and goes on without Redis for that call.
/// </summary>
internal sealed class RedisConnection : IAsyncDisposable
{
    private readonly ConnectionMultiplexer _multiplexer;
    private readonly ConfigurationOptions _options;

    private RedisConnection(ConnectionMultiplexer multiplexer, ConfigurationOptions options, TimeSpan timeout)
    {
        _multiplexer = multiplexer;
        _options = options;
        Timeout = timeout;
        Database = multiplexer.GetDatabase();
        Subscriber = multiplexer.GetSubscriber();
    }

    /// <summary>Connects (waiting at most for the connect timeout: a Redis that is down is reached later, in the background).</summary>
    public static async Task<RedisConnection> ConnectAsync(RedisConfig config)
    {
        var options = Options(config);
        return new(await ConnectionMultiplexer.ConnectAsync(options.Clone()), options, TimeSpan.FromMilliseconds(config.TimeoutMs));
    }

    /// <summary>The client's settings for <paramref name="config"/>; the configuration string's own options come first.</summary>
    internal static ConfigurationOptions Options(RedisConfig config)
    {
        var options = ConfigurationOptions.Parse(config.Connection);
        options.AbortOnConnectFail = false;
        // A command while Redis is away fails at once instead of waiting in a backlog: the gateway has a way on without it.
        options.BacklogPolicy = BacklogPolicy.FailFast;
        options.AsyncTimeout = options.SyncTimeout = config.TimeoutMs;
        options.ConnectTimeout = Math.Max(1_000, config.TimeoutMs * 4);
        options.ClientName ??= "octomesh";
        if (config.Auth is { } auth)
        {
            options.User = auth.User;
            options.Password = auth.Password;
        }
        if (config.CaFile is { } ca)
        {
            // Redis's certificate must chain to this CA (and match the host); TLS itself is the string's ssl=true.
            options.TrustIssuer(ca);
        }
        return options;
    }

    public IDatabase Database { get; }

    public ISubscriber Subscriber { get; }

    public IConnectionMultiplexer Multiplexer => _multiplexer;

    /// <summary>The settings this connection was made with, for a part that needs a connection of its own.</summary>
    public ConfigurationOptions Settings => _options.Clone();

    /// <summary>How long a call may take before the caller goes on without Redis.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>
    /// A Redis failure a caller goes on without: unreachable, timed out, an error reply (NOPERM, a script error), or the
    /// connection closed under it at shutdown.
    /// </summary>
    public static bool IsFailure(Exception e) => e is RedisException or TimeoutException or ObjectDisposedException;

    /// <summary>
    /// <paramref name="call"/>, or a <see cref="TimeoutException"/> once <see cref="Timeout"/> has passed. The client's own
    /// timeout is checked on its heartbeat (about once a second), too coarse for a lookup on the request path.
    /// </summary>
    public Task<T> WithinTimeout<T>(Task<T> call) => call.IsCompleted ? call : call.WaitAsync(Timeout);

    /// <summary>Every key matching <paramref name="pattern"/> on every primary (SCAN, page by page; never KEYS).</summary>
    public async IAsyncEnumerable<RedisKey> ScanAsync(string pattern, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var server in _multiplexer.GetServers())
        {
            if (server.IsReplica || !server.IsConnected)
            {
                continue;
            }
            await foreach (var key in server.KeysAsync(pattern: pattern, pageSize: 1000).WithCancellation(cancellationToken))
            {
                yield return key;
            }
        }
    }

    public async ValueTask DisposeAsync() => await _multiplexer.DisposeAsync();
}
