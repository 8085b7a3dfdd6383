using System.Buffers;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;
using OctoMesh.Edge.Cache;
using OctoMesh.Edge.Cache.Semantic;
using OctoMesh.Edge.Hosting;
using OctoMesh.Edge.Metering;
using OctoMesh.Edge.Providers;
using OctoMesh.Edge.Tenancy;
using OctoMesh.Edge.Telemetry;
using OctoMesh.Routing;
using OctoMesh.Routing.Configuration;
using OctoMesh.Routing.Table;
using OctoMesh.Edge.Wire;

namespace OctoMesh.Edge.Pipeline;

/// <summary>
/// The proxy path for <c>/v1/chat/completions</c> and <c>/v1/embeddings</c> (OpenAI's format) and
/// <c>/v1/messages</c> and <c>/v1/messages/count_tokens</c> (Anthropic's); every error is written in the client's format.
/// <list type="number">
/// <item>Request id: the client's <c>x-request-id</c>, or a new one; returned either way.</item>
/// <item>Admission: the client key, hashed and compared in constant time.</item>
/// <item>Body: read into pooled memory, 413 past the limit.</item>
/// <item>Inspect: one <see cref="System.Text.Json.Utf8JsonReader"/> pass; 400 with the field at fault.</item>
/// <item>Route: the first matching route orders its targets by its strategy; without one, the model alias is the
/// one target; 404 when neither serves the model.</item>
/// <item>Forward: per target, the provider's adapter for this client format builds the request (spliced, or
/// translated); a target that fails before the first byte (no connection, too slow, 429, 5xx) gives way to the
/// next; the last one's failure is the client's 502/504 or the provider's error. A slow non-streamed first try may be
/// hedged with the second target.</item>
/// <item>Stream back: status, allowed headers and body as they arrive; usage read on the way.</item>
/// <item>Account, whatever happened before: the <see cref="Exchange"/> filled in along the way is priced and recorded
/// in the metrics and the trace log (<see cref="RequestMeter"/>), and ends its span when tracing is on.</item>
/// </list>
/// </summary>
internal sealed class ProxyHandler
{
    private const int MaxRequestIdLength = 128;

    private readonly GatewayRuntimeHolder _runtimes;
    private readonly ExactCache _cache;
    private readonly Tenancy.BudgetLedger _budgets;
    private readonly Tenancy.RateLimiter _limiter;
    private readonly TenancyStore _tenancy;
    private readonly Privacy.ContentVault _vault;
    private readonly Optimizer.ShadowEvaluator _shadow;
    private readonly RequestMeter _meter;
    private readonly GatewayMetrics _metrics;
    private readonly ILogger<ProxyHandler> _logger;

    public ProxyHandler(GatewayRuntimeHolder runtimes, ExactCache cache, RequestMeter meter, Tenancy.BudgetLedger budgets, Tenancy.RateLimiter limiter,
        TenancyStore tenancy, Privacy.ContentVault vault, Optimizer.ShadowEvaluator shadow, ILogger<ProxyHandler> logger)
    {
        _tenancy = tenancy;
        _vault = vault;
        _shadow = shadow;
        _runtimes = runtimes;
        _cache = cache;
        _budgets = budgets;
        _limiter = limiter;
        _meter = meter;
        _metrics = meter.Metrics;
        _logger = logger;
    }

    /// <summary><c>GET /v1/models</c>: the exact model names routes and aliases serve (patterns such as <c>gpt-*</c> cannot be listed).</summary>
    public async Task ListModelsAsync(HttpContext context)
    {
        var runtime = _runtimes.Current;
        if ((await AdmitAsync(runtime, _tenancy.View(runtime.Config), context, ApiOperation.ChatCompletions)).Admitted)
        {
            context.Response.ContentType = "application/json";
            context.Response.ContentLength = runtime.ModelList.Length;
            await context.Response.Body.WriteAsync(runtime.ModelList, context.RequestAborted);
        }
    }

    /// <summary>
    /// Checks the client key when there are keys (in the file or made through the admin API); answers 401 and returns
    /// false when it is wrong, revoked or expired. The key (with its workspace) comes back.
    /// </summary>
    private static async ValueTask<(bool Admitted, ClientKeyConfig? Key)> AdmitAsync(GatewayRuntime runtime, TenantView tenants, HttpContext context,
        ApiOperation operation)
    {
        var keys = tenants.Keys;
        if (!keys.IsEnabled && !runtime.Config.Tenancy.RequireKeys)
        {
            return (true, null);
        }
        var headers = context.Request.Headers;
        var key = keys.Authenticate(ClientKeyTable.ReadPresentedKey(headers.Authorization.ToString(), headers["x-api-key"].ToString()));
        var (message, code) = key switch
        {
            null => ("Incorrect or missing API key. Send your OctoMesh key as 'Authorization: Bearer <key>' or 'x-api-key: <key>'.", "invalid_api_key"),
            { RevokedAt: not null } => ("This API key was revoked. Ask your administrator for a new one.", "key_revoked"),
            { ExpiresAt: { } expires } when expires <= DateTimeOffset.UtcNow => ("This API key expired. Ask your administrator for a new one.", "key_expired"),
            _ => (null, null),
        };
        if (message is null)
        {
            return (true, key);
        }
        await ClientError.WriteAsync(context.Response, operation, StatusCodes.Status401Unauthorized, message, code: code);
        return (false, null);
    }

    /// <summary>
    /// Whether the key may send this request: its route must be one of the key's <c>routes</c> (when it has any); the
    /// model it asks for, and the upstream model of every target it could reach (fallbacks too), must be among its
    /// <c>models</c> (when it has any), unless the route is one the key names (then its targets are allowed as they are).
    /// So a route taken by task or header cannot lead a key to a model it may not use.
    /// </summary>
    private static bool Allows(ClientKeyConfig key, ReadOnlySpan<char> model, GatewayRuntime runtime, CompiledRoute? route, int[] order, int candidates,
        ModelTarget? aliasTarget)
    {
        if (!key.Routes.IsEmpty && (route is null || !key.Routes.Contains(route.Name)))
        {
            return false;
        }
        if (key.Models.IsEmpty)
        {
            return true;
        }
        if (!Matches(key.Models, model))
        {
            return false;
        }
        for (var i = 0; i < candidates && key.Routes.IsEmpty; i++)
        {
            var target = route is null ? aliasTarget! : runtime.RouteTargets[route.Index][order[i]];
            if (target.UpstreamModel is { } upstream && !Matches(key.Models, upstream))
            {
                return false;
            }
        }
        return true;

        static bool Matches(System.Collections.Immutable.ImmutableArray<string> allowed, ReadOnlySpan<char> name)
        {
            foreach (var pattern in allowed)
            {
                if (pattern.EndsWith('*') ? name.StartsWith(pattern.AsSpan(0, pattern.Length - 1), StringComparison.Ordinal) : name.SequenceEqual(pattern))
                {
                    return true;
                }
            }
            return false;
        }
    }

