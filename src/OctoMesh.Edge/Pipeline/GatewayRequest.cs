using System.Buffers;
using Microsoft.AspNetCore.Http;
using OctoMesh.Edge.Cache;
using OctoMesh.Edge.Metering;
using OctoMesh.Edge.Pipeline.Steps;
using OctoMesh.Edge.Telemetry;
using OctoMesh.Edge.Tenancy;
using OctoMesh.Edge.Wire;
using OctoMesh.Routing;
using OctoMesh.Routing.Configuration;
using OctoMesh.Routing.Table;

namespace OctoMesh.Edge.Pipeline;

/// <summary>
/// One API request on its way through the steps, held in <see cref="HttpContext.Features"/>: what each step found
/// (the key, the body and its inspection, the route and its targets' order, what quotas hold) for the steps after it,
/// and the <see cref="Exchange"/> that is accounted at the end. One runtime snapshot serves the whole request: a reload
/// swaps it for the next requests, never under this one.
/// </summary>
internal sealed class GatewayRequest(HttpContext http, ApiOperation operation, GatewayRuntime runtime, Exchange exchange) : IDisposable
{
    private string? _modelName;
    private UInt128? _digest;
    private bool _finished;

    public HttpContext Http { get; } = http;
    public HttpRequest Request => Http.Request;
    public HttpResponse Response => Http.Response;
    public CancellationToken Aborted => Http.RequestAborted;
    public ApiOperation Operation { get; } = operation;
    public GatewayRuntime Runtime { get; } = runtime;
    public Exchange Exchange { get; } = exchange;
    /// <summary>The request's span, when tracing is on.</summary>
    public System.Diagnostics.Activity? Span { get; set; }

    // Admission.
    public TenantView Tenants { get; set; } = null!;
    public ClientKeyConfig? Key { get; set; }
    public string? Workspace => Exchange.Workspace;
    /// <summary>The workspace's content policy (without keys there are no workspaces: the cache is the operator's choice alone).</summary>
    public ContentPolicy Content { get; set; } = ContentPolicy.Cache;
    /// <summary>The vault's generation of a <c>full</c> workspace when the request started: a forget since then means its exchange is not kept.</summary>
    public long ContentGeneration { get; set; }

    // The body and its one inspection.
    public BodyBuffer Body { get; set; } = null!;
    public InspectedRequest Inspected;

    /// <summary>The body's digest for the exact cache's keys, made once (<see cref="ExactCacheKey.Digest"/>).</summary>
    public UInt128 BodyDigest => _digest ??= ExactCacheKey.Digest(Body.Span);

    /// <summary>A send may still read the pooled body: it is abandoned to the collector instead of going back to the pool.</summary>
    public bool BodyHeld { get; set; }

    // Routing.
    public CompiledRoute? Route { get; set; }
    /// <summary>The route's targets in the order its strategy chose (indexes into the route's targets); 0 alone for a model alias.</summary>
    public int[] Order { get; } = ArrayPool<int>.Shared.Rent(RoutingTable.MaxTargets);
    public int Candidates { get; set; }
    public ModelTarget? AliasTarget { get; set; }

    /// <summary>The <paramref name="i"/>-th target in order.</summary>
    public ModelTarget Target(int i) => Route is null ? AliasTarget! : Runtime.RouteTargets[Route.Index][Order[i]];

    /// <summary>The model name the client asked for, read from the body once.</summary>
    public string ModelName => _modelName ??= RequestInspector.ModelName(Body.Span, Inspected);

    // The cache: the miss on its way upstream, and the answer kept from it.
    public CacheSession? CacheSession { get; set; }
    public CachedAnswer? Kept { get; set; }

    // Evidence: a shadowed route's sampled mirror, and the copy of the answer when the cache makes none.
    public ShadowPolicy? Mirror { get; set; }
    public CapturingBodyFeature? Evidence { get; set; }

    // Quotas.
    /// <summary>What this request holds against its budgets until the exact cost is known.</summary>
    public IReadOnlyList<Reservation>? Reservations { get; set; }
    /// <summary>The tokens this request holds against token rate limits until its usage is known.</summary>
    public IReadOnlyList<RateHold>? RateHolds { get; set; }

    // The end.
    /// <summary>The status accounted: a client gone before anything was sent is 499 (client closed request), as nginx counts it.</summary>
    public int Status { get; private set; }
    public long CostMicros { get; private set; }
    public bool Priced { get; private set; }

    /// <summary>Fixes the end time, status and cost once, for the brackets that settle and account.</summary>
    public void Finish()
    {
        if (_finished)
        {
            return;
        }
        _finished = true;
        Exchange.Ended = System.Diagnostics.Stopwatch.GetTimestamp();
        Status = Aborted.IsCancellationRequested && !Response.HasStarted ? 499 : Response.StatusCode;
        (CostMicros, Priced) = RequestMeter.Price(Exchange, Runtime.Prices);
    }

    /// <summary>An error in the client's format; the step that writes it answers the request.</summary>
    public async ValueTask<StepResult> RefuseAsync(int status, string message, string? param = null, string? code = null)
    {
        await ClientError.WriteAsync(Response, Operation, status, message, param, code);
        return StepResult.Answered;
    }

    public void Dispose()
    {
        ArrayPool<int>.Shared.Return(Order);
        if (Body is { } body)
        {
            if (BodyHeld)
            {
                // An upstream may answer before it has read the whole body; the pooled array must not be reused under a send.
                body.Abandon();
            }
            body.Dispose();
        }
    }
}
