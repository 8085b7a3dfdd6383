using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Prometheus;
using OctoMesh.Edge.Metering;
using OctoMesh.Edge.Wire;
using OctoMesh.Edge.Simulator;
using OctoMesh.Edge.Telemetry;
using OctoMesh.Routing.Configuration;
using OctoMesh.Edge.Kestrel;
using OctoMesh.Edge.Pipeline;
using OctoMesh.Edge.Pipeline.Steps;

namespace OctoMesh.Edge.Hosting;

/// <summary>
/// The gateway on Kestrel, with the in-process simulator when a <c>sim</c> provider has no base URL.
/// Used by <c>octomesh serve</c> and by the integration tests alike.
/// </summary>
public sealed class GatewayServer : IAsyncDisposable
{
    /// <summary>Thread-pool threads available at once when the trace log may block some of them.</summary>
    private const int MinThreadsWithTraceLog = 16;

    private readonly WebApplication _app;
    private readonly ConfigReloader? _reloader;
    private readonly Redis.RedisConnection? _redis;

    private GatewayServer(WebApplication app, GatewayRuntimeHolder runtimes, SimulatorServer? simulator, ConfigReloader? reloader, Redis.RedisConnection? redis)
    {
        _app = app;
        _redis = redis;
        Runtimes = runtimes;
        Simulator = simulator;
        _reloader = reloader;
    }

    /// <summary>The running configuration, and its reload.</summary>
    public GatewayRuntimeHolder Runtimes { get; }

    /// <summary>The host's services (the cache, the budget ledger, …), for tests and embedding.</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>The in-process simulator, if this gateway started one.</summary>
    public SimulatorServer? Simulator { get; }

    public IReadOnlyList<Uri> Addresses =>
        _app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Select(a => new Uri(a)).ToList();