    /// <summary>Serves one request, then accounts it (cost, metrics, trace record, span) whatever the outcome.</summary>
    public async Task HandleAsync(HttpContext context, ApiOperation operation)
    {
        var exchange = new Exchange(operation, RequestIdOf(context.Request.Headers["x-request-id"]), Stopwatch.GetTimestamp());
        context.Response.OnStarting(Exchange.MarkFirstByte, exchange);
        using var span = GatewayTracing.StartRequest(context, operation);
        // One snapshot for the whole request: a reload swaps it for the next requests, never under this one.
        var runtime = _runtimes.Current;
        try
        {
            await ServeAsync(runtime, context, operation, exchange);
        }
        finally
        {
            exchange.Ended = Stopwatch.GetTimestamp();
            // A client gone before anything was sent is counted as nginx does, 499 (client closed request).
            var status = context.RequestAborted.IsCancellationRequested && !context.Response.HasStarted ? 499 : context.Response.StatusCode;
            var cost = _meter.Record(exchange, status, runtime.Prices);
            // An answer that went out (or a client that left) without usage may still be billed by the provider: it keeps
            // its upper bound. Otherwise the exact cost and tokens replace what was held.
            var unknown = exchange.Usage is null && exchange.Provider is not null && status is StatusCodes.Status200OK or 499;
            if (exchange.Reservations is { Count: > 0 } reservations)
            {
                await _budgets.SettleAsync(reservations, unknown ? null : cost);
            }
            if (exchange.RateHolds is { Count: > 0 } holds)
            {
                await _limiter.SettleAsync(holds, unknown ? long.MaxValue : exchange.Usage is { } usage ? usage.PromptTokens + usage.CompletionTokens : 0);
            }
            if (span is not null)
            {
                GatewayTracing.Complete(span, exchange, status, cost);
            }
            if (_logger.IsEnabled(LogLevel.Debug))
            {
                Log.RequestCompleted(_logger, exchange.RequestId, operation, exchange.Model ?? "", exchange.Provider ?? "", status, exchange.Outcome,
                    exchange.Usage?.PromptTokens ?? 0, exchange.Usage?.CompletionTokens ?? 0, cost, Stopwatch.GetElapsedTime(exchange.Started, exchange.Ended).TotalMilliseconds);
            }
        }
    }

    private async Task ServeAsync(GatewayRuntime runtime, HttpContext context, ApiOperation operation, Exchange exchange)
    {
        var started = exchange.Started;
        var request = context.Request;
        var response = context.Response;
        var aborted = context.RequestAborted;

        // Step 1: request id.
        var requestId = exchange.RequestId;
        response.Headers["x-request-id"] = requestId;

        if (!HttpMethods.IsPost(request.Method))
        {
            response.Headers.Allow = "POST";
            await ClientError.WriteAsync(response, operation, StatusCodes.Status405MethodNotAllowed,
                $"{request.Path} accepts POST only.", code: "method_not_allowed");
            return;
        }

        // Step 2: admission.
        // A request this gateway mirrors to itself for shadow evaluation carries its own credential and no workspace.
        exchange.Shadow = _shadow.IsShadow(request.Headers);
        // One view of keys and workspaces for the whole request.
        var tenants = _tenancy.View(runtime.Config);
        var (admitted, key) = exchange.Shadow ? (true, null) : await AdmitAsync(runtime, tenants, context, operation);
        if (!admitted)
        {
            return;
        }
        var workspace = key?.Workspace;
        // Without keys there are no workspaces: the cache is the operator's choice alone.
        var content = workspace is null ? ContentPolicy.Cache : tenants.ContentOf(workspace);
        // A forget while this request runs means its exchange is not kept (what it started under is gone).
        var generation = content == ContentPolicy.Full ? _vault.Generation(workspace!) : 0;
        exchange.Workspace = workspace;
        exchange.KeyName = key?.Name;
        exchange.WorkspaceLabel = runtime.Config.Metrics.WorkspaceLabel ? workspace ?? "" : null;
        if (request.Headers.ContentEncoding is { Count: > 0 } encoding && encoding.ToString() != "identity")
        {
            await ClientError.WriteAsync(response, operation, StatusCodes.Status415UnsupportedMediaType,
                "Compressed request bodies are not accepted. Send the JSON body without Content-Encoding.", code: "unsupported_content_encoding");
            return;
        }

        // Step 3: body.
        BodyReadStatus status;
        BodyBuffer? body;
        try
        {
            (status, body) = await BodyBuffer.ReadAsync(request.BodyReader, request.ContentLength, runtime.Limits.MaxBodyBytes, aborted);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            (status, body) = (BodyReadStatus.TooLarge, null);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or BadHttpRequestException)
        {
            Log.ClientDisconnected(_logger, requestId);
            return;
        }
        if (status == BodyReadStatus.TooLarge)
        {
            await ClientError.WriteAsync(response, operation, StatusCodes.Status413PayloadTooLarge,
                $"The request body is larger than the {runtime.Limits.MaxBodyBytes} bytes this gateway accepts.", code: "request_too_large");
            return;
        }
        if (body is null)
        {
            await ClientError.WriteAsync(response, operation, StatusCodes.Status400BadRequest,
                "The request body is empty. Send a JSON object.", code: "invalid_json");
            return;
        }

        using (body)
        {
            // Step 4: inspect.
            var error = RequestInspector.Inspect(body.Span, operation, out var inspected);
            if (error != InspectError.None)
            {
                await ClientError.WriteAsync(response, operation, StatusCodes.Status400BadRequest, RequestInspector.Describe(error, inspected),
                    inspected.ErrorParam, error == InspectError.InvalidJson ? "invalid_json" : null);
                return;
            }

            exchange.Stream = inspected.Stream;
            // Step 5: route.
            var order = ArrayPool<int>.Shared.Rent(RoutingTable.MaxTargets);
            CacheSession? session = null;
            CachedAnswer? kept = null;
            try
            {
                var route = Route(runtime, context, body, inspected, workspace, order, out var candidates, out var aliasTarget, out var task);
                if (candidates == 0)
                {
                    await ClientError.WriteAsync(response, operation, StatusCodes.Status404NotFound,
                        $"The model '{RequestInspector.ModelName(body.Span, inspected)}' does not exist on this gateway. GET /v1/models lists the models it serves.",
                        "model", "model_not_found");
                    return;
                }
                // Most keys are not limited: only a limited one pays for reading the model's name.
                if (key is { Models.IsEmpty: false } or { Routes.IsEmpty: false }
                    && !Allows(key, RequestInspector.ModelName(body.Span, inspected), runtime, route, order, candidates, aliasTarget))
                {
                    await ClientError.WriteAsync(response, operation, StatusCodes.Status403Forbidden,
                        $"This API key may not use the model '{RequestInspector.ModelName(body.Span, inspected)}'{(route is null ? "" : $" (route '{route.Name}')")}.",
                        "model", "model_not_allowed");
                    return;
                }
                exchange.Route = route?.Name;
                exchange.Task = task;
                if (route is not null)
                {
                    response.Headers["x-octomesh-route"] = route.Name;
                }
                if (task is not null)
                {
                    response.Headers["x-octomesh-task"] = task;
                }

                // The exact cache: a repeated request is answered here; a miss may be kept as it goes to the client.
                var first = route is null ? aliasTarget! : runtime.RouteTargets[route.Index][order[0]];
                session = await TryAnswerFromCacheAsync(runtime, context, operation, exchange, body, inspected, workspace, content, route, first);
                if (exchange.CacheOutcome is CacheOutcomes.Hit or CacheOutcomes.HitSemantic)
                {
                    return;
                }
                // A "full" workspace's exchanges are kept for evaluation, and a sampled share of a shadowed route's is mirrored to
                // its candidates: the answer is copied as it goes (by the cache's capture when there is one).
                var mirror = route?.Definition.Shadow is { } shadow && !exchange.Shadow && operation == ApiOperation.ChatCompletions
                    && _shadow.Sample(route.Name, shadow) ? shadow : null;
                CapturingBodyFeature? evidence = null;
                if ((content == ContentPolicy.Full || mirror is not null) && session is null && operation is ApiOperation.ChatCompletions or ApiOperation.Messages)
                {
                    evidence = new CapturingBodyFeature(context.Features.GetRequiredFeature<IHttpResponseBodyFeature>(), MaxCachedAnswerBytes);
                    context.Features.Set<IHttpResponseBodyFeature>(evidence);
                }

                // Rate limits, then budgets: the request and its most possible tokens and cost are held against them, or
                // one refuses it.
                if (!await AcquireRateLimitsAsync(runtime, context, exchange, body, inspected, route is null ? aliasTarget! : runtime.RouteTargets[route.Index][order[0]]))
                {
                    return;
                }
                if (!await ReserveBudgetsAsync(runtime, context, exchange, route, order, candidates, aliasTarget, body, inspected))
                {
                    return;
                }

                // Step 6: forward, trying the targets in the strategy's order (each retried per the route's policy)
                // while nothing has reached the client.
                var abandon = false;
                var answered = false;
                var busy = false;
                for (var attempt = 0; attempt < candidates && !answered; attempt++)
                {
                    var targetIndex = order[attempt];
                    var target = route is null ? aliasTarget! : runtime.RouteTargets[route.Index][targetIndex];
                    var health = route?.Health[targetIndex];
                    if (attempt > 0)
                    {
                        exchange.Fallbacks++;
                        _metrics.Fallback(route!.Name);
                    }
                    if (health is not null && !health.TryEnter(route!.Definition.Targets[targetIndex].MaxConcurrency))
                    {
                        // At its concurrency limit: the next target serves instead.
                        busy = true;
                        continue;
                    }
                    try
                    {
                        if (attempt == 0 && candidates > 1 && !inspected.Stream && route!.Definition.HedgeAfterMs is { } hedgeAfterMs)
                        {
                            var (hedged, hedgeReleased, tried) = await HedgedAsync(runtime, context, operation, exchange, route, order, candidates,
                                TimeSpan.FromMilliseconds(hedgeAfterMs), body, inspected);
                            answered = hedged;
                            abandon |= !hedgeReleased;
                            attempt += tried - 1;
                            continue;
                        }
                        var (done, released) = await TryTargetAsync(runtime, context, operation, exchange, target, route, targetIndex, health,
                            attempt == candidates - 1, body, inspected);
                        answered = done;
                        abandon |= !released;
                    }
                    finally
                    {
                        health?.Exit();
                    }
                }
                if (!answered && busy)
                {
                    // Some target was at its concurrency limit and none that was tried answered: the route is full for now.
                    response.Headers.RetryAfter = "1";
                    await ClientError.WriteAsync(response, operation, StatusCodes.Status503ServiceUnavailable,
                        $"Every target of route '{route!.Name}' is busy or failed; try again in a moment.", code: "route_busy");
                }
                else if (!answered)
                {
                    var deadline = route?.Definition.DeadlineMs is { } ms ? TimeSpan.FromMilliseconds(ms) : (TimeSpan?)null;
                    // Every target failed before its first byte without the last try answering: the deadline left no
                    // room for another wait, or the last target asked to be retried later than the policy waits.
                    var late = deadline <= Stopwatch.GetElapsedTime(started) + TimeSpan.FromMilliseconds(1);
                    await ClientError.WriteAsync(response, operation,
                        late ? StatusCodes.Status504GatewayTimeout : StatusCodes.Status502BadGateway,
                        late ? $"No target of route '{route!.Name}' answered within its deadline of {deadline!.Value.TotalMilliseconds:0} ms."
                             : $"Every target of route '{route?.Name}' failed before answering; try again later.",
                        code: late ? "route_deadline" : "upstream_unavailable");
                }
                if (session is not null)
                {
                    kept = Keep(runtime, context, exchange, session, body, inspected, workspace);
                }
                if (evidence is not null)
                {
                    context.Features.Set(evidence.Inner);
                }
                if ((content == ContentPolicy.Full || mirror is not null) && response.StatusCode == StatusCodes.Status200OK
                    && exchange.Outcome == ProxyOutcome.Completed && (kept?.Body ?? (session?.Capture ?? evidence)?.Captured) is { } captured)
                {
                    var answer = WholeAnswer(context, exchange, operation, kept, captured, workspace);
                    // Kept only if the workspace still chooses it now the answer is complete (a policy changed meanwhile wins).
                    if (content == ContentPolicy.Full && _tenancy.View(_runtimes.Current.Config).ContentOf(workspace!) == ContentPolicy.Full)
                    {
                        KeepExchange(exchange, operation, route, body, answer, workspace!, generation);
                    }
                    if (mirror is not null && Optimizer.ShadowEvaluator.AnswerText(answer) is { } text)
                    {
                        // The judge by default is the model the client asked for, by the same name (the route serves it).
                        var question = LastUserTurn.TryFind(body.Span, out var turn, out _) ? turn : "";
                        _shadow.Offer(route!.Name, mirror, mirror.Judge ?? RequestInspector.ModelName(body.Span, inspected), exchange.RequestId,
                            exchange.Task ?? route.Name, System.Text.Encoding.UTF8.GetString(body.Span), question, text, runtime.Prices);
                    }
                }
                if (abandon)
                {
                    // An upstream may answer before it has read the whole body; the pooled array must not be reused under a send.
                    body.Abandon();
                }
            }
            finally
            {
                ArrayPool<int>.Shared.Return(order);
                if (session?.Flight is { } flight)
                {
                    // Whatever happened, the requests that waited on this one go on: with its answer, or on their own.
                    _cache.Land(flight, kept, whole: response.StatusCode == StatusCodes.Status200OK && exchange.Outcome == ProxyOutcome.Completed);
                }
            }
        }
    }

