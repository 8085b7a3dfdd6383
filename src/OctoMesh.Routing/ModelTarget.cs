namespace OctoMesh.Routing;

/// <summary>Where a model name goes: a provider (by index into <see cref="ModelAliasTable.Providers"/>) and the upstream name.</summary>
/// <param name="ProviderIndex">Index into the table's provider list; an array read, not a lookup, on the hot path.</param>
/// <param name="UpstreamModel">The name sent upstream; null to send the client's name unchanged.</param>
/// <param name="UpstreamModelJson">The upstream name as a JSON string token (quotes and escapes included), ready to splice into a body.</param>
public sealed record ModelTarget(int ProviderIndex, string? UpstreamModel, byte[]? UpstreamModelJson);