    /// <param name="urls">Overrides the configuration's listen URLs; <c>http://127.0.0.1:0</c> picks a free port.</param>
    /// <param name="embedded">Inside a test: process signals are not the gateway's to handle.</param>
    /// <param name="configPath">The file the configuration came from: it is watched, and SIGHUP reloads it too.</param>
    /// <param name="traceDirectory">Overrides the configuration's trace log directory.</param>
    /// <param name="tenancyDirectory">Overrides the configuration's tenancy directory (the keyring goes there too).</param>
    public static async Task<GatewayServer> StartAsync(GatewayConfig config, IReadOnlyList<string>? urls = null,
        LogLevel logLevel = LogLevel.Information, bool embedded = false, string? configPath = null, string? traceDirectory = null,
        string? tenancyDirectory = null, CancellationToken cancellationToken = default)
    {
        var trace = traceDirectory is null ? config.Trace : config.Trace with { Directory = traceDirectory };
        var tenancy = tenancyDirectory is null ? config.Tenancy : config.Tenancy with { Directory = tenancyDirectory, Keyring = null };
        var simulator = GatewayRuntime.NeedsInProcessSimulator(config)
            ? await SimulatorServer.StartAsync("http://127.0.0.1:0", embedded: true, cancellationToken: cancellationToken)
            : null;
        var runtime = new GatewayRuntime(config, simulator?.OpenAIBaseUrl);
        // One connection for every Redis user; a Redis that is down is reached later, in the background.
        var redis = config.Redis is { } redisConfig ? await Redis.RedisConnection.ConnectAsync(redisConfig) : null;

        if (trace.Enabled)
        {
            // FASTER's log device on Linux writes (and the commit fsyncs) with blocking calls on thread-pool threads.
            // On one or two cores the pool starts with as few threads, so a request waited behind a flush until the
            // pool grew (half a second: p99 went from 4 ms to 670 ms under load). Enough threads from the start.
            ThreadPool.GetMinThreads(out var workers, out var completionPorts);
            ThreadPool.SetMinThreads(Math.Max(workers, MinThreadsWithTraceLog), completionPorts);
        }
        var builder = SlimHost.CreateBuilder();
        builder.Logging.SetMinimumLevel(logLevel);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        var api = urls ?? config.Urls;
        var management = new ManagementListener(api, config.Metrics.Urls);
        builder.WebHost.UseUrls([.. api, .. config.Metrics.Urls]);
        InlineIo.Apply(builder.WebHost);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // Kestrel's hard stop sits above the gateway's limit by what BodyBuffer drains, so a 413 is answered, not reset.
            kestrel.Limits.MaxRequestBodySize = config.Limits.MaxBodyBytes + BodyBuffer.DrainBytes;
            kestrel.Limits.RequestHeadersTimeout = config.Limits.HeaderTimeout;
            kestrel.Limits.MaxRequestHeadersTotalSize = config.Limits.MaxHeaderBytes;
            kestrel.Limits.MaxRequestHeaderCount = config.Limits.MaxHeaderCount;
            kestrel.Limits.MaxConcurrentConnections = config.Limits.MaxConnections;
            // Slow clients: a body trickled slower than this is cut off after a 5 s grace (Kestrel's default rate, made
            // configurable). Answers keep Kestrel's default: it times only writes waiting on a client that stopped
            // reading, never a model that streams slowly.
            kestrel.Limits.MinRequestBodyDataRate = config.Limits.MinBodyBytesPerSecond == 0 ? null
                : new Microsoft.AspNetCore.Server.Kestrel.Core.MinDataRate(config.Limits.MinBodyBytesPerSecond, TimeSpan.FromSeconds(5));
        });
        // Draining: the delay (below) and then requests in flight, streams too, up to the timeout.
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromMilliseconds(config.Shutdown.DelayMs + config.Shutdown.TimeoutMs));
        builder.Services.AddSingleton(services => new GatewayRuntimeHolder(runtime, simulator?.OpenAIBaseUrl,
            services.GetRequiredService<ILoggerFactory>().CreateLogger<GatewayRuntimeHolder>()));
        builder.Services.AddSingleton(_ => new GatewayMetrics(config.Metrics.WorkspaceLabel, config.Metrics.MaxSeries));
        if (config.Tracing.Enabled)
        {
            // Made by the container, so disposed (flushing the last spans) with it.
            builder.Services.AddSingleton(_ => GatewayTracing.Start(config.Tracing)!);
        }
        builder.Services.AddSingleton(services => new RequestMeter(services.GetRequiredService<GatewayMetrics>(), trace.Enabled
            ? new TraceLog(trace, services.GetRequiredService<GatewayMetrics>(), services.GetRequiredService<ILoggerFactory>().CreateLogger<TraceLog>())
            : null));
        builder.Services.AddSingleton(_ => new Cache.ExactCache((long)config.Cache.MaxMegabytes << 20, config.Cache.Shared ? redis : null,
            config.Cache.Semantic is { } semantic ? Cache.Semantic.Embedders.Create(semantic, config.Providers, simulator?.OpenAIBaseUrl) : null));
        builder.Services.AddSingleton(_ => new Tenancy.BudgetLedger(redis));
        builder.Services.AddSingleton(_ => new Tenancy.RateLimiter(redis));
        builder.Services.AddSingleton(services => new Tenancy.TenancyStore(tenancy, redis,
            services.GetRequiredService<ILoggerFactory>().CreateLogger<Tenancy.TenancyStore>()));
        builder.Services.AddSingleton(_ => new Privacy.ContentVault(tenancy.Directory, new Privacy.Keyring(tenancy.KeyringPath)));
        builder.Services.AddSingleton<Optimizer.ShadowEvaluator>();
        builder.Services.AddSingleton<AccountStep>().AddSingleton<AdmissionStep>().AddSingleton<InspectStep>().AddSingleton<RouteStep>()
            .AddSingleton<CacheStep>().AddSingleton<EvidenceStep>().AddSingleton<QuotaStep>().AddSingleton<ForwardStep>()
            .AddSingleton<Relay>().AddSingleton<Hedging>().AddSingleton<GatewayEndpoint>();
        builder.Services.AddSingleton<Admin.TenancyEndpoints>();
        builder.Services.AddSingleton<Admin.RoutesEndpoint>();
        builder.Services.AddSingleton<Admin.UsageEndpoint>();
        builder.Services.AddSingleton<Admin.CacheEndpoint>();
        if (embedded)
        {
            builder.Services.AddSingleton<IHostLifetime, EmbeddedLifetime>();
        }

        var app = builder.Build();
        // The trace log starts opening (recovering what an earlier run committed) on its writer, beside the host's start.
        app.Services.GetRequiredService<RequestMeter>();
        app.Services.GetService<OpenTelemetry.Trace.TracerProvider>();
        ObserveRuntime(app.Services.GetRequiredService<GatewayMetrics>(), app.Services.GetRequiredService<GatewayRuntimeHolder>());
        var cache = app.Services.GetRequiredService<Cache.ExactCache>();
        var metrics = app.Services.GetRequiredService<GatewayMetrics>();
        metrics.ObserveCounter("octomesh_cache_redis_errors_total",
            "Redis calls of the cache that failed or timed out; the cache went on with this process's memory.", () => cache.RedisErrors);
        var budgets = app.Services.GetRequiredService<Tenancy.BudgetLedger>();
        var limiter = app.Services.GetRequiredService<Tenancy.RateLimiter>();
        metrics.ObserveCounter("octomesh_rate_limit_redis_errors_total",
            "Redis calls of the rate limiter that failed; those requests were counted by this replica alone.", () => limiter.RedisErrors);
        metrics.ObserveCounter("octomesh_budget_redis_errors_total",
            "Redis calls of the budget ledger that failed; those requests were counted by this replica alone.", () => budgets.RedisErrors);
        if (cache.Semantic is { } semanticIndex)
        {
            metrics.ObserveGauge("octomesh_cache_semantic_entries", "Questions in the semantic cache's index.", () => semanticIndex.Count);
            if (semanticIndex.Embedder is Cache.Semantic.ProviderEmbedder remote)
            {
                metrics.ObserveCounter("octomesh_cache_embed_errors_total",
                    "Calls to the embeddings provider that failed or were too slow; each skipped one semantic lookup.", () => remote.Errors);
            }
            // A replica that starts reads back the index the others built (bounded by Redis's soft timeout per call).
            await cache.LoadSharedQuestionsAsync();
        }
        // A workspace forgotten on another replica is forgotten here too: its content keys, kept exchanges and cached answers.
        var store = app.Services.GetRequiredService<Tenancy.TenancyStore>();
        var vault = app.Services.GetRequiredService<Privacy.ContentVault>();
        store.Start(workspace =>
        {
            vault.Forget(workspace);
            cache.PurgeHere(workspace);
        });
        metrics.ObserveCounter("octomesh_content_dropped_total",
            "Exchanges of full-content workspaces not kept because the writer was behind or the disk failed.", () => vault.Dropped);
        var shadow = app.Services.GetRequiredService<Optimizer.ShadowEvaluator>();
        metrics.ObserveCounter("octomesh_shadow_dropped_total",
            "Sampled requests of shadowed routes not mirrored: the queue was full or the result store could not be written.", () => shadow.Dropped);
        metrics.ObserveCounter("octomesh_tenancy_redis_errors_total",
            "Redis calls of the workspace and key store that failed; changes were kept here and reach the other replicas at their next resync.",
            () => store.RedisErrors);
        // A replica that starts knows the keys and revocations the others made before it serves (2 s at most: Redis
        // may be down, and then what this replica's own store holds stands until it is back).
        await Task.WhenAny(store.FirstSync, Task.Delay(TimeSpan.FromSeconds(2), cancellationToken));
        if (management.IsEnabled)
        {
            app.Use(management.Middleware());
        }
        if (config.Limits.MaxRequestsPerConnectionPerSecond is { } perSecond)
        {
            app.Use(ConnectionRate.Middleware(perSecond, context => shadow.IsShadow(context.Request.Headers)));
        }
        if (config.Shutdown.DelayMs > 0)
        {
            // SIGTERM: /readyz says stopping at once, while the listener keeps serving for the delay, so the load balancer
            // takes this replica out before new requests would be refused. (Stopping callbacks run before the server stops.)
            app.Lifetime.ApplicationStopping.Register(() => Thread.Sleep(config.Shutdown.DelayMs));
        }
        MapEndpoints(app);
        await app.StartAsync(cancellationToken);
        var runtimes = app.Services.GetRequiredService<GatewayRuntimeHolder>();
        // Shadow evaluation mirrors requests to this gateway itself, over loopback.
        var listening = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses
            .First(address => !management.Owns(address));
        shadow.Start(Loopback(ManagementListener.Parse(listening)));
        var reloader = configPath is null ? null : new ConfigReloader(runtimes, configPath, listenForSignal: !embedded);
        return new GatewayServer(app, runtimes, simulator, reloader, redis);
    }

    /// <summary>A listening address to call this gateway at: the same port on 127.0.0.1 when it listens on every address.</summary>
    private static Uri Loopback(Uri address) =>
        address.Host is "0.0.0.0" or "[::]" or "::" or "localhost" ? new UriBuilder(address) { Host = "127.0.0.1" }.Uri : address;

    private static void MapEndpoints(WebApplication app)
    {
        var proxy = app.Services.GetRequiredService<GatewayEndpoint>();
        var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();

        // The API's four operations are served ahead of endpoint routing, which would match each of their requests against
        // the whole table (the admin routes, the fallback and its constraint): 1.5% of the CPU at 2,000 requests/s.
        app.Use((context, next) => ApiOperationExtensions.AtPath(context.Request.Path.Value) is { } operation
            ? proxy.HandleAsync(context, operation)
            : next(context));
        app.UseRouting();
        app.MapGet("/v1/models", proxy.ListModelsAsync);
        app.MapMetrics("/metrics", app.Services.GetRequiredService<GatewayMetrics>().Registry);
        // Admin calls read and write files (the usage scan, the tenancy store's fsync, exports): off the I/O threads.
        app.MapGet("/admin/routes", OffIo(app.Services.GetRequiredService<Admin.RoutesEndpoint>().HandleAsync));
        app.MapGet("/admin/usage", OffIo(app.Services.GetRequiredService<Admin.UsageEndpoint>().HandleAsync));
        app.MapDelete("/admin/cache", OffIo(app.Services.GetRequiredService<Admin.CacheEndpoint>().HandleAsync));
        var tenancy = app.Services.GetRequiredService<Admin.TenancyEndpoints>();
        app.MapGet("/admin/workspaces", OffIo(tenancy.ListWorkspacesAsync));
        app.MapPost("/admin/workspaces", OffIo(tenancy.CreateWorkspaceAsync));
        app.MapGet("/admin/workspaces/{name}", (HttpContext context, string name) => Task.Run(() => tenancy.GetWorkspaceAsync(context, name)));
        app.MapPatch("/admin/workspaces/{name}", (HttpContext context, string name) => Task.Run(() => tenancy.UpdateWorkspaceAsync(context, name)));
        app.MapPost("/admin/workspaces/{name}/forget", (HttpContext context, string name) => Task.Run(() => tenancy.ForgetWorkspaceAsync(context, name)));
        app.MapPost("/admin/workspaces/{name}/rotate", (HttpContext context, string name) => Task.Run(() => tenancy.RotateAsync(context, name)));
        app.MapGet("/admin/workspaces/{name}/export", (HttpContext context, string name) => Task.Run(() => tenancy.ExportWorkspaceAsync(context, name)));
        app.MapGet("/admin/keys", OffIo(tenancy.ListKeysAsync));
        app.MapPost("/admin/keys", OffIo(tenancy.CreateKeyAsync));
        app.MapGet("/admin/keys/{id}", (HttpContext context, string id) => Task.Run(() => tenancy.GetKeyAsync(context, id)));
        app.MapDelete("/admin/keys/{id}", (HttpContext context, string id) => Task.Run(() => tenancy.RevokeKeyAsync(context, id)));
        app.MapGet("/healthz", static context => WriteStatusAsync(context.Response, 200, "ok"));
        // Not ready while stopping, so a load balancer stops sending before the listener closes.
        var traceLog = app.Services.GetRequiredService<RequestMeter>().TraceLog;
        app.MapGet("/readyz", context => lifetime.ApplicationStopping.IsCancellationRequested
            ? WriteStatusAsync(context.Response, 503, "stopping")
            : traceLog is { Failing: true }
                ? WriteStatusAsync(context.Response, 503, "trace-log-failing")
                : WriteStatusAsync(context.Response, 200, "ready"));
        app.MapFallback(static context => OpenAIError.WriteAsync(context.Response, StatusCodes.Status404NotFound,
            $"Unknown request URL: {context.Request.Method} {context.Request.Path}. This gateway serves /v1/chat/completions, /v1/embeddings, /v1/models, /v1/messages and /v1/messages/count_tokens.",
            OpenAIError.InvalidRequest, code: "unknown_url"));
    }

    /// <summary>Runs the handler on the thread pool, not on the socket thread that received the request (inline I/O).</summary>
    private static RequestDelegate OffIo(RequestDelegate handler) => context => Task.Run(() => handler(context));

    /// <summary>Gauges read at each scrape from the running configuration: breaker states and reloads.</summary>
    private static void ObserveRuntime(GatewayMetrics metrics, GatewayRuntimeHolder runtimes)
    {
        metrics.ObserveGauges("octomesh_breaker_state", "Each route target's circuit breaker: 0 closed, 1 half-open, 2 open.",
            [GatewayMetrics.Route, GatewayMetrics.Provider, GatewayMetrics.Model], () =>
            runtimes.Current.Routes.Routes.SelectMany(route => route.Definition.Targets.Select((target, i) =>
                (new[] { route.Name, target.Provider, target.Model }, (double)route.Health[i].State))));
        metrics.ObserveCounters("octomesh_config_reloads_total", "Configuration reloads: applied, or refused (the running configuration stayed).",
            [GatewayMetrics.Result], () => [(["applied"], runtimes.Reloads), (["refused"], runtimes.ReloadFailures)]);
    }

    private static Task WriteStatusAsync(HttpResponse response, int status, string text)
    {
        response.StatusCode = status;
        response.ContentType = "application/json";
        return response.WriteAsync($"{{\"status\":\"{text}\"}}");
    }

    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => _app.WaitForShutdownAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        _reloader?.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
        if (Simulator is not null)
        {
            await Simulator.DisposeAsync();
        }
        Runtimes.Dispose();
    }
}
