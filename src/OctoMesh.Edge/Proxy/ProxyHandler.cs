using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;
using OctoMesh.Edge.Hosting;
using OctoMesh.Edge.Providers;
using OctoMesh.Edge.Tenancy;
using OctoMesh.Edge.Telemetry;
using OctoMesh.Routing;

namespace OctoMesh.Edge.Proxy;

/// <summary>
/// The proxy path for <c>/v1/chat/completions</c> and <c>/v1/embeddings</c> (OpenAI's format) and
/// <c>/v1/messages</c> and <c>/v1/messages/count_tokens</c> (Anthropic's); every error is written in the client's format.
/// <list type="number">
/// <item>Request id: the client's <c>x-request-id</c>, or a new one; returned either way.</item>
/// <item>Admission: the client key, hashed and compared in constant time.</item>
/// <item>Body: read into pooled memory, 413 past the limit.</item>
/// <item>Inspect: one <see cref="System.Text.Json.Utf8JsonReader"/> pass; 400 with the field at fault.</item>
/// <item>Route: the alias table gives the provider and upstream model; 404 for an unknown model.</item>
/// <item>Forward: the provider's adapter for this client format builds the request (spliced, or translated);
/// 502 when the upstream cannot be reached, 504 when it is too slow.</item>
/// <item>Stream back: status, allowed headers and body as they arrive; usage read on the way.</item>
/// </list>
/// </summary>
internal sealed class ProxyHandler
{
    private const int MaxRequestIdLength = 128;

    private readonly GatewayRuntime _runtime;
    private readonly ILogger<ProxyHandler> _logger;
    private readonly byte[] _modelList;

    public ProxyHandler(GatewayRuntime runtime, ILogger<ProxyHandler> logger)
    {
        _runtime = runtime;
        _logger = logger;
        var models = _runtime.Models.Aliases
            .OrderBy(a => a.Key, StringComparer.Ordinal)
            .Select(a => new ModelEntry(a.Key, "model", 0, _runtime.Models.Providers[a.Value.ProviderIndex]))
            .ToList();
        _modelList = JsonSerializer.SerializeToUtf8Bytes(new ModelList("list", models), EdgeJsonContext.Default.ModelList);
    }

    /// <summary><c>GET /v1/models</c>: the exact aliases (patterns such as <c>gpt-*</c> cannot be listed).</summary>
    public async Task ListModelsAsync(HttpContext context)
    {
        if (await AdmitAsync(context, ApiOperation.ChatCompletions))
        {
            context.Response.ContentType = "application/json";
            context.Response.ContentLength = _modelList.Length;
            await context.Response.Body.WriteAsync(_modelList, context.RequestAborted);
        }
    }

    /// <summary>Checks the client key when keys are configured; answers 401 and returns false when it is wrong.</summary>
    private async ValueTask<bool> AdmitAsync(HttpContext context, ApiOperation operation)
    {
        var headers = context.Request.Headers;
        if (!_runtime.Keys.IsEnabled
            || _runtime.Keys.Authenticate(ClientKeyTable.ReadPresentedKey(headers.Authorization.ToString(), headers["x-api-key"].ToString())) is not null)
        {
            return true;
        }
        await ClientError.WriteAsync(context.Response, operation, StatusCodes.Status401Unauthorized,
            "Incorrect or missing API key. Send your OctoMesh key as 'Authorization: Bearer <key>' or 'x-api-key: <key>'.", code: "invalid_api_key");
        return false;
    }

    public async Task HandleAsync(HttpContext context, ApiOperation operation)
    {
        var started = Stopwatch.GetTimestamp();
        var request = context.Request;
        var response = context.Response;
        var aborted = context.RequestAborted;

        // Step 1: request id.
        var requestId = RequestIdOf(request.Headers["x-request-id"]);
        response.Headers["x-request-id"] = requestId;

        if (!HttpMethods.IsPost(request.Method))
        {
            response.Headers.Allow = "POST";
            await ClientError.WriteAsync(response, operation, StatusCodes.Status405MethodNotAllowed,
                $"{request.Path} accepts POST only.", code: "method_not_allowed");
            return;
        }

        // Step 2: admission.
        if (!await AdmitAsync(context, operation))
        {
            return;
        }
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
            (status, body) = await BodyBuffer.ReadAsync(request.BodyReader, request.ContentLength, _runtime.Limits.MaxBodyBytes, aborted);
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
                $"The request body is larger than the {_runtime.Limits.MaxBodyBytes} bytes this gateway accepts.", code: "request_too_large");
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

            // Step 5: route.
            if (!TryResolve(body, inspected, out var target))
            {
                await ClientError.WriteAsync(response, operation, StatusCodes.Status404NotFound,
                    $"The model '{ModelName(body, inspected)}' does not exist on this gateway. GET /v1/models lists the models it serves.",
                    "model", "model_not_found");
                return;
            }
            var provider = _runtime.Providers[target.ProviderIndex];

