using System.Collections.Immutable;

namespace OctoMesh.Routing.Configuration;

/// <summary>
/// The whole, validated gateway configuration. Immutable: a reload builds a new one.
/// Field-by-field documentation: docs/configuration.md.
/// </summary>
public sealed record GatewayConfig
{
    /// <summary>Addresses Kestrel listens on, e.g. <c>http://127.0.0.1:8080</c>. The CLI's --urls wins.</summary>
    public ImmutableArray<string> Urls { get; init; } = ["http://127.0.0.1:8080"];

    /// <summary>Upstream providers by name.</summary>
    public ImmutableDictionary<string, ProviderConfig> Providers { get; init; } = ImmutableDictionary<string, ProviderConfig>.Empty;

    /// <summary>Model aliases (exact names, <c>prefix*</c> patterns or <c>*</c>) in file order.</summary>
    public ImmutableArray<ModelConfig> Models { get; init; } = [];

    /// <summary>Keys for the <c>/admin</c> endpoints, by hash. Empty means the admin endpoints are closed.</summary>
    public ImmutableArray<ClientKeyConfig> AdminKeys { get; init; } = [];

    /// <summary>Client keys by hash. None here and none made through the admin API: authentication is off.</summary>
    public ImmutableArray<ClientKeyConfig> ClientKeys { get; init; } = [];

    public LimitsConfig Limits { get; init; } = new();

    /// <summary>Rules that detect a task the request did not declare, tried in file order.</summary>
    public ImmutableArray<Table.TaskRule> Tasks { get; init; } = [];

    /// <summary>The classifier's second stage (trained centroids), asked when no rule decides; null for rules alone.</summary>
    public TaskModelConfig? TaskModel { get; init; }

    /// <summary>Prices by model name or pattern, over the dated defaults (<see cref="Pricing.DefaultPrices"/>).</summary>
    public ImmutableArray<(string Pattern, Pricing.ModelPrice Price)> Prices { get; init; } = [];

    public MetricsConfig Metrics { get; init; } = new();

    public TraceConfig Trace { get; init; } = new();

    public TracingConfig Tracing { get; init; } = new();

    public CacheConfig Cache { get; init; } = new();

    /// <summary>Spending limits per workspace or client key.</summary>
    public ImmutableArray<BudgetConfig> Budgets { get; init; } = [];

    /// <summary>Requests and tokens per minute, per workspace, key or model.</summary>
    public ImmutableArray<RateLimitConfig> RateLimits { get; init; } = [];

    /// <summary>The Redis that budgets and rate limits share across replicas; null for each replica on its own.</summary>
    public RedisConfig? Redis { get; init; }

    /// <summary>Workspaces named in the file, with their content policies (a workspace named only by keys keeps nothing).</summary>
    public ImmutableArray<WorkspaceConfig> Workspaces { get; init; } = [];

    /// <summary>Where the admin API's workspaces and keys, the content keyring and kept content live.</summary>
    public TenancyConfig Tenancy { get; init; } = new();

    /// <summary>How the gateway drains on SIGTERM.</summary>
    public ShutdownConfig Shutdown { get; init; } = new();

    /// <summary>Routes, tried before the model aliases, in file order.</summary>
    public ImmutableArray<Table.RouteDefinition> Routes { get; init; } = [];
}
