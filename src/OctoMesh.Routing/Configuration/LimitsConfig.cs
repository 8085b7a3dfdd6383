namespace OctoMesh.Routing.Configuration;

/// <param name="MaxBodyBytes">Larger request bodies get 413.</param>
/// <param name="HeaderTimeout">How long a client may take to send its request headers.</param>
public sealed record LimitsConfig(long MaxBodyBytes = LimitsConfig.DefaultMaxBodyBytes, TimeSpan HeaderTimeout = default)
{
    public const long DefaultMaxBodyBytes = 16 * 1024 * 1024;

    public TimeSpan HeaderTimeout { get; init; } = HeaderTimeout == default ? TimeSpan.FromSeconds(10) : HeaderTimeout;
}
