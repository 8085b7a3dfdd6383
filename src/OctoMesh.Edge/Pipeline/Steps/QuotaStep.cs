using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using OctoMesh.Edge.Providers;
using OctoMesh.Edge.Telemetry;
using OctoMesh.Edge.Tenancy;
using OctoMesh.Routing.Pricing;

namespace OctoMesh.Edge.Pipeline.Steps;

/// <summary>
/// Rate limits and budgets as one bracket. Before: the request and its most possible tokens are taken from every rate
/// limit that selects it, then its most possible cost is held against every budget of its key and workspace; either
/// refuses it with a 429. After: what was held is settled with the exact tokens and cost, or, when an answer went out
/// without usage (the provider may still bill it), kept at its bound.
/// </summary>
internal sealed class QuotaStep(RateLimiter limiter, BudgetLedger budgets, GatewayMetrics metrics, ILogger<QuotaStep> logger) : IRequestBracket
{
    public async ValueTask<StepResult> RunAsync(GatewayRequest request)
    {
        if (request.Exchange.Shadow)
        {
            return StepResult.Next;
        }
        return await AcquireRateLimitsAsync(request) == StepResult.Answered ? StepResult.Answered : await ReserveBudgetsAsync(request);
    }

    public async ValueTask CloseAsync(GatewayRequest request)
    {
        if (request.Reservations is not { Count: > 0 } && request.RateHolds is not { Count: > 0 })
        {
            return;
        }
        request.Finish();
        var exchange = request.Exchange;
        var unknown = exchange.Usage is null && exchange.Provider is not null && request.Status is StatusCodes.Status200OK or 499;
        if (request.Reservations is { Count: > 0 } reservations)
        {
            await budgets.SettleAsync(reservations, unknown ? null : request.CostMicros);
        }
        if (request.RateHolds is { Count: > 0 } holds)
        {
            await limiter.SettleAsync(holds, unknown ? long.MaxValue : exchange.Usage is { } usage ? usage.PromptTokens + usage.CompletionTokens : 0);
        }
    }

    /// <summary>
    /// Takes this request, and its most possible tokens (the body's bytes and <c>max_tokens</c>, else the first target
    /// provider's default), from every rate limit that selects it (<see cref="RateLimiter"/>), and says how much is left
    /// in the <c>x-ratelimit-*</c> headers.
    /// </summary>
    private async ValueTask<StepResult> AcquireRateLimitsAsync(GatewayRequest request)
    {
        var all = request.Runtime.Config.RateLimits;
        if (all.IsEmpty)
        {
            return StepResult.Next;
        }
        var exchange = request.Exchange;
        var limits = all.Where(l => l.Applies(exchange.Workspace, exchange.KeyName, request.ModelName)).ToArray();
        if (limits.Length == 0)
        {
            return StepResult.Next;
        }
        var tokens = request.Body.Length + MostOutputTokens(request, request.Runtime.Providers[request.Target(0).ProviderIndex]);
        var decision = await limiter.AcquireAsync(limits, tokens);
        var headers = request.Response.Headers;
        if (decision.Refused is { } refused)
        {
            metrics.RateLimited(refused.Name);
            var perMinute = decision.RefusedDimension == "tokens" ? refused.TokensPerMinute!.Value : refused.RequestsPerMinute!.Value;
            var seconds = Math.Max(1, (long)Math.Ceiling(decision.RetryAfter.TotalSeconds));
            headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            var message = decision.RefusedDimension == "tokens" && tokens > perMinute
                ? $"Rate limit '{refused.Name}' allows {perMinute} tokens per minute, and this request may take {tokens}; lower max_tokens or send less."
                : $"Rate limit '{refused.Name}' ({perMinute} {decision.RefusedDimension} per minute) is reached; retry in {seconds} s.";
            return await request.RefuseAsync(StatusCodes.Status429TooManyRequests, message, code: "rate_limit_exceeded");
        }
        request.RateHolds = decision.Holds;
        WriteRateHeaders(headers, "requests", decision.Requests);
        WriteRateHeaders(headers, "tokens", decision.Tokens);
        return StepResult.Next;
    }

