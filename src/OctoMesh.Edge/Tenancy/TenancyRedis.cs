using OctoMesh.Edge.Cache.Redis;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Tenancy;

/// <summary>The one connection budgets and rate limits share to the configured <c>redis</c> (none without one).</summary>
internal sealed class TenancyRedis(RedisConfig? config) : IAsyncDisposable
{
    /// <summary>The client, with the section's soft timeout as its command timeout; null when each replica counts alone.</summary>
    public RespClient? Client { get; } = config is null ? null : Connect(config);

    private static RespClient Connect(RedisConfig config)
    {
        var (host, port) = RespClient.SplitAddress(config.Address);
        var timeout = TimeSpan.FromMilliseconds(config.TimeoutMs);
        return new RespClient(host, port, RespOptions.Default with { ConnectTimeout = timeout * 4, CommandTimeout = timeout, Credentials = config.Auth });
    }

    public ValueTask DisposeAsync() => Client?.DisposeAsync() ?? ValueTask.CompletedTask;
}
