using System.Diagnostics;
using Microsoft.Extensions.Logging;
using OctoMesh.Edge.Metering;
using OctoMesh.Edge.Telemetry;

namespace OctoMesh.Edge.Pipeline.Steps;

/// <summary>
/// The outermost bracket. Before: the request id goes back to the client and the request's span starts (when tracing
/// is on). After, whatever happened: the <see cref="Exchange"/> the steps filled in is priced and recorded in the
/// metrics and the trace log (<see cref="RequestMeter"/>), and its span ends.
/// </summary>
internal sealed class AccountStep(RequestMeter meter, ILogger<AccountStep> logger) : IRequestBracket
{
    public ValueTask<StepResult> RunAsync(GatewayRequest request)
    {
        request.Response.Headers["x-request-id"] = request.Exchange.RequestId;
        request.Span = GatewayTracing.StartRequest(request.Http, request.Operation);
        return ValueTask.FromResult(StepResult.Next);
    }

    public ValueTask CloseAsync(GatewayRequest request)
    {
        request.Finish();
        var exchange = request.Exchange;
        meter.Record(exchange, request.Status, request.CostMicros, request.Priced);
        if (request.Span is { } span)
        {
            GatewayTracing.Complete(span, exchange, request.Status, request.CostMicros);
            span.Dispose();
        }
        if (logger.IsEnabled(LogLevel.Debug))
        {
            Log.RequestCompleted(logger, exchange.RequestId, exchange.Operation, exchange.Model ?? "", exchange.Provider ?? "", request.Status,
                exchange.Outcome, exchange.Usage?.PromptTokens ?? 0, exchange.Usage?.CompletionTokens ?? 0, request.CostMicros,
                Stopwatch.GetElapsedTime(exchange.Started, exchange.Ended).TotalMilliseconds);
        }
        return ValueTask.CompletedTask;
    }
}