            // Step 6: forward.
            var adapter = provider.AdapterFor(operation);
            HttpRequestMessage? upstreamRequest;
            ForwardContext forward;
            string? unsupported;
            try
            {
                upstreamRequest = adapter.CreateRequest(provider, operation, body, inspected, target, out forward, out unsupported);
            }
            catch (Exception e) when (e is InvalidOperationException or KeyNotFoundException or FormatException or IndexOutOfRangeException)
            {
                // Translation reads fields the inspector does not check; one of another JSON type than the API allows lands here.
                await ClientError.WriteAsync(response, operation, StatusCodes.Status400BadRequest,
                    $"The request has a field of a type the API does not allow, so it cannot be translated for provider '{provider.Name}': {e.Message}",
                    code: "invalid_request");
                return;
            }
            if (upstreamRequest is null)
            {
                await ClientError.WriteAsync(response, operation, StatusCodes.Status400BadRequest, unsupported!, code: "unsupported_by_provider");
                return;
            }
            using var sentRequest = upstreamRequest;
            try
            {
                await ForwardAsync(context, operation, requestId, started, provider, adapter, sentRequest, forward, body, inspected);
            }
            finally
            {
                // An upstream may answer before it has read the whole body; the pooled array goes back only once nothing sends from it.
                if (sentRequest.Content is SplicedContent spliced && !spliced.TryRelease())
                {
                    body.Abandon();
                }
            }
        }
    }

    /// <summary>Steps 6 and 7 once the upstream request exists: send it, then answer the client.</summary>
    private async Task ForwardAsync(HttpContext context, ApiOperation operation, string requestId, long started, UpstreamProvider provider,
        IProviderAdapter adapter, HttpRequestMessage upstreamRequest, ForwardContext forward, BodyBuffer body, InspectedRequest inspected)
    {
        var request = context.Request;
        var response = context.Response;
        var aborted = context.RequestAborted;
        // Step 6, continued: headers, then send with the first-byte deadline.
        CopyRequestHeaders(request.Headers, upstreamRequest);
        upstreamRequest.Headers.TryAddWithoutValidation("x-request-id", requestId);

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        deadline.CancelAfter(provider.Config.Timeouts.FirstByte);
        HttpResponseMessage upstreamResponse;
        try
        {
            upstreamResponse = await provider.Invoker.SendAsync(upstreamRequest, deadline.Token);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            Log.ClientDisconnected(_logger, requestId);
            return;
        }
        catch (OperationCanceledException e) when (e.InnerException is TimeoutException)
        {
            // SocketsHttpHandler's ConnectTimeout: the provider was never reached.
            Log.UpstreamUnreachable(_logger, requestId, provider.Name, "ConnectTimeout");
            await ClientError.WriteAsync(response, operation, StatusCodes.Status502BadGateway,
                $"The upstream provider '{provider.Name}' could not be reached (connect timeout).", code: "upstream_unreachable");
            return;
        }
        catch (OperationCanceledException)
        {
            Log.UpstreamTimeout(_logger, requestId, provider.Name);
            await ClientError.WriteAsync(response, operation, StatusCodes.Status504GatewayTimeout,
                $"The upstream provider '{provider.Name}' did not answer within {provider.Config.Timeouts.FirstByte.TotalSeconds:0.###} s.",
                code: "upstream_timeout");
            return;
        }
        catch (HttpRequestException e)
        {
            Log.UpstreamUnreachable(_logger, requestId, provider.Name, e.HttpRequestError.ToString());
            await ClientError.WriteAsync(response, operation, StatusCodes.Status502BadGateway,
                $"The upstream provider '{provider.Name}' could not be reached ({e.HttpRequestError}).", code: "upstream_unreachable");
            return;
        }

        // Step 7: stream back.
        using (upstreamResponse)
        {
            // The total deadline counts from the start of the request; past it already, cancel now.
            var remaining = provider.Config.Timeouts.Total - Stopwatch.GetElapsedTime(started);
            if (remaining > TimeSpan.Zero)
            {
                deadline.CancelAfter(remaining);
            }
            else
            {
                deadline.Cancel();
            }
            var copied = await adapter.SendResponseAsync(upstreamResponse, response, forward, aborted, deadline.Token);

            if (copied.Outcome is ProxyOutcome.UpstreamCut or ProxyOutcome.UpstreamTimeout)
            {
                Log.UpstreamStreamCut(_logger, requestId, provider.Name, copied.Outcome);
            }
            else if (copied.Outcome == ProxyOutcome.UpstreamRefusedCredentials)
            {
                Log.UpstreamRefusedCredentials(_logger, requestId, provider.Name);
            }
            else if (copied.Outcome == ProxyOutcome.ClientGone)
            {
                Log.ClientDisconnected(_logger, requestId);
            }
            if (_logger.IsEnabled(LogLevel.Debug))
            {
                Log.RequestCompleted(_logger, requestId, operation, ModelName(body, inspected), provider.Name, response.StatusCode, copied.Outcome,
                    copied.Usage?.PromptTokens ?? 0, copied.Usage?.CompletionTokens ?? 0, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
        }
    }

    private bool TryResolve(BodyBuffer body, in InspectedRequest inspected, out ModelTarget target)
    {
        Span<char> name = stackalloc char[RequestInspector.MaxModelBytes];
        var length = RequestInspector.CopyModel(body.Span, inspected, name);
        return _runtime.Models.TryResolve(name[..length], out target);
    }

    private static string ModelName(BodyBuffer body, in InspectedRequest inspected)
    {
        Span<char> name = stackalloc char[RequestInspector.MaxModelBytes];
        return new string(name[..RequestInspector.CopyModel(body.Span, inspected, name)]);
    }

    /// <summary>The client's id when it is a sane token, else a fresh one.</summary>
    private static string RequestIdOf(StringValues header)
    {
        if (header.Count == 1 && header[0] is { Length: > 0 and <= MaxRequestIdLength } id && id.All(c => c is > ' ' and < '\u007f'))
        {
            return id;
        }
        return Guid.NewGuid().ToString("N");
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
