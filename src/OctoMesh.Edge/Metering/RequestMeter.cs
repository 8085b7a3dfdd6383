using OctoMesh.Edge.Wire;
using OctoMesh.Edge.Telemetry;
using OctoMesh.Routing.Pricing;

namespace OctoMesh.Edge.Metering;

/// <summary>Accounts a finished request: its cost from the price table, then metrics and the trace log.</summary>
internal sealed class RequestMeter(GatewayMetrics metrics, TraceLog? traceLog) : IAsyncDisposable
{
    public GatewayMetrics Metrics => metrics;

    public TraceLog? TraceLog => traceLog;

    /// <summary>The exchange's cost in micro-dollars, and whether its model has a price (one without costs nothing).</summary>
    public static (long CostMicros, bool Priced) Price(Exchange exchange, PriceTable prices)
    {
        if (exchange.Usage is { } usage && exchange.Model is { } model)
        {
            return prices.TryFind(model, out var price) ? (Cost(price, usage), true) : (0, false);
        }
        return (0, true);
    }

    /// <summary>Records a priced exchange in the metrics and the trace log.</summary>
    public void Record(Exchange exchange, int status, long cost, bool priced)
    {
        metrics.RecordRequest(exchange, status, cost, priced);
        if (traceLog is not null)
        {
            var trace = Trace(exchange, status, cost, traceLog);
            traceLog.Append(ref trace);
        }
    }

    /// <summary>Prices the exchange's usage and records it. Returns the cost in micro-dollars.</summary>
    public long Record(Exchange exchange, int status, PriceTable prices)
    {
        var (cost, priced) = Price(exchange, prices);
        Record(exchange, status, cost, priced);
        return cost;
    }

    private static PendingTrace Trace(Exchange exchange, int status, long cost, TraceLog log)
    {
        var usage = exchange.Usage ?? default;
        return new PendingTrace
        {
            Record = new TraceRecord
            {
                Flags = (byte)((exchange.Stream ? TraceRecord.StreamFlag : 0) | (exchange.Hedged ? TraceRecord.HedgedFlag : 0)),
                Status = (ushort)status,
                Outcome = (byte)exchange.Outcome,
                Cache = CacheOutcomes.Code(exchange.CacheOutcome),
                Operation = (byte)exchange.Operation,
                StartUnixMicros = log.UnixMicros(exchange.Started),
                TotalMicros = Micros(exchange.Ended - exchange.Started),
                FirstByteMicros = exchange.FirstByte == 0 ? 0 : Micros(exchange.FirstByte - exchange.Started),
                OverheadMicros = (uint)Math.Min(uint.MaxValue, exchange.OverheadSeconds * 1_000_000),
                PromptTokens = usage.PromptTokens,
                CompletionTokens = usage.CompletionTokens,
                CachedTokens = usage.CachedTokens,
                CacheWriteTokens = usage.CacheWriteTokens,
                ReasoningTokens = usage.ReasoningTokens,
                CostMicros = cost,
                Retries = (byte)Math.Min(exchange.Retries, byte.MaxValue),
                Fallbacks = (byte)Math.Min(exchange.Fallbacks, byte.MaxValue),
            },
            RequestId = exchange.RequestId,
            Workspace = exchange.Workspace,
            Key = exchange.KeyName,
            Route = exchange.Route,
            Provider = exchange.Provider,
            Model = exchange.Model,
            Task = exchange.Task,
        };
    }

    /// <summary>Appends an audit record of an admin call (nothing without a trace log): who, what, on which workspace, its status.</summary>
    /// <param name="subject">What the action was on beyond the workspace (a key's id), kept in the record's model slot.</param>
    public void Audit(string admin, AuditAction action, string? workspace, int status, string requestId, string? subject = null)
    {
        if (traceLog is null)
        {
            return;
        }
        var audit = new PendingTrace
        {
            Record = new TraceRecord
            {
                Kind = TraceKind.Audit,
                Operation = (byte)action,
                Status = (ushort)status,
                StartUnixMicros = traceLog.UnixMicros(System.Diagnostics.Stopwatch.GetTimestamp()),
            },
            RequestId = requestId,
            Key = admin,
            Workspace = workspace,
            Model = subject,
        };
        traceLog.Append(ref audit);
    }

    /// <summary>Commits and closes the trace log; the host calls it once the last request has ended.</summary>
    public ValueTask DisposeAsync() => traceLog?.DisposeAsync() ?? ValueTask.CompletedTask;

    private static uint Micros(long ticks) => (uint)Math.Min(uint.MaxValue, ticks * (1_000_000.0 / System.Diagnostics.Stopwatch.Frequency));

    /// <summary>The cost of <paramref name="usage"/>, which every adapter reports in OpenAI's terms (cached and cache writes inside the prompt, reasoning inside the completion).</summary>
    public static long Cost(ModelPrice price, TokenUsage usage) =>
        price.Cost(usage.PromptTokens, usage.CompletionTokens, usage.CachedTokens, usage.CacheWriteTokens, usage.ReasoningTokens);
}
