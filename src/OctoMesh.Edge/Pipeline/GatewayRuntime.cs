using System.Collections.Immutable;
using OctoMesh.Edge.Providers;
using OctoMesh.Edge.Wire;
using OctoMesh.Edge.Tenancy;
using OctoMesh.Routing;
using OctoMesh.Routing.Configuration;
using OctoMesh.Routing.Pricing;
using OctoMesh.Routing.Table;

namespace OctoMesh.Edge.Pipeline;

/// <summary>
/// Everything the request path reads, built once from a validated configuration and never changed
/// afterwards: the routing table, the alias table and the price table, one provider client per provider (indexed as
/// the alias table indexes them), the key table and the limits.
/// </summary>
internal sealed class GatewayRuntime : IDisposable
{
    /// <param name="simulatorUrl">Where an in-process simulator listens, for <c>sim</c> providers without a base URL.</param>
    /// <param name="previous">The runtime this one replaces on a reload: providers whose configuration is unchanged keep their
    /// connection pools, and route targets their health.</param>
    public GatewayRuntime(GatewayConfig config, Uri? simulatorUrl, GatewayRuntime? previous = null)
    {
        Config = config;
        Models = ModelAliasTable.Compile(config);
        Providers = Models.Providers
            .Select(name => config.Providers[name])
            .Select(p => previous?.Providers.FirstOrDefault(old => old.Config == p)
                ?? new UpstreamProvider(p, p.BaseUrl ?? simulatorUrl
                    ?? throw new InvalidOperationException($"provider '{p.Name}' has no base URL and no simulator is running")))
            .ToImmutableArray();
        AdminKeys = new ClientKeyTable(config.AdminKeys);
        Routes = RoutingTable.Compile(config.Routes, previous: previous?.Routes);
        Classifier = new TaskClassifier(config.Tasks, config.TaskModel is { } model ? Optimizer.CentroidClassifier.Load(model) : null);
        Prices = new PriceTable(config.Prices);
        RouteTargets = Routes.Routes
            .Select(route => route.Definition.Targets
                .Select(t => ModelTarget.Create(Models.Providers.IndexOf(t.Provider), t.Model))
                .ToArray())
            .ToArray();
    }

    /// <summary><c>GET /v1/models</c>'s answer: the exact names routes and aliases serve, owned by the provider they go to first.</summary>
    /// <summary>True when any provider is the in-process simulator (a <c>sim</c> provider without a base URL).</summary>
    public static bool NeedsInProcessSimulator(GatewayConfig config) =>
        config.Providers.Values.Any(p => p.Kind == ProviderKind.Sim && p.BaseUrl is null);

    public byte[] ModelList => _modelList ??= BuildModelList();

    private byte[]? _modelList;

    private byte[] BuildModelList()
    {
        var routed = Routes.Routes
            .Where(r => r.Definition.Match.Model is { } m && !m.EndsWith('*'))
            .Select(r => new ModelEntry(r.Definition.Match.Model!, "model", 0, r.Definition.Targets[0].Provider));
        var aliased = Models.Aliases.Select(a => new ModelEntry(a.Key, "model", 0, Models.Providers[a.Value.ProviderIndex]));
        var models = routed.Concat(aliased).DistinctBy(m => m.Id).OrderBy(m => m.Id, StringComparer.Ordinal).ToList();
        return System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new ModelList("list", models), EdgeJsonContext.Default.ModelList);
    }

    /// <summary>Detects the task of requests that declared none.</summary>
    public TaskClassifier Classifier { get; }

    /// <summary>Routes, tried before the aliases; empty when none are configured.</summary>
    public RoutingTable Routes { get; }

    /// <summary>Each route's targets as provider index and upstream model, indexed [route][target].</summary>
    public ModelTarget[][] RouteTargets { get; }

    public GatewayConfig Config { get; }

    public ModelAliasTable Models { get; }

    /// <summary>Indexed by <see cref="ModelTarget.ProviderIndex"/>.</summary>
    public ImmutableArray<UpstreamProvider> Providers { get; }

    /// <summary>Keys for <c>/admin</c>; none configured means the admin endpoints are closed.</summary>
    public ClientKeyTable AdminKeys { get; }

    public LimitsConfig Limits => Config.Limits;

    /// <summary>Prices by upstream model: the configuration's over the dated defaults.</summary>
    public PriceTable Prices { get; }

    /// <summary>Disposes the providers the <paramref name="next"/> runtime does not keep (all of them when it is null).</summary>
    public void DisposeProvidersNotIn(GatewayRuntime? next)
    {
        foreach (var provider in Providers)
        {
            if (next is null || !next.Providers.Contains(provider))
            {
                provider.Dispose();
            }
        }
    }

    public void Dispose() => DisposeProvidersNotIn(null);
}
