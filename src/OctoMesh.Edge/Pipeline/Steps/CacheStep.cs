using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using OctoMesh.Edge.Cache;
using OctoMesh.Edge.Cache.Semantic;
using OctoMesh.Edge.Telemetry;
using OctoMesh.Edge.Wire;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Pipeline.Steps;

/// <summary>
/// The response cache as one bracket. Before: off (no header) unless configured, and no more of it than the route's
/// and the workspace's policies allow (a workspace whose content policy is <c>none</c> is not cached); <c>bypass</c>
/// when the client says <c>x-octomesh-cache: off</c>; else the cached answer of the same request in any shape
/// (<c>hit-exact</c>); else, with the semantic cache (unless the client says <c>x-octomesh-cache: exact</c>), the answer
/// of an earlier question that means the same in the same conversation (<c>hit-semantic</c>); else, when the same
/// request is already on its way upstream, that request's answer once it has it (single-flight, <c>hit-exact</c>);
/// else a <c>miss</c>, with a capturing body in place (unless <c>Cache-Control: no-store</c>). <c>Cache-Control:
/// no-cache</c> skips the lookups but keeps the fresh answer. After: a whole, successful answer is kept, and the
/// requests that waited on this one go on, with its answer or on their own.
/// </summary>
internal sealed class CacheStep(ExactCache cache) : IRequestBracket
{
    /// <summary>Answers larger than this are sent but not cached.</summary>
    public const int MaxCachedAnswerBytes = 1 << 20;

    public async ValueTask<StepResult> RunAsync(GatewayRequest request)
    {
        var runtime = request.Runtime;
        var config = runtime.Config.Cache;
        var operation = request.Operation;
        // A workspace's answers are kept only by its choice: content policy "none" (the default) is not cached.
        var policy = request.Content == ContentPolicy.None ? CachePolicy.Off : request.Route?.Definition.Cache ?? CachePolicy.Semantic;
        if (!config.Exact || policy == CachePolicy.Off || operation is not (ApiOperation.ChatCompletions or ApiOperation.Messages))
        {
            return StepResult.Next;
        }
        var headers = request.Request.Headers;
        var response = request.Response;
        var exchange = request.Exchange;
        var mode = headers["x-octomesh-cache"].ToString();
        if (string.Equals(mode, "off", StringComparison.OrdinalIgnoreCase))
        {
            exchange.CacheOutcome = CacheOutcomes.Bypass;
            response.Headers["x-octomesh-cache"] = "bypass";
            return StepResult.Next;
        }
        var cacheControl = headers.CacheControl.ToString();
        var lookUp = !cacheControl.Contains("no-cache", StringComparison.OrdinalIgnoreCase);
        var store = !cacheControl.Contains("no-store", StringComparison.OrdinalIgnoreCase);
        var first = request.Target(0);
        var provider = runtime.Providers[first.ProviderIndex];
        var model = first.UpstreamModel ?? request.ModelName;
        var keys = new CacheKeys(request, provider.Name, model);
        var key = keys.Of(keys.Shape);
        if (lookUp)
        {
            // The same request in its own shape (the common hit), else kept in another (a stream for a JSON request, …)
            // and reshaped: first in this process, then all shapes from Redis in one round trip.
            var shapes = keys.Shapes;
            var all = new string[shapes.Length];
            all[0] = key;
            CachedAnswer? answer = null;
            for (var i = 0; i < shapes.Length && answer is null; i++)
            {
                all[i] ??= keys.Of(shapes[i]);
                cache.TryGetHere(all[i], out answer);
            }
            answer ??= await cache.GetSharedAsync(all);
            if (answer is not null && await TryServeAsync(request, answer))
            {
                return StepResult.Answered;
            }
        }

        SemanticLookup? semantic = null;
        if (cache.Semantic is { } index && policy == CachePolicy.Semantic && !string.Equals(mode, "exact", StringComparison.OrdinalIgnoreCase)
            && LastUserTurn.TryFind(request.Body.Span, out var question, out var turn))
        {
            // The partition: everything but the last user turn, which is compared by meaning instead.
            semantic = await index.PrepareAsync(question, request.Aborted) is { } prepared ? new SemanticLookup(keys.Partition(turn), prepared) : null;
            if (semantic is not null && lookUp && index.Find(semantic.Partition, semantic.Query, (float?)config.Semantic!.Threshold) is { } match)
            {
                if (await cache.GetAsync(match.AnswerKey) is { } near && await TryServeAsync(request, near, match.Similarity))
                {
                    return StepResult.Answered;
                }
                // Its answer has left the cache (evicted, expired, purged): so does the question.
                index.Forget(semantic.Partition, match.AnswerKey);
            }
        }

        string? flight = null;
        LiveAnswer? live = null;
        if (lookUp && store)
        {
            if (cache.TryLead(key, request.Inspected.Stream ? new LiveAnswer() : null, out var leader))
            {
                flight = key;
                live = leader.Live;
            }
            else if (leader.Live is { } leading)
            {
                // A stream follows the leader's bytes; when it cannot (the leader failed first), it goes its own way.
                if (await FollowLiveAsync(request, leading, provider.Config.Timeouts.Total))
                {
                    return StepResult.Answered;
                }
            }
            else
            {
                CachedAnswer? coalesced = null;
                try
                {
                    coalesced = await leader.Answer.Task.WaitAsync(provider.Config.Timeouts.Total, request.Aborted);
                }
                catch (Exception e) when (e is TimeoutException or OperationCanceledException)
                {
                    // Too long, or this client left: it goes its own way.
                }
                if (coalesced is not null && await TryServeAsync(request, coalesced))
                {
                    return StepResult.Answered;
                }
            }
        }
        exchange.CacheOutcome = CacheOutcomes.Miss;
        response.Headers["x-octomesh-cache"] = "miss";
        if (store)
        {
            var capture = new CapturingBodyFeature(request.Http.Features.GetRequiredFeature<IHttpResponseBodyFeature>(), MaxCachedAnswerBytes, live,
                live is null ? null : () => live.Start(response.StatusCode, response.ContentType, exchange.Provider, exchange.Model));
            request.Http.Features.Set<IHttpResponseBodyFeature>(capture);
            request.CacheSession = new CacheSession(capture, flight, keys, key, semantic);
        }
        return StepResult.Next;
    }

