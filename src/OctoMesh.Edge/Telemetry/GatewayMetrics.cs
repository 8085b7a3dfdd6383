using System.Diagnostics;
using OctoMesh.Edge.Wire;
using Prometheus;

namespace OctoMesh.Edge.Telemetry;

/// <summary>
/// The gateway's metrics, recorded on prometheus-net and served at <c>/metrics</c> from <see cref="Registry"/>. Names and
/// labels follow the OpenTelemetry GenAI semantic conventions as their Prometheus mapping writes them
/// (<c>gen_ai_client_token_usage</c>, <c>gen_ai_server_time_to_first_token_seconds</c>, <c>gen_ai_provider_name</c>, …).
/// Recorded on prometheus-net directly rather than through its adapter for <c>System.Diagnostics.Metrics</c>: the adapter
/// prefixes the meter's name, drops units and <c>_total</c>, exports counters as gauges and starts listening only at the
/// first scrape, so the names dashboards and alerts use could not stay. Every label value is a string the gateway already
/// holds (configured names, constants), and children are found without allocating (<see cref="BoundedSeries{TChild}"/>).
/// One registry per gateway, not prometheus-net's static one, so that gateways in one process (the tests) count apart.
/// </summary>
internal sealed class GatewayMetrics
{
    // Label names: GenAI's where one exists, the gateway's own otherwise.
    public const string Operation = "gen_ai_operation_name";
    public const string Provider = "gen_ai_provider_name";
    public const string Model = "gen_ai_request_model";
    public const string TokenType = "gen_ai_token_type";
    public const string ErrorType = "error_type";
    public const string Route = "octomesh_route";
    public const string StatusClass = "octomesh_status_class";
    public const string Cache = "octomesh_cache";
    public const string Workspace = "octomesh_workspace";
    public const string Result = "octomesh_result";
    public const string Budget = "octomesh_budget";
    public const string RateLimit = "octomesh_rate_limit";

