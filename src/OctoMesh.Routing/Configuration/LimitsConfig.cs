namespace OctoMesh.Routing.Configuration;

/// <param name="MaxBodyBytes">Larger request bodies get 413.</param>
/// <param name="HeaderTimeout">How long a client may take to send its request headers.</param>
/// <param name="MaxHeaderBytes">The request line's headers together, at most (larger: 431).</param>
/// <param name="MaxHeaderCount">Request headers at most (more: 431).</param>
/// <param name="MinBodyBytesPerSecond">A client sending its body slower than this (after a 5 s grace) is cut off.</param>
/// <param name="MaxConnections">Open client connections at most (more are closed at once); null for no limit.</param>
/// <param name="MaxRequestsPerConnectionPerSecond">Requests one connection may send per second (a burst of as many); past it 429; null for no limit.</param>
public sealed record LimitsConfig(long MaxBodyBytes = LimitsConfig.DefaultMaxBodyBytes, TimeSpan HeaderTimeout = default,
    int MaxHeaderBytes = 32 * 1024, int MaxHeaderCount = 100, int MinBodyBytesPerSecond = 240, long? MaxConnections = null,
    int? MaxRequestsPerConnectionPerSecond = null)
{
    public const long DefaultMaxBodyBytes = 16 * 1024 * 1024;

    public TimeSpan HeaderTimeout { get; init; } = HeaderTimeout == default ? TimeSpan.FromSeconds(10) : HeaderTimeout;
}
