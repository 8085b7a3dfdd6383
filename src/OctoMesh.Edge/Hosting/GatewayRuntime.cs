using System.Collections.Immutable;
using OctoMesh.Edge.Providers;
using OctoMesh.Edge.Tenancy;
using OctoMesh.Routing;
using OctoMesh.Routing.Configuration;
using OctoMesh.Routing.Table;

namespace OctoMesh.Edge.Hosting;

/// <summary>
/// Everything the request path reads, built once from a validated configuration and never changed
/// afterwards: the routing table and the alias table, one provider client per provider (indexed as
/// the alias table indexes them), the key table and the limits.
/// </summary>
internal sealed class GatewayRuntime : IDisposable
{
    /// <param name="simulatorUrl">Where an in-process simulator listens, for <c>sim</c> providers without a base URL.</param>
    public GatewayRuntime(GatewayConfig config, Uri? simulatorUrl)
    {
        Config = config;
        Models = ModelAliasTable.Compile(config);
        Providers = Models.Providers
            .Select(name => config.Providers[name])
            .Select(p => new UpstreamProvider(p, p.BaseUrl ?? simulatorUrl
                ?? throw new InvalidOperationException($"provider '{p.Name}' has no base URL and no simulator is running")))
            .ToImmutableArray();
        Keys = new ClientKeyTable(config.ClientKeys);
        Routes = RoutingTable.Compile(config.Routes);
        RouteTargets = Routes.Routes
            .Select(route => route.Definition.Targets
                .Select(t => ModelTarget.Create(Models.Providers.IndexOf(t.Provider), t.Model))
                .ToArray())
            .ToArray();
    }

    /// <summary>Routes, tried before the aliases; empty when none are configured.</summary>
    public RoutingTable Routes { get; }

    /// <summary>Each route's targets as provider index and upstream model, indexed [route][target].</summary>
    public ModelTarget[][] RouteTargets { get; }

    public GatewayConfig Config { get; }

    public ModelAliasTable Models { get; }

    /// <summary>Indexed by <see cref="ModelTarget.ProviderIndex"/>.</summary>
    public ImmutableArray<UpstreamProvider> Providers { get; }

    public ClientKeyTable Keys { get; }

    public LimitsConfig Limits => Config.Limits;

    public void Dispose()
    {
        foreach (var provider in Providers)
        {
            provider.Dispose();
        }
    }
}
