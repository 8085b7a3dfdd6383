using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using OctoMesh.Edge.Providers;
using OctoMesh.Edge.Telemetry;
using OctoMesh.Edge.Wire;
using OctoMesh.Routing;
using OctoMesh.Routing.Table;

namespace OctoMesh.Edge.Pipeline.Steps;

/// <summary>
/// One try of one target, as <see cref="ForwardStep"/> and <see cref="Hedging"/> make it: the target's adapter for the
/// client's format builds the request (spliced, or translated) with the headers that may cross; it is sent with a
/// first-byte deadline; a failure before the first byte gives way to the next try unless this is the last, when the
/// client gets the error; otherwise status, allowed headers and body stream back as they arrive, usage read on the way.
/// </summary>
internal sealed class Relay(GatewayMetrics metrics, ILogger<Relay> logger)
{
    /// <summary>Builds, sends and answers one try. Returns how it ended, and the wait the provider asked for before another.</summary>
    public async Task<(ForwardResult Result, TimeSpan? RetryAfter)> TryAsync(GatewayRequest request, ModelTarget target, TargetHealth? health, bool isLast,
        TimeSpan? firstByteLimit)
    {
        var attempt = await PrepareAsync(request, target, health, isLast);
        if (attempt is null)
        {
            // Answered with a 400, or this provider cannot serve the request and the next target may.
            return (request.Response.HasStarted ? ForwardResult.Answered : ForwardResult.Failed, TimeSpan.MaxValue);
        }
        using (attempt)
        {
            await attempt.SendAsync(firstByteLimit);
            request.Exchange.UpstreamTicks += attempt.Waited;
            var result = await AnswerAsync(request, attempt, isLast);
            Release(request, attempt);
            return (result, result == ForwardResult.Failed && attempt.Response is { } response ? RetryAfterOf(response) : null);
        }
    }

    /// <summary>Marks the body held when a send may still read it (see <see cref="SplicedContent.TryRelease"/>).</summary>
    public static void Release(GatewayRequest request, UpstreamAttempt attempt) => request.BodyHeld |= !attempt.TryRelease();

    /// <summary>How long a try of the route's target may wait for its first byte: its own limit, cut to what is left of the route's deadline.</summary>
    public static TimeSpan? FirstByteWait(CompiledRoute route, int target, long started)
    {
        var firstByteMs = route.Definition.Targets[target].FirstByteMs;
        TimeSpan? limit = firstByteMs > 0 ? TimeSpan.FromMilliseconds(firstByteMs) : null;
        var left = route.Definition.DeadlineMs is { } ms ? TimeSpan.FromMilliseconds(ms) - Stopwatch.GetElapsedTime(started) : (TimeSpan?)null;
        return limit is null || left < limit ? left : limit;
    }

    /// <summary>
    /// Builds the target's request with the headers that cross. Null when the request cannot go to this target: answered
    /// (a 400 in the client's format) when a field has a type the API does not allow, or when the provider cannot serve
    /// the request and this is the last target; not answered when the next target may.
    /// </summary>
    public static async Task<UpstreamAttempt?> PrepareAsync(GatewayRequest request, ModelTarget target, TargetHealth? health, bool isLast)
    {
        var provider = request.Runtime.Providers[target.ProviderIndex];
        var operation = request.Operation;
        var adapter = provider.AdapterFor(operation);
        HttpRequestMessage? upstream;
        ForwardContext forward;
        string? unsupported;
        try
        {
            upstream = adapter.CreateRequest(provider, operation, request.Body, request.Inspected, target, out forward, out unsupported);
        }
        catch (Exception e) when (e is InvalidOperationException or KeyNotFoundException or FormatException or IndexOutOfRangeException)
        {
            // Translation reads fields the inspector does not check; one of another JSON type than the API allows lands here.
            await request.RefuseAsync(StatusCodes.Status400BadRequest,
                $"The request has a field of a type the API does not allow, so it cannot be translated for provider '{provider.Name}': {e.Message}",
                code: "invalid_request");
            return null;
        }
        if (upstream is null)
        {
            if (isLast)
            {
                await request.RefuseAsync(StatusCodes.Status400BadRequest, unsupported!, code: "unsupported_by_provider");
            }
            return null;
        }
        CopyRequestHeaders(request.Request.Headers, upstream);
        upstream.Headers.TryAddWithoutValidation("x-request-id", request.Exchange.RequestId);
        return new UpstreamAttempt(provider, adapter, upstream, forward, target, health, request.Aborted);
    }

