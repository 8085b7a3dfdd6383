using System.Diagnostics;
using System.Diagnostics.Metrics;
using OctoMesh.Edge.Proxy;

namespace OctoMesh.Edge.Telemetry;

/// <summary>
/// The gateway's instruments on <see cref="System.Diagnostics.Metrics"/> (meter <c>OctoMesh.Edge</c>), so any
/// listener (the Prometheus exporter at <c>/metrics</c>, OpenTelemetry) sees them. Names and attributes follow
/// the OpenTelemetry GenAI semantic conventions where one applies (<c>gen_ai.client.token.usage</c>,
/// <c>gen_ai.server.time_to_first_token</c>, <c>gen_ai.provider.name</c>, …). Every tag value is a string the
/// gateway already holds (configured names, constants), so recording allocates nothing.
/// </summary>
internal sealed class GatewayMetrics : IDisposable
{
    public const string MeterName = "OctoMesh.Edge";

    // Attribute names: GenAI's where one exists, the gateway's own otherwise.
    public const string Operation = "gen_ai.operation.name";
    public const string Provider = "gen_ai.provider.name";
    public const string Model = "gen_ai.request.model";
    public const string TokenType = "gen_ai.token.type";
    public const string ErrorType = "error.type";
    public const string Route = "octomesh.route";
    public const string StatusClass = "octomesh.status_class";
    public const string Cache = "octomesh.cache";
    public const string Workspace = "octomesh.workspace";
    public const string Result = "octomesh.result";
    public const string Budget = "octomesh.budget";
    public const string RateLimit = "octomesh.rate_limit";