    private static readonly double[] s_durationBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
    private static readonly double[] s_tokenTimeBuckets = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 1];
    private static readonly double[] s_overheadBuckets = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1];
    private static readonly double[] s_tokenBuckets = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304];

    private readonly IMetricFactory _factory;
    private readonly int _maxSeries;
    private readonly bool _workspaceLabel;
    private readonly BoundedSeries<Counter.Child> _requests;
    private readonly BoundedSeries<Histogram.Child> _duration;
    private readonly BoundedSeries<Histogram.Child> _timeToFirstToken;
    private readonly BoundedSeries<Histogram.Child> _timePerOutputToken;
    private readonly BoundedSeries<Histogram.Child> _overhead;
    private readonly BoundedSeries<Histogram.Child> _tokenUsage;
    private readonly BoundedSeries<Counter.Child> _tokens;
    private readonly BoundedSeries<Counter.Child> _cost;
    private readonly BoundedSeries<Counter.Child> _unpriced;
    private readonly BoundedSeries<Counter.Child> _upstreamErrors;
    private readonly BoundedSeries<Counter.Child> _retries;
    private readonly BoundedSeries<Counter.Child> _fallbacks;
    private readonly BoundedSeries<Counter.Child> _budgetRefusals;
    private readonly BoundedSeries<Counter.Child> _rateLimited;
    private readonly BoundedSeries<Counter.Child> _budgetExceeded;
    private readonly BoundedSeries<Counter.Child> _hedges;
    private readonly BoundedSeries<Gauge.Child> _activeStreams;
    private readonly Histogram _traceCommit;
    private readonly Counter _traceCommitFailures;

    /// <param name="workspaceLabel">Label requests, tokens and cost by workspace (<c>metrics.workspaceLabel</c>).</param>
    /// <param name="maxSeries">Series per metric (<c>metrics.maxSeries</c>).</param>
    public GatewayMetrics(bool workspaceLabel = false, int maxSeries = 2000)
    {
        Registry = Metrics.NewCustomRegistry();
        _factory = Metrics.WithCustomRegistry(Registry);
        _factory.ExemplarBehavior = ExemplarBehavior.NoExemplars();
        _maxSeries = maxSeries;
        _workspaceLabel = workspaceLabel;
        string[] workspace = workspaceLabel ? [Workspace] : [];
        _requests = Counter("octomesh_requests_total", "Requests answered, by route, operation, provider, model, status class and cache outcome.",
            [Route, Operation, Provider, Model, StatusClass, Cache, .. workspace]);
        _duration = Histogram("gen_ai_client_operation_duration_seconds", "Time from a request's arrival to the end of its answer.",
            s_durationBuckets, [Operation, Provider, Model]);
        _timeToFirstToken = Histogram("gen_ai_server_time_to_first_token_seconds",
            "Streamed requests: time from arrival to the first byte of the answer sent to the client.", s_durationBuckets, [Operation, Provider, Model]);
        _timePerOutputToken = Histogram("gen_ai_server_time_per_output_token_seconds", "Streamed requests: time per output token after the first.",
            s_tokenTimeBuckets, [Operation, Provider, Model]);
        _overhead = Histogram("octomesh_gateway_overhead_seconds",
            "Time spent in the gateway before the answer started: arrival to first byte, less the time waiting on upstreams and backoffs.",
            s_overheadBuckets, [Operation]);
        _tokenUsage = Histogram("gen_ai_client_token_usage", "Tokens per request, input and output, as the provider reported them.",
            s_tokenBuckets, [Operation, Provider, Model, TokenType]);
        _tokens = Counter("octomesh_tokens_total", "Tokens by type: input, output, cached (read from the provider's cache), cache_write and reasoning.",
            [Provider, Model, TokenType, .. workspace]);
        _cost = Counter("octomesh_cost_microdollars_total", "Cost of the answered requests in micro-dollars (USD 1e-6), from the price table.",
            [Route, Provider, Model, .. workspace]);
        _unpriced = Counter("octomesh_unpriced_requests_total", "Requests with usage whose model has no price (counted at cost 0): add it under 'prices'.",
            [Provider, Model]);
        _upstreamErrors = Counter("octomesh_upstream_errors_total",
            "Upstream failures by type: timeout, unreachable, rate_limited, server_error, stream_cut, auth.", [Provider, ErrorType]);
        _retries = Counter("octomesh_retries_total", "Tries of a target again after it failed, per the route's retry policy.", [Route]);
        _fallbacks = Counter("octomesh_fallbacks_total", "Moves to a route's next target after one failed or was full.", [Route]);
        _rateLimited = Counter("octomesh_rate_limited_total", "Requests a rate limit refused (429).", [RateLimit]);
        _budgetRefusals = Counter("octomesh_budget_refusals_total", "Requests a hard budget refused (429).", [Budget]);
        _budgetExceeded = Counter("octomesh_budget_exceeded_total", "Requests served past a soft budget's limit.", [Budget]);
        _hedges = Counter("octomesh_hedges_total", "Hedged requests: a second target sent the request because the first was slow.", [Route]);
        var activeStreams = _factory.CreateGauge("octomesh_active_streams", "Streamed answers being sent now.", [Operation]);
        _activeStreams = new(labels => activeStreams.WithLabels(labels), maxSeries);
        _traceCommit = _factory.CreateHistogram("octomesh_trace_commit_duration_seconds", "Time a group commit of the trace log took.",
            new HistogramConfiguration { Buckets = s_overheadBuckets });
        _traceCommitFailures = _factory.CreateCounter("octomesh_trace_commit_failures_total", "Trace log commits that failed (disk full, I/O error).");
        // Metrics without labels are written from the start (0 until something happens), as before.
        _traceCommitFailures.Publish();
    }

    /// <summary>What <c>/metrics</c> serves.</summary>
    public CollectorRegistry Registry { get; }

    /// <summary>Records a finished request: counts, durations, tokens and cost. Allocation-free.</summary>
    public void RecordRequest(Exchange exchange, int status, long costMicros, bool priced)
    {
        var operation = exchange.OperationName;
        var provider = exchange.Provider ?? "";
        var model = exchange.Model ?? "";
        var route = exchange.Route ?? "";
        var workspace = exchange.WorkspaceLabel ?? "";
        if (_workspaceLabel)
        {
            _requests[route, operation, provider, model, StatusClassOf(status), exchange.CacheOutcome, workspace].Inc();
        }
        else
        {
            _requests[route, operation, provider, model, StatusClassOf(status), exchange.CacheOutcome].Inc();
        }

        var end = exchange.Ended;
        _duration[operation, provider, model].Observe(Stopwatch.GetElapsedTime(exchange.Started, end).TotalSeconds);
        if (exchange.FirstByte != 0)
        {
            _overhead[operation].Observe(exchange.OverheadSeconds);
            if (exchange.Stream && exchange.Provider is not null)
            {
                _timeToFirstToken[operation, provider, model].Observe(Stopwatch.GetElapsedTime(exchange.Started, exchange.FirstByte).TotalSeconds);
                if (exchange.Usage is { CompletionTokens: > 1 } streamed)
                {
                    _timePerOutputToken[operation, provider, model].Observe(
                        Stopwatch.GetElapsedTime(exchange.FirstByte, end).TotalSeconds / (streamed.CompletionTokens - 1));
                }
            }
        }

        if (exchange.Usage is not { } usage)
        {
            return;
        }
        _tokenUsage[operation, provider, model, "input"].Observe(usage.PromptTokens);
        _tokenUsage[operation, provider, model, "output"].Observe(usage.CompletionTokens);
        AddTokens(usage.PromptTokens, "input", provider, model, workspace);
        AddTokens(usage.CompletionTokens, "output", provider, model, workspace);
        AddTokens(usage.CachedTokens, "cached", provider, model, workspace);
        AddTokens(usage.CacheWriteTokens, "cache_write", provider, model, workspace);
        AddTokens(usage.ReasoningTokens, "reasoning", provider, model, workspace);
        if (!priced)
        {
            _unpriced[provider, model].Inc();
        }
        (_workspaceLabel ? _cost[route, provider, model, workspace] : _cost[route, provider, model]).Inc(costMicros);
    }

    private void AddTokens(int count, string type, string provider, string model, string workspace)
    {
        if (count != 0)
        {
            (_workspaceLabel ? _tokens[provider, model, type, workspace] : _tokens[provider, model, type]).Inc(count);
        }
    }

    /// <summary>An upstream failure; <paramref name="type"/> is one of the documented error types.</summary>
    public void UpstreamError(string provider, string type) => _upstreamErrors[provider, type].Inc();

    public void Retry(string route) => _retries[route].Inc();

    public void Fallback(string route) => _fallbacks[route].Inc();

    /// <summary>A rate limit refused a request (429).</summary>
    public void RateLimited(string limit) => _rateLimited[limit].Inc();

    /// <summary>A hard budget refused a request (429).</summary>
    public void BudgetRefused(string budget) => _budgetRefusals[budget].Inc();

    /// <summary>A request took a soft budget past its limit (served).</summary>
    public void BudgetExceeded(string budget) => _budgetExceeded[budget].Inc();

    public void Hedge(string route) => _hedges[route].Inc();

    public void StreamStarted(string operation) => _activeStreams[operation].Inc();

    public void StreamEnded(string operation) => _activeStreams[operation].Dec();

    public void TraceCommitted(double seconds) => _traceCommit.Observe(seconds);

    public void TraceCommitFailed() => _traceCommitFailures.Inc();

    /// <summary>A count kept elsewhere (it only grows), read at every scrape.</summary>
    public void ObserveCounter(string name, string help, Func<long> read)
    {
        var counter = _factory.CreateCounter(name, help);
        counter.Publish();
        Registry.AddBeforeCollectCallback(() => counter.IncTo(read()));
    }

    /// <summary>A value kept elsewhere, read at every scrape.</summary>
    public void ObserveGauge(string name, string help, Func<double> read)
    {
        var gauge = _factory.CreateGauge(name, help);
        gauge.Publish();
        Registry.AddBeforeCollectCallback(() => gauge.Set(read()));
    }

    /// <summary>
    /// Counts kept elsewhere, one per label set, read at every scrape (<paramref name="read"/> gives the same label sets each time).
    /// </summary>
    public void ObserveCounters(string name, string help, string[] labelNames, Func<IEnumerable<(string[] Labels, long Value)>> read)
    {
        var counter = _factory.CreateCounter(name, help, labelNames);
        Registry.AddBeforeCollectCallback(() =>
        {
            foreach (var (labels, value) in read())
            {
                counter.WithLabels(labels).IncTo(value);
            }
        });
    }

    /// <summary>
    /// Values kept elsewhere, one per label set, read at every scrape; a label set no longer read (a route a reload
    /// removed) disappears.
    /// </summary>
    public void ObserveGauges(string name, string help, string[] labelNames, Func<IEnumerable<(string[] Labels, double Value)>> read)
    {
        var gauge = _factory.CreateGauge(name, help, labelNames);
        Registry.AddBeforeCollectCallback(() =>
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (labels, value) in read())
            {
                gauge.WithLabels(labels).Set(value);
                seen.Add(string.Join('\n', labels));
            }
            foreach (var labels in gauge.GetAllLabelValues().ToList())
            {
                if (!seen.Contains(string.Join('\n', labels)))
                {
                    gauge.RemoveLabelled(labels);
                }
            }
        });
    }

    private BoundedSeries<Counter.Child> Counter(string name, string help, string[] labelNames)
    {
        var counter = _factory.CreateCounter(name, help, labelNames);
        return new(labels => counter.WithLabels(labels), _maxSeries);
    }

    private BoundedSeries<Histogram.Child> Histogram(string name, string help, double[] buckets, string[] labelNames)
    {
        var histogram = _factory.CreateHistogram(name, help, labelNames, new HistogramConfiguration { Buckets = buckets });
        return new(labels => histogram.WithLabels(labels), _maxSeries);
    }

    private static string StatusClassOf(int status) => status switch
    {
        < 200 => "1xx",
        < 300 => "2xx",
        < 400 => "3xx",
        < 500 => "4xx",
        _ => "5xx",
    };
}
