using System.Collections.Immutable;

namespace OctoMesh.Routing.Configuration;

/// <summary>A configuration, or every reason it could not be one.</summary>
public sealed record ConfigLoadResult(GatewayConfig? Config, ImmutableArray<ConfigError> Errors)
{
    public bool Succeeded => Config is not null && Errors.IsEmpty;
}