    public ValueTask CloseAsync(GatewayRequest request)
    {
        if (request.CacheSession is not { } session)
        {
            return ValueTask.CompletedTask;
        }
        request.Http.Features.Set(session.Capture.Inner);
        var exchange = request.Exchange;
        var whole = request.Response.StatusCode == StatusCodes.Status200OK && exchange.Outcome == ProxyOutcome.Completed;
        var kept = whole ? Keep(request, session) : null;
        if (session.Flight is { } flight)
        {
            // Whatever happened, the requests that waited on this one go on: with its answer, or on their own.
            cache.Land(flight, kept, whole);
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Keeps the answer that just went out when it is whole: a finished <c>finish_reason</c> (OpenAI) or <c>stop_reason</c>
    /// (Anthropic), not larger than the capture limit. It is kept under the provider and model that really answered (a
    /// fallback's answer is not the first target's).
    /// </summary>
    private CachedAnswer? Keep(GatewayRequest request, CacheSession session)
    {
        var exchange = request.Exchange;
        if (exchange.Provider is not { } provider || exchange.Model is not { } model || session.Capture.Captured is not { } bytes
            || (bytes.AsSpan().IndexOf("\"finish_reason\":\""u8) < 0 && bytes.AsSpan().IndexOf("\"stop_reason\":\""u8) < 0))
        {
            return null;
        }
        // A stream by what was sent, not by what was asked (an upstream may answer stream:true with one JSON body).
        var contentType = request.Response.ContentType ?? AnswerShapes.Json;
        var answer = new CachedAnswer(bytes, contentType, contentType.StartsWith(AnswerShapes.EventStream, StringComparison.OrdinalIgnoreCase),
            provider, model, request.Workspace ?? "");
        // The client may ask for a shorter or longer life for this answer (x-octomesh-cache-ttl, seconds, up to 30 days).
        var ttl = TimeSpan.FromSeconds(int.TryParse(request.Request.Headers["x-octomesh-cache-ttl"].ToString(), System.Globalization.NumberStyles.None,
            System.Globalization.CultureInfo.InvariantCulture, out var seconds) && seconds is > 0 and <= 30 * 86_400
            ? seconds : request.Runtime.Config.Cache.TtlSeconds);
        // The first target answered (the usual case): its key was made for the lookup already.
        var sameTarget = provider == session.Keys.Provider && model == session.Keys.Model;
        var key = sameTarget ? session.Key : new CacheKeys(request, provider, model).Of(session.Keys.Shape);
        cache.Set(key, answer, ttl);
        if (sameTarget && session.Semantic is { } semantic)
        {
            // A fallback's answer is kept for exact repeats only: the partition was made for the first target.
            cache.AddQuestion(semantic.Partition, request.Workspace ?? "", semantic.Query, key, ttl);
        }
        request.Kept = answer;
        return answer;
    }

    /// <summary>
    /// Sends a kept answer as it was first sent, or reshaped to what this client asked for (<see cref="AnswerShapes"/>);
    /// <paramref name="similarity"/> when it answered a question that means the same. False, with nothing sent, when the
    /// answer cannot be reshaped: the request goes on as a miss.
    /// </summary>
    private static async Task<bool> TryServeAsync(GatewayRequest request, CachedAnswer answer, float? similarity = null)
    {
        var exchange = request.Exchange;
        if (!AnswerShapes.TryReshape(answer, exchange.Operation, request.Inspected.Stream, request.Inspected.IncludeUsage, out var body, out var contentType))
        {
            return false;
        }
        exchange.CacheOutcome = similarity is null ? CacheOutcomes.Hit : CacheOutcomes.HitSemantic;
        exchange.Provider = answer.Provider;
        exchange.Model = answer.Model;
        exchange.Outcome = ProxyOutcome.Completed;
        var response = request.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = contentType;
        response.ContentLength = body.Length;
        response.Headers["x-octomesh-cache"] = similarity is null ? "hit-exact" : "hit-semantic";
        if (similarity is { } score)
        {
            response.Headers["x-octomesh-cache-similarity"] = score.ToString("0.0000", System.Globalization.CultureInfo.InvariantCulture);
        }
        response.Headers["x-octomesh-model"] = answer.Model;
        await response.Body.WriteAsync(body, request.Aborted);
        return true;
    }

    /// <summary>
    /// A stream that follows a leader's: once the leader's answer starts (status 200), its bytes are sent to this
    /// client as they come, up to the leader's end (a leader cut short, or whose client left, cuts its followers
    /// there too). False when the leader failed before its first byte or had already failed, or did not start within
    /// <paramref name="wait"/>: this request goes its own way.
    /// </summary>
    private static async Task<bool> FollowLiveAsync(GatewayRequest request, LiveAnswer live, TimeSpan wait)
    {
        var aborted = request.Aborted;
        try
        {
            await live.WaitStartAsync(aborted).WaitAsync(wait, aborted);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            return false;
        }
        if (!live.Started || live.Status != StatusCodes.Status200OK || live.Finished && !live.Whole)
        {
            return false;
        }
        var exchange = request.Exchange;
        var response = request.Response;
        exchange.CacheOutcome = CacheOutcomes.Hit;
        exchange.Provider = live.Provider;
        exchange.Model = live.Model;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = live.ContentType;
        response.Headers["x-octomesh-cache"] = "hit-exact";
        if (live.Model is not null)
        {
            response.Headers["x-octomesh-model"] = live.Model;
        }
        var sent = 0;
        try
        {
            while (await live.ReadAsync(sent, aborted) is { Length: > 0 } bytes)
            {
                await response.Body.WriteAsync(bytes, aborted);
                await response.Body.FlushAsync(aborted);
                sent += bytes.Length;
            }
            exchange.Outcome = live.Whole ? ProxyOutcome.Completed : ProxyOutcome.UpstreamCut;
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            exchange.Outcome = ProxyOutcome.ClientGone;
        }
        return true;
    }
}

/// <summary>
/// A miss on its way upstream: the capturing body, the flight key when this request leads one, the keys of the target
/// it was looked up for and the key itself (kept under again when that target answers), and the semantic cache's
/// partition and prepared question when it looked.
/// </summary>
internal sealed record CacheSession(CapturingBodyFeature Capture, string? Flight, CacheKeys Keys, string Key, SemanticLookup? Semantic);

/// <summary>The semantic cache's partition of a request and its last user turn, embedded.</summary>
internal sealed record SemanticLookup(string Partition, SemanticQuery Query);
