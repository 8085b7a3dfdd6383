using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using OctoMesh.Edge.Telemetry;
using OctoMesh.Routing;
using OctoMesh.Routing.Table;

namespace OctoMesh.Edge.Pipeline.Steps;

/// <summary>How trying one target ended.</summary>
internal enum ForwardResult
{
    /// <summary>The client has its answer (the upstream's, or an error in its format), or is gone.</summary>
    Answered,
    /// <summary>The target failed before its first byte, or cannot serve the request: the next target may.</summary>
    Failed,
    /// <summary>The target was at its concurrency limit and was not tried.</summary>
    Busy,
    /// <summary>The target failed, and the route's deadline leaves no room for another try.</summary>
    Late,
}

/// <summary>
/// The last step: the route's targets in the strategy's order while nothing has reached the client, each retried per
/// the route's policy within its deadline; a slow non-streamed first try may be hedged with the second target
/// (<see cref="Hedging"/>). Each try is one <see cref="Relay"/>. When no target answered: 503 when some were busy, 504
/// past the route's deadline, else 502.
/// </summary>
internal sealed class ForwardStep(Relay relay, Hedging hedging, GatewayMetrics metrics, ILogger<ForwardStep> logger) : IRequestStep
{
    public async ValueTask<StepResult> RunAsync(GatewayRequest request)
    {
        var route = request.Route;
        var busy = false;
        var late = false;
        for (var next = 0; next < request.Candidates; )
        {
            var attempt = next;
            if (attempt > 0)
            {
                request.Exchange.Fallbacks++;
                metrics.Fallback(route!.Name);
            }
            ForwardResult result;
            if (attempt == 0 && request.Candidates > 1 && !request.Inspected.Stream && route!.Definition.HedgeAfterMs is { } hedgeAfterMs)
            {
                (result, var tried) = await hedging.ForwardAsync(request, TimeSpan.FromMilliseconds(hedgeAfterMs));
                next += tried;
            }
            else
            {
                result = await TryTargetAsync(request, attempt);
                next++;
            }
            if (result == ForwardResult.Answered)
            {
                return StepResult.Answered;
            }
            busy |= result == ForwardResult.Busy;
            late |= result == ForwardResult.Late;
        }
        if (busy)
        {
            // Some target was at its concurrency limit and none that was tried answered: the route is full for now.
            request.Response.Headers.RetryAfter = "1";
            return await request.RefuseAsync(StatusCodes.Status503ServiceUnavailable,
                $"Every target of route '{route!.Name}' is busy or failed; try again in a moment.", code: "route_busy");
        }
        var deadline = route?.Definition.DeadlineMs is { } ms ? TimeSpan.FromMilliseconds(ms) : (TimeSpan?)null;
        // Every target failed before its first byte without the last try answering: the deadline left no room for
        // another wait, or the last target asked to be retried later than the policy waits.
        return late || deadline <= Stopwatch.GetElapsedTime(request.Exchange.Started) + TimeSpan.FromMilliseconds(1)
            ? await request.RefuseAsync(StatusCodes.Status504GatewayTimeout,
                $"No target of route '{route!.Name}' answered within its deadline of {deadline!.Value.TotalMilliseconds:0} ms.", code: "route_deadline")
            : await request.RefuseAsync(StatusCodes.Status502BadGateway,
                $"Every target of route '{route?.Name}' failed before answering; try again later.", code: "upstream_unavailable");
    }

    /// <summary>
    /// Tries the <paramref name="attempt"/>-th target in order, when it has room, retried per the route's policy within its
    /// deadline, each try waiting for the response headers at most what <see cref="Relay.FirstByteWait"/> allows (the
    /// provider's own timeout alone without a route).
    /// </summary>
    private async Task<ForwardResult> TryTargetAsync(GatewayRequest request, int attempt)
    {
        var route = request.Route;
        var index = request.Order[attempt];
        var health = route?.Health[index];
        if (health is not null && !health.TryEnter(route!.Definition.Targets[index].MaxConcurrency))
        {
            // At its concurrency limit: the next target serves instead.
            return ForwardResult.Busy;
        }
        try
        {
            var retry = route?.Definition.Retry ?? RetryPolicy.None;
            var deadline = route?.Definition.DeadlineMs is { } ms ? TimeSpan.FromMilliseconds(ms) : (TimeSpan?)null;
            var exchange = request.Exchange;
            var lastTarget = attempt == request.Candidates - 1;
            for (var @try = 0; ; @try++)
            {
                // The route's deadline bounds every try and wait together; past it, the client gets a 504 now.
                if (deadline - Stopwatch.GetElapsedTime(exchange.Started) <= TimeSpan.Zero)
                {
                    await request.RefuseAsync(StatusCodes.Status504GatewayTimeout,
                        $"No target of route '{route!.Name}' answered within its deadline of {deadline!.Value.TotalMilliseconds:0} ms.", code: "route_deadline");
                    return ForwardResult.Answered;
                }
                var (result, retryAfter) = await relay.TryAsync(request, request.Target(attempt), health, isLast: lastTarget && @try == retry.Attempts,
                    route is null ? null : Relay.FirstByteWait(route, index, exchange.Started));
                if (result == ForwardResult.Answered || @try == retry.Attempts)
                {
                    return result;
                }
                if (Backoff(retry, @try, retryAfter) is not { } backoff)
                {
                    // The provider asks for a longer wait than the policy allows: the next target, if any.
                    return ForwardResult.Failed;
                }
                if (backoff >= deadline - Stopwatch.GetElapsedTime(exchange.Started))
                {
                    return ForwardResult.Late;
                }
                exchange.Retries++;
                metrics.Retry(route!.Name);
                exchange.UpstreamTicks += (long)(backoff.TotalSeconds * Stopwatch.Frequency);
                try
                {
                    await Task.Delay(backoff, request.Aborted);
                }
                catch (OperationCanceledException)
                {
                    Log.ClientDisconnected(logger, exchange.RequestId);
                    return ForwardResult.Answered;
                }
            }
        }
        finally
        {
            health?.Exit();
        }
    }

    /// <summary>
    /// How long to wait before trying the same target again: exponential backoff with full jitter, or
    /// the provider's <c>retry-after</c> when it asks for longer. Null when the provider asks for more
    /// than the policy allows: the next target is better than waiting.
    /// </summary>
    internal static TimeSpan? Backoff(RetryPolicy policy, int @try, TimeSpan? retryAfter)
    {
        var cap = TimeSpan.FromMilliseconds(policy.MaxBackoffMs);
        if (retryAfter > cap)
        {
            return null;
        }
        var ceiling = Math.Min(policy.MaxBackoffMs, policy.BackoffMs * Math.Pow(2, @try));
        var jittered = TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * ceiling);
        return retryAfter > jittered ? retryAfter : jittered;
    }
}
