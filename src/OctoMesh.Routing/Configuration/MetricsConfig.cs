namespace OctoMesh.Routing.Configuration;

/// <summary>The <c>metrics</c> section: how much detail <c>/metrics</c> carries.</summary>
/// <param name="WorkspaceLabel">Label requests, tokens and cost by workspace (one series per workspace: use with a bounded number of them).</param>
/// <param name="MaxSeries">Series per metric; label sets past this are counted under <c>_other_</c> values, so client-chosen model names cannot grow memory without bound.</param>
public sealed record MetricsConfig(bool WorkspaceLabel = false, int MaxSeries = 2000);
