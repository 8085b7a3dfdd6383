using System.Diagnostics;
using Microsoft.Extensions.Logging;
using OctoMesh.Edge.Telemetry;

namespace OctoMesh.Edge.Pipeline.Steps;

/// <summary>
/// A hedged first try: when the route's first target has sent no response headers within the route's
/// <c>hedgeAfterMs</c>, the second target (if it has room) is sent the same request, and the first good answer goes to
/// the client while the other send is abandoned. Hedged tries are not retried.
/// </summary>
internal sealed class Hedging(Relay relay, GatewayMetrics metrics, ILogger<Hedging> logger)
{
    /// <summary>Returns how the hedge ended, and how many targets it tried (1 or 2), so that after two failures the caller goes on with the rest.</summary>
    public async Task<(ForwardResult Result, int Tried)> ForwardAsync(GatewayRequest request, TimeSpan hedgeAfter)
    {
        var route = request.Route!;
        var first = request.Order[0];
        var firstHealth = route.Health[first];
        if (!firstHealth.TryEnter(route.Definition.Targets[first].MaxConcurrency))
        {
            return (ForwardResult.Busy, 1);
        }
        try
        {
            return await RaceAsync(request, hedgeAfter);
        }
        finally
        {
            firstHealth.Exit();
        }
    }

    private async Task<(ForwardResult Result, int Tried)> RaceAsync(GatewayRequest request, TimeSpan hedgeAfter)
    {
        var route = request.Route!;
        var exchange = request.Exchange;
        var aborted = request.Aborted;
        var alone = request.Candidates == 1;
        using var primary = await Relay.PrepareAsync(request, request.Target(0), route.Health[request.Order[0]], isLast: false);
        if (primary is null)
        {
            return (request.Response.HasStarted ? ForwardResult.Answered : ForwardResult.Failed, 1);
        }
        var sent = Stopwatch.GetTimestamp();
        var primarySend = primary.SendAsync(Relay.FirstByteWait(route, request.Order[0], exchange.Started));
        try
        {
            await primarySend.WaitAsync(hedgeAfter, aborted);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            // Slow (the hedge starts) or the client is gone (the send notices on its own).
        }
        var second = request.Order[1];
        var secondHealth = route.Health[second];
        if (primarySend.IsCompleted || aborted.IsCancellationRequested || !secondHealth.TryEnter(route.Definition.Targets[second].MaxConcurrency))
        {
            return (await AnswerAloneAsync(request, primary, primarySend, alone), 1);
        }
        try
        {
            using var secondary = await Relay.PrepareAsync(request, request.Target(1), secondHealth, isLast: false);
            if (secondary is null)
            {
                return (await AnswerAloneAsync(request, primary, primarySend, alone), 1);
            }
            Log.Hedged(logger, exchange.RequestId, route.Name, primary.Provider.Name, secondary.Provider.Name);
            exchange.Hedged = true;
            metrics.Hedge(route.Name);
            var secondarySend = secondary.SendAsync(Relay.FirstByteWait(route, second, exchange.Started));
            var primaryFirst = await Task.WhenAny(primarySend, secondarySend) == primarySend;
            var (winner, loser, loserSend) = primaryFirst ? (primary, secondary, secondarySend) : (secondary, primary, primarySend);
            if (winner.Failed)
            {
                // The first to finish failed: the other may still answer well.
                await loserSend;
                winner = loser;
            }
            else
            {
                await loser.AbandonAsync(loserSend);
            }
            // Both sends waited on upstreams together: the race counts once, by the clock.
            exchange.UpstreamTicks += Stopwatch.GetTimestamp() - sent;
            var result = await relay.AnswerAsync(request, winner, isLast: request.Candidates == 2);
            Relay.Release(request, primary);
            Relay.Release(request, secondary);
            return (result, 2);
        }
        finally
        {
            secondHealth.Exit();
        }
    }

    private async Task<ForwardResult> AnswerAloneAsync(GatewayRequest request, UpstreamAttempt primary, Task primarySend, bool isLast)
    {
        await primarySend;
        request.Exchange.UpstreamTicks += primary.Waited;
        var result = await relay.AnswerAsync(request, primary, isLast);
        Relay.Release(request, primary);
        return result;
    }
}