    /// <summary>
    /// Answers the client from a sent attempt: a failure before the first byte gives way to the next try unless
    /// <paramref name="isLast"/>, when the client gets the error; otherwise the answer streams back through the adapter.
    /// </summary>
    public async Task<ForwardResult> AnswerAsync(GatewayRequest request, UpstreamAttempt attempt, bool isLast)
    {
        var response = request.Response;
        var exchange = request.Exchange;
        var provider = attempt.Provider;
        if (attempt.ClientGone)
        {
            Log.ClientDisconnected(logger, exchange.RequestId);
            exchange.Outcome = ProxyOutcome.ClientGone;
            return ForwardResult.Answered;
        }
        exchange.Provider = provider.Name;
        exchange.Model = attempt.Target.UpstreamModel ?? request.ModelName;
        if (attempt.Error is { } e)
        {
            var (status, code, reason) = e switch
            {
                OperationCanceledException { InnerException: TimeoutException } => (StatusCodes.Status502BadGateway, "upstream_unreachable", "connect timeout"),
                OperationCanceledException => (StatusCodes.Status504GatewayTimeout, "upstream_timeout", "timeout"),
                HttpRequestException h => (StatusCodes.Status502BadGateway, "upstream_unreachable", h.HttpRequestError.ToString()),
                _ => (StatusCodes.Status502BadGateway, "upstream_unreachable", "error"),
            };
            if (status == StatusCodes.Status504GatewayTimeout)
            {
                Log.UpstreamTimeout(logger, exchange.RequestId, provider.Name);
                metrics.UpstreamError(provider.Name, "timeout");
            }
            else
            {
                Log.UpstreamUnreachable(logger, exchange.RequestId, provider.Name, reason);
                metrics.UpstreamError(provider.Name, "unreachable");
            }
            if (!isLast)
            {
                return ForwardResult.Failed;
            }
            await request.RefuseAsync(status, status == StatusCodes.Status504GatewayTimeout
                ? $"The upstream provider '{provider.Name}' did not answer within {attempt.FirstByte.TotalSeconds:0.###} s."
                : $"The upstream provider '{provider.Name}' could not be reached ({reason}).", code: code);
            return ForwardResult.Answered;
        }

        var upstream = attempt.Response!;
        if (attempt.Failed)
        {
            metrics.UpstreamError(provider.Name, upstream.StatusCode == System.Net.HttpStatusCode.TooManyRequests ? "rate_limited" : "server_error");
            if (!isLast)
            {
                Log.UpstreamFailedOver(logger, exchange.RequestId, provider.Name, (int)upstream.StatusCode);
                return ForwardResult.Failed;
            }
        }

        response.Headers["x-octomesh-model"] = exchange.Model;
        // The total deadline counts from the start of the request; past it already, cancel now.
        var remaining = provider.Config.Timeouts.Total - Stopwatch.GetElapsedTime(exchange.Started);
        if (remaining > TimeSpan.Zero)
        {
            attempt.Deadline.CancelAfter(remaining);
        }
        else
        {
            attempt.Deadline.Cancel();
        }
        var streamed = exchange.Stream && upstream.IsSuccessStatusCode;
        if (streamed)
        {
            metrics.StreamStarted(exchange.OperationName);
        }
        try
        {
            (exchange.Outcome, exchange.Usage) = await attempt.Adapter.SendResponseAsync(upstream, response,
                attempt.Forward with { Idle = provider.Config.Timeouts.Idle }, request.Aborted, attempt.Deadline.Token);
        }
        finally
        {
            if (streamed)
            {
                metrics.StreamEnded(exchange.OperationName);
            }
        }
        if (exchange.Usage is { } usage && !usage.IsSane)
        {
            // What an upstream says is input: a count that cannot be is unknown usage, so quotas keep their bound and nothing is refunded.
            exchange.Usage = null;
            Log.UpstreamBadUsage(logger, exchange.RequestId, provider.Name);
            metrics.UpstreamError(provider.Name, "bad_usage");
        }
        switch (exchange.Outcome)
        {
            case ProxyOutcome.UpstreamCut or ProxyOutcome.UpstreamTimeout:
                Log.UpstreamStreamCut(logger, exchange.RequestId, provider.Name, exchange.Outcome);
                metrics.UpstreamError(provider.Name, exchange.Outcome == ProxyOutcome.UpstreamCut ? "stream_cut" : "timeout");
                break;
            case ProxyOutcome.UpstreamRefusedCredentials:
                Log.UpstreamRefusedCredentials(logger, exchange.RequestId, provider.Name);
                metrics.UpstreamError(provider.Name, "auth");
                break;
            case ProxyOutcome.ClientGone:
                Log.ClientDisconnected(logger, exchange.RequestId);
                break;
        }
        return ForwardResult.Answered;
    }

    /// <summary>The wait a provider asks for: <c>retry-after-ms</c> (OpenAI's), else <c>retry-after</c> in seconds or as a date.</summary>
    private static TimeSpan? RetryAfterOf(HttpResponseMessage response)
    {
        if (response.Headers.TryGetValues("retry-after-ms", out var ms)
            && double.TryParse(ms.FirstOrDefault(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var millis))
        {
            return TimeSpan.FromMilliseconds(millis);
        }
        return response.Headers.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date - DateTimeOffset.UtcNow,
            _ => null,
        };
    }

    /// <summary>Copies the client's headers that may cross; a header the adapter set already (a provider key, an API version) wins.</summary>
    private static void CopyRequestHeaders(IHeaderDictionary from, HttpRequestMessage to)
    {
        foreach (var (name, values) in from)
        {
            if (!HeaderPolicy.ForwardToUpstream(name) || to.Headers.Contains(name))
            {
                continue;
            }
            if (values.Count == 1)
            {
                to.Headers.TryAddWithoutValidation(name, values[0]);
            }
            else
            {
                to.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
            }
        }
    }
}