    /// <summary><c>x-ratelimit-limit-*</c>, <c>-remaining-*</c> and <c>-reset-*</c> for one dimension, when a limit counts it.</summary>
    private static void WriteRateHeaders(IHeaderDictionary headers, string dimension, RateState? state)
    {
        if (state is { } known)
        {
            headers["x-ratelimit-limit-" + dimension] = known.Limit.ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-remaining-" + dimension] = known.Remaining.ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-reset-" + dimension] = known.Reset.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + "s";
        }
    }

    /// <summary>The most tokens an answer can have: each of the <c>n</c> choices asked for writing <c>max_tokens</c>, else the provider's default.</summary>
    private static long MostOutputTokens(GatewayRequest request, UpstreamProvider provider) =>
        (long)Math.Max(1, request.Inspected.Choices) * (request.Inspected.MaxTokens > 0 ? request.Inspected.MaxTokens : provider.Config.DefaultMaxTokens);

    /// <summary>
    /// Holds the most this request can cost against every budget of its key and workspace (<see cref="BudgetLedger"/>):
    /// the body's bytes as prompt tokens (no tokenizer makes more tokens than bytes) at the dearer of the input and
    /// cache-write prices, plus <c>max_tokens</c> (else the provider's default) at the dearer of the output and
    /// reasoning prices, for the dearest target the request may reach. Models without a price cost nothing here, as in metering.
    /// </summary>
    private async ValueTask<StepResult> ReserveBudgetsAsync(GatewayRequest request)
    {
        var all = request.Runtime.Config.Budgets;
        if (all.IsEmpty)
        {
            return StepResult.Next;
        }
        var exchange = request.Exchange;
        var applying = all.Where(b => b.Applies(exchange.Workspace, exchange.KeyName)).ToArray();
        if (applying.Length == 0)
        {
            return StepResult.Next;
        }
        var runtime = request.Runtime;
        var most = 0L;
        for (var i = 0; i < request.Candidates; i++)
        {
            var target = request.Target(i);
            var model = target.UpstreamModel ?? request.ModelName;
            if (runtime.Prices.TryFind(model, out var price))
            {
                var output = MostOutputTokens(request, runtime.Providers[target.ProviderIndex]);
                var picos = (Int128)request.Body.Length * Math.Max(price.Input, price.CacheWrite) + (Int128)output * Math.Max(price.Output, price.Reasoning);
                most = Math.Max(most, (long)((picos + ModelPrice.MicrosPerUsd - 1) / ModelPrice.MicrosPerUsd));
            }
        }
        var check = await budgets.ReserveAsync(applying, most);
        if (check.Refused is { } refused)
        {
            metrics.BudgetRefused(refused.Name);
            var scope = refused.Workspace is { } workspace ? $"workspace '{workspace}'" : $"key '{refused.Key}'";
            var budget = string.Create(CultureInfo.InvariantCulture,
                $"Budget '{refused.Name}' of {scope} (USD {refused.MicroUsd / 1e6:0.00####} per {refused.Period.ToString().ToLowerInvariant()})");
            // Held by requests in flight only: room comes back as they finish. Else the spend is used up until renewal,
            // or this request's bound is larger than the whole budget (then only a smaller max_tokens helps).
            var renewal = (long)Math.Ceiling((check.Renews - DateTimeOffset.UtcNow).TotalSeconds);
            var (retryAfter, message) = check.InFlight
                ? (1L, $"{budget} is held by requests in flight; retry in a moment.")
                : most > refused.MicroUsd
                    ? (renewal, string.Create(CultureInfo.InvariantCulture, $"{budget} is smaller than this request may cost (USD {most / 1e6:0.00####}); lower max_tokens."))
                    : (renewal, string.Create(CultureInfo.InvariantCulture, $"{budget} has no room for this request; it renews at {check.Renews:yyyy-MM-ddTHH:mm:ssZ}."));
            request.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
            return await request.RefuseAsync(StatusCodes.Status429TooManyRequests, message, code: "budget_exceeded");
        }
        request.Reservations = check.Reservations;
        foreach (var reservation in check.Reservations)
        {
            if (reservation.Exceeded)
            {
                metrics.BudgetExceeded(reservation.Budget.Name);
                Log.SoftBudgetExceeded(logger, exchange.RequestId, reservation.Budget.Name);
            }
        }
        return StepResult.Next;
    }
}