    /// <summary>
    /// The cache's step: off (no header) unless configured, and no more of it than the route's and the workspace's
    /// policies allow (a request of a workspace whose content policy is <c>none</c> is not cached);
    /// <c>bypass</c> when the client says <c>x-octomesh-cache: off</c>; else the cached answer of the same request when
    /// there is one, in any shape (<c>hit-exact</c>); else, with the semantic cache (unless the client says <c>x-octomesh-cache: exact</c>), the answer of an earlier
    /// question that means the same in the same conversation (<c>hit-semantic</c>, with its similarity); else, when the
    /// same request is already on its way upstream, that request's answer once it has it (single-flight;
    /// <c>hit-exact</c>); else a <c>miss</c>, with a capturing body in place so the answer can be kept (unless
    /// <c>Cache-Control: no-store</c>). <c>Cache-Control: no-cache</c> skips the lookups but keeps the fresh answer.
    /// </summary>
    private async Task<CacheSession?> TryAnswerFromCacheAsync(GatewayRuntime runtime, HttpContext context, ApiOperation operation, Exchange exchange,
        BodyBuffer body, InspectedRequest inspected, string? workspace, ContentPolicy content, CompiledRoute? route, ModelTarget first)
    {
        var config = runtime.Config.Cache;
        // A workspace's answers are kept only by its choice: content policy "none" (the default) is not cached.
        var policy = content == ContentPolicy.None ? CachePolicy.Off : route?.Definition.Cache ?? CachePolicy.Semantic;
        if (!config.Exact || policy == CachePolicy.Off || operation is not (ApiOperation.ChatCompletions or ApiOperation.Messages))
        {
            return null;
        }
        var headers = context.Request.Headers;
        var response = context.Response;
        var mode = headers["x-octomesh-cache"].ToString();
        if (string.Equals(mode, "off", StringComparison.OrdinalIgnoreCase))
        {
            exchange.CacheOutcome = CacheOutcomes.Bypass;
            response.Headers["x-octomesh-cache"] = "bypass";
            return null;
        }
        var cacheControl = headers.CacheControl.ToString();
        var lookUp = !cacheControl.Contains("no-cache", StringComparison.OrdinalIgnoreCase);
        var store = !cacheControl.Contains("no-store", StringComparison.OrdinalIgnoreCase);
        var provider = runtime.Providers[first.ProviderIndex];
        var model = first.UpstreamModel ?? RequestInspector.ModelName(body.Span, inspected);
        var ttl = TimeSpan.FromSeconds(config.TtlSeconds);
        var key = CacheKey(runtime, operation, body, workspace, provider.Name, model, Shape(operation, inspected));
        if (lookUp)
        {
            // The same request in its own shape (the common hit), else kept in another (a stream for a JSON request, …)
            // and reshaped: first in this process, then all shapes from Redis in one round trip.
            var shapes = Shapes(operation, inspected);
            var keys = new string[shapes.Length];
            keys[0] = key;
            CachedAnswer? answer = null;
            for (var i = 0; i < shapes.Length && answer is null; i++)
            {
                keys[i] ??= CacheKey(runtime, operation, body, workspace, provider.Name, model, shapes[i]);
                _cache.TryGetHere(keys[i], out answer);
            }
            answer ??= await _cache.GetSharedAsync(keys);
            if (answer is not null && await TryServeCachedAsync(context, exchange, answer, inspected))
            {
                return null;
            }
        }

        SemanticLookup? semantic = null;
        if (_cache.Semantic is { } index && policy == CachePolicy.Semantic && !string.Equals(mode, "exact", StringComparison.OrdinalIgnoreCase)
            && LastUserTurn.TryFind(body.Span, out var question, out var turn))
        {
            // The partition: everything but the last user turn, which is compared by meaning instead.
            semantic = await index.PrepareAsync(question, context.RequestAborted) is { } prepared
                ? new SemanticLookup(CacheKey(runtime, operation, body, workspace, provider.Name, model, "any", turn), prepared)
                : null;
            if (semantic is not null && lookUp && index.Find(semantic.Partition, semantic.Query, (float?)config.Semantic!.Threshold) is { } match)
            {
                if (await _cache.GetAsync(match.AnswerKey) is { } near && await TryServeCachedAsync(context, exchange, near, inspected, match.Similarity))
                {
                    return null;
                }
                // Its answer has left the cache (evicted, expired, purged): so does the question.
                index.Forget(semantic.Partition, match.AnswerKey);
            }
        }

        string? flight = null;
        LiveAnswer? live = null;
        if (lookUp && store)
        {
            if (_cache.TryLead(key, inspected.Stream ? new LiveAnswer() : null, out var leader))
            {
                flight = key;
                live = leader.Live;
            }
            else if (leader.Live is { } leading)
            {
                // A stream follows the leader's bytes; when it cannot (the leader failed first), it goes its own way.
                if (await FollowLiveAsync(context, exchange, leading, provider.Config.Timeouts.Total))
                {
                    return null;
                }
            }
            else
            {
                CachedAnswer? coalesced = null;
                try
                {
                    coalesced = await leader.Answer.Task.WaitAsync(provider.Config.Timeouts.Total, context.RequestAborted);
                }
                catch (Exception e) when (e is TimeoutException or OperationCanceledException)
                {
                    // Too long, or this client left: it goes its own way.
                }
                if (coalesced is not null && await TryServeCachedAsync(context, exchange, coalesced, inspected))
                {
                    return null;
                }
            }
        }
        exchange.CacheOutcome = CacheOutcomes.Miss;
        response.Headers["x-octomesh-cache"] = "miss";
        if (!store)
        {
            return null;
        }
        var capture = new CapturingBodyFeature(context.Features.GetRequiredFeature<IHttpResponseBodyFeature>(), MaxCachedAnswerBytes, live,
            live is null ? null : () => live.Start(response.StatusCode, response.ContentType, exchange.Provider, exchange.Model));
        context.Features.Set<IHttpResponseBodyFeature>(capture);
        return new CacheSession(capture, flight, key, provider.Name, model, semantic);
    }