    private static readonly double[] s_durationBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
    private static readonly double[] s_tokenTimeBuckets = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 1];
    private static readonly double[] s_overheadBuckets = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1];
    private static readonly long[] s_tokenBuckets = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304];

    private readonly Meter _meter;
    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;
    private readonly Histogram<double> _timeToFirstToken;
    private readonly Histogram<double> _timePerOutputToken;
    private readonly Histogram<double> _overhead;
    private readonly Histogram<long> _tokenUsage;
    private readonly Counter<long> _tokens;
    private readonly Counter<long> _cost;
    private readonly Counter<long> _unpriced;
    private readonly Counter<long> _upstreamErrors;
    private readonly Counter<long> _retries;
    private readonly Counter<long> _fallbacks;
    private readonly Counter<long> _budgetRefusals;
    private readonly Counter<long> _rateLimited;
    private readonly Counter<long> _budgetExceeded;
    private readonly Counter<long> _hedges;
    private readonly UpDownCounter<long> _activeStreams;
    private readonly Histogram<double> _traceCommit;
    private readonly Counter<long> _traceCommitFailures;

    public GatewayMetrics()
    {
        _meter = new Meter(MeterName, typeof(GatewayMetrics).Assembly.GetName().Version?.ToString());
        _requests = _meter.CreateCounter<long>("octomesh.requests", "{request}", "Requests answered, by route, operation, provider, model, status class and cache outcome.");
        _duration = _meter.CreateHistogram("gen_ai.client.operation.duration", "s", "Time from a request's arrival to the end of its answer.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = s_durationBuckets });
        _timeToFirstToken = _meter.CreateHistogram("gen_ai.server.time_to_first_token", "s", "Streamed requests: time from arrival to the first byte of the answer sent to the client.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = s_durationBuckets });
        _timePerOutputToken = _meter.CreateHistogram("gen_ai.server.time_per_output_token", "s", "Streamed requests: time per output token after the first.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = s_tokenTimeBuckets });
        _overhead = _meter.CreateHistogram("octomesh.gateway.overhead", "s",
            "Time spent in the gateway before the answer started: arrival to first byte, less the time waiting on upstreams and backoffs.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = s_overheadBuckets });
        _tokenUsage = _meter.CreateHistogram("gen_ai.client.token.usage", "{token}", "Tokens per request, input and output, as the provider reported them.",
            advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = s_tokenBuckets });
        _tokens = _meter.CreateCounter<long>("octomesh.tokens", "{token}", "Tokens by type: input, output, cached (read from the provider's cache), cache_write and reasoning.");
        _cost = _meter.CreateCounter<long>("octomesh.cost", "microdollars", "Cost of the answered requests in micro-dollars (USD 1e-6), from the price table.");
        _unpriced = _meter.CreateCounter<long>("octomesh.unpriced_requests", "{request}", "Requests with usage whose model has no price (counted at cost 0): add it under 'prices'.");
        _upstreamErrors = _meter.CreateCounter<long>("octomesh.upstream.errors", "{error}", "Upstream failures by type: timeout, unreachable, rate_limited, server_error, stream_cut, auth.");
        _retries = _meter.CreateCounter<long>("octomesh.retries", "{retry}", "Tries of a target again after it failed, per the route's retry policy.");
        _fallbacks = _meter.CreateCounter<long>("octomesh.fallbacks", "{fallback}", "Moves to a route's next target after one failed or was full.");
        _rateLimited = _meter.CreateCounter<long>("octomesh.rate_limited", "{request}", "Requests a rate limit refused (429).");
        _budgetRefusals = _meter.CreateCounter<long>("octomesh.budget.refusals", "{request}", "Requests a hard budget refused (429).");
        _budgetExceeded = _meter.CreateCounter<long>("octomesh.budget.exceeded", "{request}", "Requests served past a soft budget's limit.");
        _hedges = _meter.CreateCounter<long>("octomesh.hedges", "{hedge}", "Hedged requests: a second target sent the request because the first was slow.");
        _activeStreams = _meter.CreateUpDownCounter<long>("octomesh.active_streams", "{stream}", "Streamed answers being sent now.");
        _traceCommit = _meter.CreateHistogram("octomesh.trace.commit.duration", "s", "Time a group commit of the trace log took.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = s_overheadBuckets });
        _traceCommitFailures = _meter.CreateCounter<long>("octomesh.trace.commit.failures", "{failure}", "Trace log commits that failed (disk full, I/O error).");
    }

    public Meter Meter => _meter;

    /// <summary>Records a finished request: counts, durations, tokens and cost. Allocation-free.</summary>
    public void RecordRequest(Exchange exchange, int status, long costMicros, bool priced)
    {
        var operation = exchange.OperationName;
        var provider = exchange.Provider ?? "";
        var model = exchange.Model ?? "";
        var tags = new TagList
        {
            { Route, exchange.Route ?? "" },
            { Operation, operation },
            { Provider, provider },
            { Model, model },
            { StatusClass, StatusClassOf(status) },
            { Cache, exchange.CacheOutcome },
        };
        if (exchange.WorkspaceLabel is { } workspace)
        {
            tags.Add(Workspace, workspace);
        }
        _requests.Add(1, tags);

        var end = exchange.Ended;
        _duration.Record(Stopwatch.GetElapsedTime(exchange.Started, end).TotalSeconds,
            new(Operation, operation), new(Provider, provider), new(Model, model));
        if (exchange.FirstByte != 0)
        {
            _overhead.Record(exchange.OverheadSeconds, new KeyValuePair<string, object?>(Operation, operation));
            if (exchange.Stream && exchange.Provider is not null)
            {
                _timeToFirstToken.Record(Stopwatch.GetElapsedTime(exchange.Started, exchange.FirstByte).TotalSeconds,
                    new(Operation, operation), new(Provider, provider), new(Model, model));
                if (exchange.Usage is { CompletionTokens: > 1 } streamed)
                {
                    _timePerOutputToken.Record(Stopwatch.GetElapsedTime(exchange.FirstByte, end).TotalSeconds / (streamed.CompletionTokens - 1),
                        new(Operation, operation), new(Provider, provider), new(Model, model));
                }
            }
        }

        if (exchange.Usage is not { } usage)
        {
            return;
        }
        _tokenUsage.Record(usage.PromptTokens, new(Operation, operation), new(Provider, provider), new(Model, model), new(TokenType, "input"));
        _tokenUsage.Record(usage.CompletionTokens, new(Operation, operation), new(Provider, provider), new(Model, model), new(TokenType, "output"));
        AddTokens(usage.PromptTokens, "input", provider, model, exchange.WorkspaceLabel);
        AddTokens(usage.CompletionTokens, "output", provider, model, exchange.WorkspaceLabel);
        AddTokens(usage.CachedTokens, "cached", provider, model, exchange.WorkspaceLabel);
        AddTokens(usage.CacheWriteTokens, "cache_write", provider, model, exchange.WorkspaceLabel);
        AddTokens(usage.ReasoningTokens, "reasoning", provider, model, exchange.WorkspaceLabel);
        if (!priced)
        {
            _unpriced.Add(1, new(Provider, provider), new(Model, model));
        }
        var costTags = new TagList { { Route, exchange.Route ?? "" }, { Provider, provider }, { Model, model } };
        if (exchange.WorkspaceLabel is { } costWorkspace)
        {
            costTags.Add(Workspace, costWorkspace);
        }
        _cost.Add(costMicros, costTags);
    }

    private void AddTokens(int count, string type, string provider, string model, string? workspace)
    {
        if (count == 0)
        {
            return;
        }
        if (workspace is null)
        {
            _tokens.Add(count, new(Provider, provider), new(Model, model), new(TokenType, type));
        }
        else
        {
            _tokens.Add(count, new TagList { { Provider, provider }, { Model, model }, { TokenType, type }, { Workspace, workspace } });
        }
    }

    /// <summary>An upstream failure; <paramref name="type"/> is one of the documented error types.</summary>
    public void UpstreamError(string provider, string type) => _upstreamErrors.Add(1, new(Provider, provider), new(ErrorType, type));

    public void Retry(string route) => _retries.Add(1, new KeyValuePair<string, object?>(Route, route));

    public void Fallback(string route) => _fallbacks.Add(1, new KeyValuePair<string, object?>(Route, route));

    /// <summary>A rate limit refused a request (429).</summary>
    public void RateLimited(string limit) => _rateLimited.Add(1, new KeyValuePair<string, object?>(RateLimit, limit));

    /// <summary>A hard budget refused a request (429).</summary>
    public void BudgetRefused(string budget) => _budgetRefusals.Add(1, new KeyValuePair<string, object?>(Budget, budget));

    /// <summary>A request took a soft budget past its limit (served).</summary>
    public void BudgetExceeded(string budget) => _budgetExceeded.Add(1, new KeyValuePair<string, object?>(Budget, budget));

    public void Hedge(string route) => _hedges.Add(1, new KeyValuePair<string, object?>(Route, route));

    public void StreamStarted(string operation) => _activeStreams.Add(1, new KeyValuePair<string, object?>(Operation, operation));

    public void StreamEnded(string operation) => _activeStreams.Add(-1, new KeyValuePair<string, object?>(Operation, operation));

    public void TraceCommitted(double seconds) => _traceCommit.Record(seconds);

    public void TraceCommitFailed() => _traceCommitFailures.Add(1);

    /// <summary>Reads a value at every collection (breaker states, reload counts, trace-log backlog).</summary>
    public void Observe<T>(string name, string? unit, string description, Func<IEnumerable<Measurement<T>>> observe, bool counter = false) where T : struct
    {
        if (counter)
        {
            _meter.CreateObservableCounter(name, observe, unit, description);
        }
        else
        {
            _meter.CreateObservableGauge(name, observe, unit, description);
        }
    }

    private static string StatusClassOf(int status) => status switch
    {
        < 200 => "1xx",
        < 300 => "2xx",
        < 400 => "3xx",
        < 500 => "4xx",
        _ => "5xx",
    };

    public void Dispose() => _meter.Dispose();
}
