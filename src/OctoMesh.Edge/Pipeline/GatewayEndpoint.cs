using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;
using OctoMesh.Edge.Pipeline.Steps;
using OctoMesh.Edge.Telemetry;
using OctoMesh.Edge.Tenancy;
using OctoMesh.Edge.Wire;

namespace OctoMesh.Edge.Pipeline;

/// <summary>
/// The API's endpoint (<c>/v1/chat/completions</c>, <c>/v1/embeddings</c>, <c>/v1/messages</c>,
/// <c>/v1/messages/count_tokens</c>): runs the steps in order over one <see cref="GatewayRequest"/> until one answers;
/// then the brackets that ran close in reverse order, also when a step threw. Every error is in the client's format.
/// </summary>
internal sealed class GatewayEndpoint
{
    private const int MaxRequestIdLength = 128;

    private static readonly ulong s_requestIdPrefix = BitConverter.ToUInt64(Guid.NewGuid().ToByteArray());
    private static long s_requestCount;

    private readonly GatewayRuntimeHolder _runtimes;
    private readonly TenancyStore _tenancy;
    private readonly ILogger<GatewayEndpoint> _logger;
    private readonly IRequestStep[] _steps;

    public GatewayEndpoint(GatewayRuntimeHolder runtimes, TenancyStore tenancy, ILogger<GatewayEndpoint> logger, AccountStep account, AdmissionStep admission,
        InspectStep inspect, RouteStep route, CacheStep cache, EvidenceStep evidence, QuotaStep quotas, ForwardStep forward)
        : this(runtimes, tenancy, logger, [account, admission, inspect, route, cache, evidence, quotas, forward])
    {
    }

    /// <summary>An endpoint running <paramref name="steps"/> in order.</summary>
    internal GatewayEndpoint(GatewayRuntimeHolder runtimes, TenancyStore tenancy, ILogger<GatewayEndpoint> logger, IRequestStep[] steps)
    {
        _runtimes = runtimes;
        _tenancy = tenancy;
        _logger = logger;
        _steps = steps;
    }

    public async Task HandleAsync(HttpContext context, ApiOperation operation)
    {
        var exchange = new Exchange(operation, RequestIdOf(context.Request.Headers["x-request-id"]), Stopwatch.GetTimestamp());
        context.Response.OnStarting(Exchange.MarkFirstByte, exchange);
        using var request = new GatewayRequest(context, operation, _runtimes.Current, exchange);
        context.Features.Set(request);
        var ran = 0;
        try
        {
            while (ran < _steps.Length && await _steps[ran++].RunAsync(request) == StepResult.Next)
            {
            }
        }
        finally
        {
            for (var i = ran - 1; i >= 0; i--)
            {
                if (_steps[i] is IRequestBracket bracket)
                {
                    try
                    {
                        await bracket.CloseAsync(request);
                    }
                    catch (Exception e)
                    {
                        // One bracket's failure must not keep the others (the account above all) from closing.
                        Log.BracketFailed(_logger, exchange.RequestId, bracket.GetType().Name, e);
                    }
                }
            }
        }
    }

    /// <summary><c>GET /v1/models</c>: the exact model names routes and aliases serve (patterns such as <c>gpt-*</c> cannot be listed).</summary>
    public async Task ListModelsAsync(HttpContext context)
    {
        var runtime = _runtimes.Current;
        var (_, refusal, code) = AdmissionStep.Authenticate(runtime, _tenancy.View(runtime.Config), context.Request.Headers);
        if (refusal is not null)
        {
            await ClientError.WriteAsync(context.Response, ApiOperation.ChatCompletions, StatusCodes.Status401Unauthorized, refusal, code: code);
            return;
        }
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = runtime.ModelList.Length;
        await context.Response.Body.WriteAsync(runtime.ModelList, context.RequestAborted);
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
}