    /// <summary>
    /// Takes this request, and its most possible tokens (the body's bytes and <c>max_tokens</c>, else the first target
    /// provider's default), from every rate limit that selects it (<see cref="Tenancy.RateLimiter"/>), and says how much
    /// is left in the <c>x-ratelimit-*</c> headers. False, with a 429 sent, when a limit has no room.
    /// </summary>
    private async Task<bool> AcquireRateLimitsAsync(GatewayRuntime runtime, HttpContext context, Exchange exchange, BodyBuffer body, InspectedRequest inspected,
        ModelTarget first)
    {
        var all = runtime.Config.RateLimits;
        if (all.IsEmpty || exchange.Shadow)
        {
            return true;
        }
        var model = RequestInspector.ModelName(body.Span, inspected);
        var limits = all.Where(l => l.Applies(exchange.Workspace, exchange.KeyName, model)).ToArray();
        if (limits.Length == 0)
        {
            return true;
        }
        var tokens = body.Length + MostOutputTokens(inspected, runtime.Providers[first.ProviderIndex]);
        var decision = await _limiter.AcquireAsync(limits, tokens);
        var headers = context.Response.Headers;
        if (decision.Refused is { } refused)
        {
            _metrics.RateLimited(refused.Name);
            var perMinute = decision.RefusedDimension == "tokens" ? refused.TokensPerMinute!.Value : refused.RequestsPerMinute!.Value;
            var seconds = Math.Max(1, (long)Math.Ceiling(decision.RetryAfter.TotalSeconds));
            headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var message = decision.RefusedDimension == "tokens" && tokens > perMinute
                ? $"Rate limit '{refused.Name}' allows {perMinute} tokens per minute, and this request may take {tokens}; lower max_tokens or send less."
                : $"Rate limit '{refused.Name}' ({perMinute} {decision.RefusedDimension} per minute) is reached; retry in {seconds} s.";
            await ClientError.WriteAsync(context.Response, exchange.Operation, StatusCodes.Status429TooManyRequests, message, code: "rate_limit_exceeded");
            return false;
        }
        exchange.RateHolds = decision.Holds;
        WriteRateHeaders(headers, "requests", decision.Requests);
        WriteRateHeaders(headers, "tokens", decision.Tokens);
        return true;
    }

