using System.Collections.Immutable;

namespace OctoMesh.Routing.Configuration;

/// <summary>The <c>metrics</c> section: how much detail <c>/metrics</c> carries, and where else it is served.</summary>
/// <param name="WorkspaceLabel">Label requests, tokens and cost by workspace (one series per workspace: use with a bounded number of them).</param>
/// <param name="MaxSeries">Series per metric; label sets past this are counted under <c>_other_</c> values, so client-chosen model names cannot grow memory without bound.</param>
public sealed record MetricsConfig(bool WorkspaceLabel = false, int MaxSeries = 2000)
{
    /// <summary>
    /// A management listener: URLs that serve <c>/metrics</c>, <c>/healthz</c> and <c>/readyz</c> and nothing else, so
    /// Prometheus and the kubelet can reach a gateway whose API listens on loopback (a sidecar). Each on a port of its own.
    /// </summary>
    public ImmutableArray<string> Urls { get; init; } = [];

    /// <summary>The paths a management listener serves.</summary>
    public static bool IsManagementPath(string path) => path is "/metrics" or "/healthz" or "/readyz";
}
