using Microsoft.Extensions.Logging;
using OctoMesh.Edge.Telemetry;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Pipeline;

/// <summary>
/// The one reference the request path reads the runtime through, swapped whole on a reload. A
/// configuration that does not validate keeps the running one and says why; requests in flight finish
/// on the runtime they started with, and providers the new runtime drops are disposed only after
/// their longest allowed exchange.
/// </summary>
public sealed class GatewayRuntimeHolder : IDisposable
{
    private readonly Uri? _simulatorUrl;
    private readonly ILogger _logger;
    private readonly object _reloading = new();
    private volatile GatewayRuntime _current;
    private long _reloads;
    private long _failures;

    internal GatewayRuntimeHolder(GatewayRuntime initial, Uri? simulatorUrl, ILogger logger)
    {
        _current = initial;
        _simulatorUrl = simulatorUrl;
        _logger = logger;
    }

    internal GatewayRuntime Current => _current;

    public long Reloads => Interlocked.Read(ref _reloads);

    /// <summary>Reloads that were refused (the old configuration stayed).</summary>
    public long ReloadFailures => Interlocked.Read(ref _failures);

    /// <summary>Loads, validates and swaps in the configuration at <paramref name="path"/>; returns every error when it does not.</summary>
    public IReadOnlyList<ConfigError> Reload(string path, Func<string, string?> environment)
    {
        lock (_reloading)
        {
            ConfigLoadResult loaded;
            try
            {
                loaded = ConfigLoader.LoadFile(path, environment);
            }
            catch (Exception e)
            {
                // A reload runs on a timer or a signal: nothing in a config file may take the process down.
                loaded = new ConfigLoadResult(null, [new ConfigError("$", $"the file could not be loaded ({e.GetType().Name})", "check the file and save it again")]);
            }
            var errors = loaded.Errors.ToList();
            var old = _current;
            if (loaded.Config is { } config)
            {
                // Listeners and Kestrel's limits are fixed when the server starts.
                if (!config.Urls.SequenceEqual(old.Config.Urls))
                {
                    errors.Add(new ConfigError("$.urls", "listen addresses cannot change while the gateway runs", "restart the gateway to listen elsewhere"));
                }
                if (config.Limits != old.Config.Limits)
                {
                    errors.Add(new ConfigError("$.limits", "limits cannot change while the gateway runs", "restart the gateway for new limits"));
                }
                if (config.Cache.MaxMegabytes != old.Config.Cache.MaxMegabytes || config.Cache.Shared != old.Config.Cache.Shared)
                {
                    errors.Add(new ConfigError("$.cache", "the cache's size and whether it is shared on Redis cannot change while the gateway runs", "restart the gateway for them"));
                }
                if ((config.Cache.Semantic is { } semantic ? semantic with { Threshold = null } : null)
                    != (old.Config.Cache.Semantic is { } was ? was with { Threshold = null } : null)
                    || config.Cache.Semantic?.Provider is { } embeddings && config.Providers.GetValueOrDefault(embeddings) != old.Config.Providers.GetValueOrDefault(embeddings))
                {
                    errors.Add(new ConfigError("$.cache.semantic", "the semantic cache's embedder (its provider too) and size cannot change while the gateway runs (its threshold can)",
                        "restart the gateway for them"));
                }
                if (config.Redis != old.Config.Redis)
                {
                    errors.Add(new ConfigError("$.redis", "the Redis replicas share cannot change while the gateway runs", "restart the gateway for it"));
                }
                if (config.Shutdown != old.Config.Shutdown)
                {
                    errors.Add(new ConfigError("$.shutdown", "the drain settings cannot change while the gateway runs", "restart the gateway for them"));
                }
                if (config.Tenancy != old.Config.Tenancy)
                {
                    errors.Add(new ConfigError("$.tenancy", "where workspaces, keys and kept content live cannot change while the gateway runs", "restart the gateway for it"));
                }
                if (config.Tracing != old.Config.Tracing)
                {
                    errors.Add(new ConfigError("$.tracing", "tracing settings cannot change while the gateway runs", "restart the gateway for new tracing settings"));
                }
                if (config.Trace != old.Config.Trace)
                {
                    errors.Add(new ConfigError("$.trace", "the trace log settings cannot change while the gateway runs", "restart the gateway for new trace settings"));
                }
                if (config.Metrics.MaxSeries != old.Config.Metrics.MaxSeries)
                {
                    errors.Add(new ConfigError("$.metrics.maxSeries", "the series limit cannot change while the gateway runs", "restart the gateway for a new limit"));
                }
                if (config.Metrics.WorkspaceLabel != old.Config.Metrics.WorkspaceLabel)
                {
                    // A metric's label names are fixed when it is made.
                    errors.Add(new ConfigError("$.metrics.workspaceLabel", "the workspace label cannot be added or removed while the gateway runs",
                        "restart the gateway for it"));
                }
                if (!config.Metrics.Urls.SequenceEqual(old.Config.Metrics.Urls))
                {
                    errors.Add(new ConfigError("$.metrics.urls", "the management listener cannot change while the gateway runs", "restart the gateway to listen elsewhere"));
                }
                if (_simulatorUrl is null && GatewayRuntime.NeedsInProcessSimulator(config))
                {
                    errors.Add(new ConfigError("$.providers", "a sim provider without baseUrl needs the in-process simulator, which is not running",
                        "give the sim provider a baseUrl, or restart the gateway"));
                }
            }
            if (errors.Count > 0 || loaded.Config is null)
            {
                Interlocked.Increment(ref _failures);
                Log.ReloadRefused(_logger, path, errors.Count, string.Join("; ", errors));
                return errors;
            }

            GatewayRuntime next;
            try
            {
                next = new GatewayRuntime(loaded.Config, _simulatorUrl, old);
            }
            catch (ConfigFileException e)
            {
                // A file the configuration names (a provider's CA) is missing or damaged: the running one stays.
                Interlocked.Increment(ref _failures);
                Log.ReloadRefused(_logger, path, 1, e.Message);
                return [new ConfigError(e.ConfigPath, e.Message, "fix or restore the file, then save the configuration again")];
            }
            catch (InvalidDataException e)
            {
                // A file the configuration names (the task model's centroids) is missing or damaged: the running one stays.
                Interlocked.Increment(ref _failures);
                Log.ReloadRefused(_logger, path, 1, e.Message);
                return [new ConfigError("$.taskModel.centroids", e.Message, "fix or restore the file, then save the configuration again")];
            }
            _current = next;
            Interlocked.Increment(ref _reloads);
            Log.Reloaded(_logger, path, next.Routes.Routes.Length, next.Providers.Length);
            var grace = old.Providers.Select(p => p.Config.Timeouts.Total).DefaultIfEmpty(TimeSpan.Zero).Max();
            _ = Task.Delay(grace).ContinueWith(_ => old.DisposeProvidersNotIn(next), TaskScheduler.Default);
            return [];
        }
    }

    public void Dispose() => _current.Dispose();
}
