using OctoMesh.Edge.Wire;

namespace OctoMesh.Edge.Providers;

/// <summary>What an adapter carries from building the upstream request to answering the client.</summary>
/// <param name="Stream">The client asked for a stream.</param>
/// <param name="IncludeUsage">The client asked for the usage chunk (<c>stream_options.include_usage</c>).</param>
/// <param name="StripUsageChunk">Pass-through only: the gateway asked for usage on the client's behalf and must drop that chunk.</param>
/// <param name="UpstreamModel">The model the request went to, for answers that do not name it (Gemini).</param>
internal readonly record struct ForwardContext(ApiOperation Operation, bool Stream, bool IncludeUsage, bool StripUsageChunk, string? UpstreamModel = null)
{
    /// <summary>The longest silence between two reads of a stream (the provider's <c>timeouts.idleMs</c>); infinite when not set.</summary>
    public TimeSpan Idle { get; init; } = Timeout.InfiniteTimeSpan;
}