    /// <summary><c>x-ratelimit-limit-*</c>, <c>-remaining-*</c> and <c>-reset-*</c> for one dimension, when a limit counts it.</summary>
    private static void WriteRateHeaders(IHeaderDictionary headers, string dimension, Tenancy.RateState? state)
    {
        if (state is { } known)
        {
            headers["x-ratelimit-limit-" + dimension] = known.Limit.ToString(System.Globalization.CultureInfo.InvariantCulture);
            headers["x-ratelimit-remaining-" + dimension] = known.Remaining.ToString(System.Globalization.CultureInfo.InvariantCulture);
            headers["x-ratelimit-reset-" + dimension] = known.Reset.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture) + "s";
        }
    }

    /// <summary>The most tokens an answer can have: each of the <c>n</c> choices asked for writing <c>max_tokens</c>, else the provider's default.</summary>
    private static long MostOutputTokens(in InspectedRequest inspected, UpstreamProvider provider) =>
        (long)Math.Max(1, inspected.Choices) * (inspected.MaxTokens > 0 ? inspected.MaxTokens : provider.Config.DefaultMaxTokens);

    /// <summary>
    /// Holds the most this request can cost against every budget of its key and workspace (<see cref="Tenancy.BudgetLedger"/>):
    /// the body's bytes as prompt tokens (no tokenizer makes more tokens than bytes) at the dearer of the input and
    /// cache-write prices, plus <c>max_tokens</c> (else the provider's default) at the dearer of the output and
    /// reasoning prices, for the dearest target the request may reach. False, with a 429 sent, when a hard budget
    /// would be passed. Models without a price cost nothing here, as in metering.
    /// </summary>
    private async Task<bool> ReserveBudgetsAsync(GatewayRuntime runtime, HttpContext context, Exchange exchange, CompiledRoute? route, int[] order,
        int candidates, ModelTarget? aliasTarget, BodyBuffer body, InspectedRequest inspected)
    {
        var all = runtime.Config.Budgets;
        if (all.IsEmpty || exchange.Shadow)
        {
            return true;
        }
        var budgets = all.Where(b => b.Applies(exchange.Workspace, exchange.KeyName)).ToArray();
        if (budgets.Length == 0)
        {
            return true;
        }
        var most = 0L;
        for (var i = 0; i < candidates; i++)
        {
            var target = route is null ? aliasTarget! : runtime.RouteTargets[route.Index][order[i]];
            var provider = runtime.Providers[target.ProviderIndex];
            var model = target.UpstreamModel ?? RequestInspector.ModelName(body.Span, inspected);
            if (runtime.Prices.TryFind(model, out var price))
            {
                var output = MostOutputTokens(inspected, provider);
                var picos = (Int128)body.Length * Math.Max(price.Input, price.CacheWrite) + (Int128)output * Math.Max(price.Output, price.Reasoning);
                most = Math.Max(most, (long)((picos + Routing.Pricing.ModelPrice.MicrosPerUsd - 1) / Routing.Pricing.ModelPrice.MicrosPerUsd));
            }
        }
        var check = await _budgets.ReserveAsync(budgets, most);
        if (check.Refused is { } refused)
        {
            _metrics.BudgetRefused(refused.Name);
            var response = context.Response;
            var scope = refused.Workspace is { } workspace ? $"workspace '{workspace}'" : $"key '{refused.Key}'";
            var budget = string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"Budget '{refused.Name}' of {scope} (USD {refused.MicroUsd / 1e6:0.00####} per {refused.Period.ToString().ToLowerInvariant()})");
            // Held by requests in flight only: room comes back as they finish. Else the spend is used up until renewal,
            // or this request's bound is larger than the whole budget (then only a smaller max_tokens helps).
            var (retryAfter, message) = check.InFlight
                ? (1L, $"{budget} is held by requests in flight; retry in a moment.")
                : most > refused.MicroUsd
                    ? ((long)Math.Ceiling((check.Renews - DateTimeOffset.UtcNow).TotalSeconds),
                        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{budget} is smaller than this request may cost (USD {most / 1e6:0.00####}); lower max_tokens."))
                    : ((long)Math.Ceiling((check.Renews - DateTimeOffset.UtcNow).TotalSeconds),
                        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{budget} has no room for this request; it renews at {check.Renews:yyyy-MM-ddTHH:mm:ssZ}."));
            response.Headers.RetryAfter = retryAfter.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await ClientError.WriteAsync(response, exchange.Operation, StatusCodes.Status429TooManyRequests, message, code: "budget_exceeded");
            return false;
        }
        exchange.Reservations = check.Reservations;
        foreach (var reservation in check.Reservations)
        {
            if (reservation.Exceeded)
            {
                _metrics.BudgetExceeded(reservation.Budget.Name);
                Log.SoftBudgetExceeded(_logger, exchange.RequestId, reservation.Budget.Name);
            }
        }
        return true;
    }

    /// <summary>
    /// A stream that follows a leader's: once the leader's answer starts (status 200), its bytes are sent to this
    /// client as they come, up to the leader's end (a leader cut short, or whose client left, cuts its followers
    /// there too). False when the leader failed before its first byte or had already failed, or did not start within
    /// <paramref name="wait"/>: this request goes its own way.
    /// </summary>
    private static async Task<bool> FollowLiveAsync(HttpContext context, Exchange exchange, LiveAnswer live, TimeSpan wait)
    {
        try
        {
            await live.WaitStartAsync(context.RequestAborted).WaitAsync(wait, context.RequestAborted);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            return false;
        }
        if (!live.Started || live.Status != StatusCodes.Status200OK || live.Finished && !live.Whole)
        {
            return false;
        }
        var response = context.Response;
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
            while (await live.ReadAsync(sent, context.RequestAborted) is { Length: > 0 } bytes)
            {
                await response.Body.WriteAsync(bytes, context.RequestAborted);
                await response.Body.FlushAsync(context.RequestAborted);
                sent += bytes.Length;
            }
            exchange.Outcome = live.Whole ? ProxyOutcome.Completed : ProxyOutcome.UpstreamCut;
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            exchange.Outcome = ProxyOutcome.ClientGone;
        }
        return true;
    }

    /// <summary>
    /// A miss on its way upstream: the capturing body, the flight key when this request leads one, the key looked up
    /// with the provider and model it was made for (kept under again when that target answers), and the semantic
    /// cache's partition and prepared question when it looked.
    /// </summary>
    private sealed record CacheSession(CapturingBodyFeature Capture, string? Flight, string Key, string Provider, string Model, SemanticLookup? Semantic);

    /// <summary>The semantic cache's partition of a request and its last user turn, embedded.</summary>
    private sealed record SemanticLookup(string Partition, SemanticQuery Query);

    /// <summary>
    /// Sends a kept answer as it was first sent, or reshaped to what this client asked for (<see cref="AnswerShapes"/>);
    /// <paramref name="similarity"/> when it answered a question that means the same. False, with nothing sent, when the
    /// answer cannot be reshaped: the request goes on as a miss.
    /// </summary>
    private static async Task<bool> TryServeCachedAsync(HttpContext context, Exchange exchange, CachedAnswer answer, InspectedRequest inspected,
        float? similarity = null)
    {
        var response = context.Response;
        if (!AnswerShapes.TryReshape(answer, exchange.Operation, inspected.Stream, inspected.IncludeUsage, out var body, out var contentType))
        {
            return false;
        }
        exchange.CacheOutcome = similarity is null ? CacheOutcomes.Hit : CacheOutcomes.HitSemantic;
        exchange.Provider = answer.Provider;
        exchange.Model = answer.Model;
        exchange.Outcome = ProxyOutcome.Completed;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = contentType;
        response.ContentLength = body.Length;
        response.Headers["x-octomesh-cache"] = similarity is null ? "hit-exact" : "hit-semantic";
        if (similarity is { } score)
        {
            response.Headers["x-octomesh-cache-similarity"] = score.ToString("0.0000", System.Globalization.CultureInfo.InvariantCulture);
        }
        response.Headers["x-octomesh-model"] = answer.Model;
        await response.Body.WriteAsync(body, context.RequestAborted);
        return true;
    }

    /// <summary>
    /// The shape of answer a request wants, as the key tells them apart: <c>json</c>, <c>stream</c>, or for OpenAI's API
    /// <c>stream+usage</c> (<c>stream_options.include_usage</c>: a usage chunk cannot be made up for a stream kept without one).
    /// </summary>
    private static string Shape(ApiOperation operation, in InspectedRequest inspected) =>
        !inspected.Stream ? "json" : operation == ApiOperation.ChatCompletions && inspected.IncludeUsage ? "stream+usage" : "stream";

    /// <summary>The shapes a request can be answered from, its own first: every shape holds the content, a stream with usage also the usage.</summary>
    private static string[] Shapes(ApiOperation operation, in InspectedRequest inspected) => Shape(operation, inspected) switch
    {
        "json" when operation == ApiOperation.ChatCompletions => s_fromJson,
        "json" => s_messagesFromJson,
        "stream+usage" => s_fromStreamWithUsage,
        _ when operation == ApiOperation.ChatCompletions => s_fromStream,
        _ => s_messagesFromStream,
    };

    private static readonly string[] s_fromJson = ["json", "stream+usage", "stream"], s_messagesFromJson = ["json", "stream"],
        s_fromStreamWithUsage = ["stream+usage", "json"], s_fromStream = ["stream", "json", "stream+usage"], s_messagesFromStream = ["stream", "json"];

    /// <summary>Answers larger than this are sent but not cached.</summary>
    private const int MaxCachedAnswerBytes = 1 << 20;

    /// <summary>
    /// Keeps the answer that just went out when it is whole and successful: status 200, sent to the end, a finished
    /// <c>finish_reason</c> (OpenAI) or <c>stop_reason</c> (Anthropic), not larger than the capture limit. It is kept
    /// under the provider and model that really answered (a fallback's answer is not the first target's).
    /// </summary>
    private CachedAnswer? Keep(GatewayRuntime runtime, HttpContext context, Exchange exchange, CacheSession session, BodyBuffer body,
        InspectedRequest inspected, string? workspace)
    {
        var capture = session.Capture;
        context.Features.Set<IHttpResponseBodyFeature>(capture.Inner);
        if (context.Response.StatusCode != StatusCodes.Status200OK || exchange.Outcome != ProxyOutcome.Completed
            || exchange.Provider is not { } provider || exchange.Model is not { } model || capture.Captured is not { } bytes
            || (bytes.AsSpan().IndexOf("\"finish_reason\":\""u8) < 0 && bytes.AsSpan().IndexOf("\"stop_reason\":\""u8) < 0))
        {
            return null;
        }
        // A stream by what was sent, not by what was asked (an upstream may answer stream:true with one JSON body).
        var contentType = context.Response.ContentType ?? AnswerShapes.Json;
        var answer = new CachedAnswer(bytes, contentType, contentType.StartsWith(AnswerShapes.EventStream, StringComparison.OrdinalIgnoreCase),
            provider, model, workspace ?? "");
        // The client may ask for a shorter or longer life for this answer (x-octomesh-cache-ttl, seconds, up to 30 days).
        var ttl = int.TryParse(context.Request.Headers["x-octomesh-cache-ttl"].ToString(), System.Globalization.NumberStyles.None,
            System.Globalization.CultureInfo.InvariantCulture, out var seconds) && seconds is > 0 and <= 30 * 86_400
            ? seconds : runtime.Config.Cache.TtlSeconds;
        // The first target answered (the usual case): its key was made for the lookup already.
        var sameTarget = provider == session.Provider && model == session.Model;
        var key = sameTarget ? session.Key : CacheKey(runtime, exchange.Operation, body, workspace, provider, model, Shape(exchange.Operation, inspected));
        _cache.Set(key, answer, TimeSpan.FromSeconds(ttl));
        if (sameTarget && session.Semantic is { } semantic)
        {
            // A fallback's answer is kept for exact repeats only: the partition was made for the first target.
            _cache.AddQuestion(semantic.Partition, workspace ?? "", semantic.Query, key, TimeSpan.FromSeconds(ttl));
        }
        return answer;
    }

    /// <summary>
    /// The answer as one body: a stream as the JSON it adds up to (so a secret split across deltas is whole for redaction,
    /// and a judge reads plain text), else as sent.
    /// </summary>
    private static byte[] WholeAnswer(HttpContext context, Exchange exchange, ApiOperation operation, CachedAnswer? kept, byte[] answer, string? workspace)
    {
        var contentType = context.Response.ContentType ?? AnswerShapes.Json;
        return contentType.StartsWith(AnswerShapes.EventStream, StringComparison.OrdinalIgnoreCase)
            && AnswerShapes.TryReshape(kept ?? new CachedAnswer(answer, contentType, true, exchange.Provider!, exchange.Model!, workspace ?? ""), operation,
                stream: false, includeUsage: false, out var whole, out _)
            ? whole : answer;
    }

    /// <summary>Hands a <c>full</c> workspace's exchange to the vault.</summary>
    private void KeepExchange(Exchange exchange, ApiOperation operation, CompiledRoute? route, BodyBuffer body, byte[] answer, string workspace, long generation)
    {
        var api = operation == ApiOperation.Messages ? "messages" : "chat_completions";
        _vault.Keep(workspace, generation, new Privacy.KeptExchange(DateTimeOffset.UtcNow, exchange.RequestId, api, route?.Name, exchange.Provider,
            exchange.Model, System.Text.Encoding.UTF8.GetString(body.Span), System.Text.Encoding.UTF8.GetString(answer), exchange.Task));
    }

    /// <summary>
    /// The exact cache's key for this request: its scope (the workspace, unless shared), the client's API and the shape
    /// of answer (<see cref="Shape"/>: each shape is kept apart, and reshaped when another is asked for), then
    /// <see cref="ExactCacheKey"/>. With <paramref name="lastTurn"/>, the semantic cache's partition instead: the same
    /// without that turn (and shape <c>any</c>: a neighbour's answer is reshaped as needed).
    /// </summary>
    private static string CacheKey(GatewayRuntime runtime, ApiOperation operation, BodyBuffer body, string? workspace,
        string provider, string model, string shape, Range? lastTurn = null)
    {
        var scope = $"{(runtime.Config.Cache.SharedAcrossWorkspaces ? "*" : workspace ?? "")}|{operation}|{shape}"
            + (lastTurn is null ? "" : "|semantic");
        Span<byte> key = stackalloc byte[ExactCacheKey.Size];
        ExactCacheKey.Compute(body.Span, scope, provider, model, key, lastTurn ?? default);
        return ExactCacheKey.ToHex(key);
    }

    /// <summary>
    /// The route for the request and its targets' order (into <paramref name="order"/>), or, when no route
    /// matches, the model alias as the one target. Returns null for no route; <paramref name="candidates"/> is 0 when nothing serves the model.
    /// </summary>
    private static CompiledRoute? Route(GatewayRuntime runtime, HttpContext context, BodyBuffer body, in InspectedRequest inspected, string? workspace, int[] order,
        out int candidates, out ModelTarget? aliasTarget, out string? task)
    {
        task = null;
        Span<char> name = stackalloc char[RequestInspector.MaxModelBytes];
        var model = name[..RequestInspector.CopyModel(body.Span, inspected, name)];
        aliasTarget = null;
        if (!runtime.Routes.Routes.IsEmpty)
        {
            var headers = context.Request.Headers;
            var request = new RouteRequest(model)
            {
                Workspace = workspace,
                Task = TaskOf(runtime, headers, body, inspected),
                Headers = runtime.Routes.MatchesHeaders ? new RouteHeaders(headers) : null,
                HasTools = inspected.HasTools,
                HasImages = runtime.Routes.MatchesImages && RequestInspector.HasImages(body.Span),
                Stream = inspected.Stream,
                // A rough estimate until tokenizers arrive: about four bytes of JSON per token.
                PromptTokens = body.Length / 4,
            };
            task = request.Task;
            if (runtime.Routes.TryRoute(request, order, out var decision))
            {
                candidates = decision.TargetCount;
                return decision.Route;
            }
        }
        if (runtime.Models.TryResolve(model, out var target))
        {
            aliasTarget = target;
            order[0] = 0;
            candidates = 1;
            return null;
        }
        candidates = 0;
        return null;
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

    /// <summary>
    /// The request's task: declared by the client (the <c>x-octomesh-task</c> header, else
    /// <c>metadata.task</c> in the body), else detected by the classifier's rules, else none.
    /// </summary>
    private static string? TaskOf(GatewayRuntime runtime, IHeaderDictionary headers, BodyBuffer body, in InspectedRequest inspected)
    {
        if (headers["x-octomesh-task"] is { Count: 1 } declared)
        {
            return declared.ToString();
        }
        if (RequestInspector.Task(body.Span, inspected) is { } task)
        {
            return task;
        }
        return runtime.Classifier.IsEmpty ? null : runtime.Classifier.Classify(RequestInspector.Evidence(body.Span, inspected.HasTools));
    }

    /// <summary>Request headers as the routing table reads them.</summary>
    private sealed class RouteHeaders(IHeaderDictionary headers) : IRouteHeaders
    {
        public string? Get(string name) => headers.TryGetValue(name, out var value) ? value.ToString() : null;
    }

    /// <summary>
    /// Tries one target, retried per the route's policy within its deadline, each try waiting for the response
    /// headers at most what <see cref="FirstByteWait"/> allows (the provider's own timeout alone without a route). Returns whether the client has
    /// its answer (or is gone), and whether every send has released the body.
    /// </summary>
    private async Task<(bool Answered, bool Released)> TryTargetAsync(GatewayRuntime runtime, HttpContext context, ApiOperation operation, Exchange exchange,
        ModelTarget target, CompiledRoute? route, int targetIndex, TargetHealth? health, bool lastTarget, BodyBuffer body, InspectedRequest inspected)
    {
        var retry = route?.Definition.Retry ?? RetryPolicy.None;
        var deadline = route?.Definition.DeadlineMs is { } ms ? TimeSpan.FromMilliseconds(ms) : (TimeSpan?)null;
        var released = true;
        for (var @try = 0; ; @try++)
        {
            // The route's deadline bounds every try and wait together; past it, the client gets a 504 now.
            var left = deadline - Stopwatch.GetElapsedTime(exchange.Started);
            if (left <= TimeSpan.Zero)
            {
                await ClientError.WriteAsync(context.Response, operation, StatusCodes.Status504GatewayTimeout,
                    $"No target of route '{route!.Name}' answered within its deadline of {deadline!.Value.TotalMilliseconds:0} ms.", code: "route_deadline");
                return (true, released);
            }
            var (answered, sent, retryAfter) = await ForwardAsync(runtime, context, operation, exchange, target,
                health, lastTarget && @try == retry.Attempts, route is null ? null : FirstByteWait(route, targetIndex, exchange.Started), body, inspected);
            released &= sent;
            if (answered || @try == retry.Attempts)
            {
                return (answered, released);
            }
            if (Backoff(retry, @try, retryAfter) is not { } backoff || backoff >= deadline - Stopwatch.GetElapsedTime(exchange.Started))
            {
                // No retry of this target: the next one, if any; after the last, the caller answers.
                return (false, released);
            }
            exchange.Retries++;
            _metrics.Retry(route!.Name);
            exchange.UpstreamTicks += (long)(backoff.TotalSeconds * Stopwatch.Frequency);
            try
            {
                await Task.Delay(backoff, context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                Log.ClientDisconnected(_logger, exchange.RequestId);
                return (true, released);
            }
        }
    }

    /// <summary>
    /// A hedged first try: when the route's first target has sent no response headers within
    /// <paramref name="hedgeAfter"/>, the second target (if it has room) is sent the same request, and the
    /// first good answer goes to the client while the other send is abandoned. Returns whether the client has its
    /// answer, whether the body was released, and how many targets were tried (1 or 2), so that after two
    /// failures the caller goes on with the rest. Hedged tries are not retried.
    /// </summary>
    private async Task<(bool Answered, bool Released, int Tried)> HedgedAsync(GatewayRuntime runtime, HttpContext context, ApiOperation operation, Exchange exchange,
        CompiledRoute route, int[] order, int candidates, TimeSpan hedgeAfter, BodyBuffer body, InspectedRequest inspected)
    {
        var (primary, answered) = await PrepareAsync(runtime, context, operation, exchange, runtime.RouteTargets[route.Index][order[0]],
            route.Health[order[0]], isLast: false, body, inspected);
        if (primary is null)
        {
            return (answered, true, 1);
        }
        using (primary)
        {
            var sent = Stopwatch.GetTimestamp();
            var primarySend = primary.SendAsync(FirstByteWait(route, order[0], exchange.Started));
            try
            {
                await primarySend.WaitAsync(hedgeAfter, context.RequestAborted);
            }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException)
            {
                // Slow (the hedge starts) or the client is gone (the send notices on its own).
            }
            var second = order[1];
            var secondHealth = route.Health[second];
            if (primarySend.IsCompleted || context.RequestAborted.IsCancellationRequested
                || !secondHealth.TryEnter(route.Definition.Targets[second].MaxConcurrency))
            {
                await primarySend;
                exchange.UpstreamTicks += primary.Waited;
                var (done, _) = await AnswerAsync(context, operation, exchange, primary, candidates == 1, body, inspected);
                return (done, primary.TryRelease(), 1);
            }
            try
            {
                var (secondary, _) = await PrepareAsync(runtime, context, operation, exchange, runtime.RouteTargets[route.Index][second],
                    secondHealth, isLast: false, body, inspected);
                if (secondary is null)
                {
                    await primarySend;
                    exchange.UpstreamTicks += primary.Waited;
                    var (done, _) = await AnswerAsync(context, operation, exchange, primary, candidates == 1, body, inspected);
                    return (done, primary.TryRelease(), 1);
                }
                using (secondary)
                {
                    Log.Hedged(_logger, exchange.RequestId, route.Name, primary.Provider.Name, secondary.Provider.Name);
                    exchange.Hedged = true;
                    _metrics.Hedge(route.Name);
                    var secondarySend = secondary.SendAsync(FirstByteWait(route, second, exchange.Started));
                    var primaryFirst = await Task.WhenAny(primarySend, secondarySend) == primarySend;
                    var (winner, loser, loserSend) = primaryFirst ? (primary, secondary, secondarySend) : (secondary, primary, primarySend);
                    if (winner.Failed)
                    {
                        // The first to finish failed: the other may still answer well.
                        await loserSend;
                        (winner, loser) = (loser, winner);
                    }
                    else
                    {
                        await loser.AbandonAsync(loserSend);
                    }
                    // Both sends waited on upstreams together: the race counts once, by the clock.
                    exchange.UpstreamTicks += Stopwatch.GetTimestamp() - sent;
                    var (done, _) = await AnswerAsync(context, operation, exchange, winner, candidates == 2, body, inspected);
                    return (done, primary.TryRelease() & secondary.TryRelease(), 2);
                }
            }
            finally
            {
                secondHealth.Exit();
            }
        }
    }

    /// <summary>How long a try of the route's target may wait for its first byte: its own limit, cut to what is left of the route's deadline.</summary>
    private static TimeSpan? FirstByteWait(CompiledRoute route, int target, long started)
    {
        var firstByteMs = route.Definition.Targets[target].FirstByteMs;
        TimeSpan? limit = firstByteMs > 0 ? TimeSpan.FromMilliseconds(firstByteMs) : null;
        var left = route.Definition.DeadlineMs is { } ms ? TimeSpan.FromMilliseconds(ms) - Stopwatch.GetElapsedTime(started) : (TimeSpan?)null;
        return limit is null || left < limit ? left : limit;
    }

    /// <summary>
    /// Steps 6 and 7 for one try of one target: build the request, send it with the first-byte deadline,
    /// and answer the client. Returns whether the client was answered (else a retry or the next target
    /// may try), whether the request body can be reused, and the wait the provider asked for. A target that fails before its first byte (no connection, too slow,
    /// 429 or 5xx) gives way to the next unless it is the last; after the first byte nothing is retried.
    /// </summary>
    private async Task<(bool Answered, bool Released, TimeSpan? RetryAfter)> ForwardAsync(GatewayRuntime runtime, HttpContext context, ApiOperation operation, Exchange exchange,
        ModelTarget target, TargetHealth? health, bool isLast, TimeSpan? firstByteLimit, BodyBuffer body, InspectedRequest inspected)
    {
        var (attempt, answered) = await PrepareAsync(runtime, context, operation, exchange, target, health, isLast, body, inspected);
        if (attempt is null)
        {
            // Answered with a 400, or this provider cannot serve the request and the next target may.
            return (answered, true, answered ? null : TimeSpan.MaxValue);
        }
        using (attempt)
        {
            await attempt.SendAsync(firstByteLimit);
            exchange.UpstreamTicks += attempt.Waited;
            var (done, retryAfter) = await AnswerAsync(context, operation, exchange, attempt, isLast, body, inspected);
            return (done, attempt.TryRelease(), retryAfter);
        }
    }

    /// <summary>
    /// Builds the target's request with the headers that cross. Null when the request cannot go to this target:
    /// answered (a 400 in the client's format) when a field has a type the API does not allow, or when the
    /// provider cannot serve the request and this is the last target; not answered when the next target may.
    /// </summary>
    private static async Task<(UpstreamAttempt? Attempt, bool Answered)> PrepareAsync(GatewayRuntime runtime, HttpContext context, ApiOperation operation, Exchange exchange,
        ModelTarget target, TargetHealth? health, bool isLast, BodyBuffer body, InspectedRequest inspected)
    {
        var provider = runtime.Providers[target.ProviderIndex];
        var adapter = provider.AdapterFor(operation);
        HttpRequestMessage? request;
        ForwardContext forward;
        string? unsupported;
        try
        {
            request = adapter.CreateRequest(provider, operation, body, inspected, target, out forward, out unsupported);
        }
        catch (Exception e) when (e is InvalidOperationException or KeyNotFoundException or FormatException or IndexOutOfRangeException)
        {
            // Translation reads fields the inspector does not check; one of another JSON type than the API allows lands here.
            await ClientError.WriteAsync(context.Response, operation, StatusCodes.Status400BadRequest,
                $"The request has a field of a type the API does not allow, so it cannot be translated for provider '{provider.Name}': {e.Message}",
                code: "invalid_request");
            return (null, true);
        }
        if (request is null)
        {
            if (isLast)
            {
                await ClientError.WriteAsync(context.Response, operation, StatusCodes.Status400BadRequest, unsupported!, code: "unsupported_by_provider");
            }
            return (null, isLast);
        }
        CopyRequestHeaders(context.Request.Headers, request);
        request.Headers.TryAddWithoutValidation("x-request-id", exchange.RequestId);
        return (new UpstreamAttempt(provider, adapter, request, forward, target, health, context.RequestAborted), false);
    }

    /// <summary>
    /// Step 7 for a sent attempt: a failure before the first byte gives way to the next try (returning the wait the provider
    /// asked for) unless <paramref name="isLast"/>, when the client gets the error; otherwise the answer streams back.
    /// </summary>
    private async Task<(bool Answered, TimeSpan? RetryAfter)> AnswerAsync(HttpContext context, ApiOperation operation, Exchange exchange,
        UpstreamAttempt attempt, bool isLast, BodyBuffer body, InspectedRequest inspected)
    {
        var response = context.Response;
        var provider = attempt.Provider;
        if (attempt.ClientGone)
        {
            Log.ClientDisconnected(_logger, exchange.RequestId);
            exchange.Outcome = ProxyOutcome.ClientGone;
            return (true, null);
        }
        exchange.Provider = provider.Name;
        exchange.Model = attempt.Target.UpstreamModel ?? RequestInspector.ModelName(body.Span, inspected);
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
                Log.UpstreamTimeout(_logger, exchange.RequestId, provider.Name);
                _metrics.UpstreamError(provider.Name, "timeout");
            }
            else
            {
                Log.UpstreamUnreachable(_logger, exchange.RequestId, provider.Name, reason);
                _metrics.UpstreamError(provider.Name, "unreachable");
            }
            if (!isLast)
            {
                return (false, null);
            }
            await ClientError.WriteAsync(response, operation, status, status == StatusCodes.Status504GatewayTimeout
                ? $"The upstream provider '{provider.Name}' did not answer within {attempt.FirstByte.TotalSeconds:0.###} s."
                : $"The upstream provider '{provider.Name}' could not be reached ({reason}).", code: code);
            return (true, null);
        }

        var upstreamResponse = attempt.Response!;
        if (attempt.Failed)
        {
            _metrics.UpstreamError(provider.Name, upstreamResponse.StatusCode == System.Net.HttpStatusCode.TooManyRequests ? "rate_limited" : "server_error");
        }
        if (attempt.Failed && !isLast)
        {
            Log.UpstreamFailedOver(_logger, exchange.RequestId, provider.Name, (int)upstreamResponse.StatusCode);
            return (false, RetryAfterOf(upstreamResponse));
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
        var streamed = exchange.Stream && upstreamResponse.IsSuccessStatusCode;
        if (streamed)
        {
            _metrics.StreamStarted(exchange.OperationName);
        }
        (ProxyOutcome Outcome, TokenUsage? Usage) copied;
        try
        {
            copied = await attempt.Adapter.SendResponseAsync(upstreamResponse, response, attempt.Forward, context.RequestAborted, attempt.Deadline.Token);
        }
        finally
        {
            if (streamed)
            {
                _metrics.StreamEnded(exchange.OperationName);
            }
        }
        (exchange.Outcome, exchange.Usage) = copied;

        if (copied.Outcome is ProxyOutcome.UpstreamCut or ProxyOutcome.UpstreamTimeout)
        {
            Log.UpstreamStreamCut(_logger, exchange.RequestId, provider.Name, copied.Outcome);
            _metrics.UpstreamError(provider.Name, copied.Outcome == ProxyOutcome.UpstreamCut ? "stream_cut" : "timeout");
        }
        else if (copied.Outcome == ProxyOutcome.UpstreamRefusedCredentials)
        {
            Log.UpstreamRefusedCredentials(_logger, exchange.RequestId, provider.Name);
            _metrics.UpstreamError(provider.Name, "auth");
        }
        else if (copied.Outcome == ProxyOutcome.ClientGone)
        {
            Log.ClientDisconnected(_logger, exchange.RequestId);
        }
        return (true, null);
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

    /// <summary>The client's id when it is a sane token, else a fresh one.</summary>
    private static string RequestIdOf(StringValues header)
    {
        if (header.Count == 1 && header[0] is { Length: > 0 and <= MaxRequestIdLength } id && id.All(c => c is > ' ' and < '\u007f'))
        {
            return id;
        }
        // 32 hex digits, as a GUID's: this process's random half, then a counter (a GUID per request cost a getrandom call).
        return string.Create(32, (ulong)Interlocked.Increment(ref s_requestCount), static (digits, count) =>
        {
            s_requestIdPrefix.TryFormat(digits, out _, "x16", System.Globalization.CultureInfo.InvariantCulture);
            count.TryFormat(digits[16..], out _, "x16", System.Globalization.CultureInfo.InvariantCulture);
        });
    }

    private static readonly ulong s_requestIdPrefix = BitConverter.ToUInt64(Guid.NewGuid().ToByteArray());
    private static long s_requestCount;

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
