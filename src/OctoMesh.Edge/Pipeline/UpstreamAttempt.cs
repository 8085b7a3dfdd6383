using System.Diagnostics;
using OctoMesh.Edge.Providers;
using OctoMesh.Routing;
using OctoMesh.Routing.Table;
using OctoMesh.Edge.Wire;

namespace OctoMesh.Edge.Pipeline;

/// <summary>
/// One try of one target: the request the target's adapter built, sent with a first-byte deadline,
/// then either the upstream's response or the failure. A hedged request runs two at once and
/// abandons the slower one.
/// </summary>
internal sealed class UpstreamAttempt : IDisposable
{
    private readonly CancellationToken _clientAborted;
    private volatile bool _abandoned;

    public UpstreamAttempt(UpstreamProvider provider, IProviderAdapter adapter, HttpRequestMessage request, ForwardContext forward,
        ModelTarget target, TargetHealth? health, CancellationToken clientAborted)
    {
        Provider = provider;
        Adapter = adapter;
        Request = request;
        Forward = forward;
        Target = target;
        Health = health;
        _clientAborted = clientAborted;
        Deadline = CancellationTokenSource.CreateLinkedTokenSource(clientAborted);
    }

    public UpstreamProvider Provider { get; }
    public IProviderAdapter Adapter { get; }
    public HttpRequestMessage Request { get; }
    public ForwardContext Forward { get; }
    public ModelTarget Target { get; }
    public TargetHealth? Health { get; }

    /// <summary>Cancelled by the client going away, the first-byte wait, and later the provider's total deadline.</summary>
    public CancellationTokenSource Deadline { get; }

    /// <summary>How long the send waited at most for the response headers.</summary>
    public TimeSpan FirstByte { get; private set; }

    /// <summary>The upstream's response once the send has completed, unless it failed.</summary>
    public HttpResponseMessage? Response { get; private set; }

    /// <summary>Why the send failed: a timeout or a connection error.</summary>
    public Exception? Error { get; private set; }

    /// <summary>Stopwatch ticks the send waited for the response headers (or the failure).</summary>
    public long Waited { get; private set; }

    /// <summary>The client went away during the send.</summary>
    public bool ClientGone { get; private set; }

    /// <summary>The target failed before its first byte: no connection, too slow, 429 or 5xx. Another target may serve instead.</summary>
    public bool Failed => Error is not null || Response is { StatusCode: System.Net.HttpStatusCode.TooManyRequests or >= System.Net.HttpStatusCode.InternalServerError };

    /// <summary>
    /// Sends the request, waiting at most <paramref name="firstByteLimit"/> (or the provider's first-byte timeout,
    /// whichever is shorter) for the response headers, and records the outcome in the target's health.
    /// Never throws for an upstream failure: it lands in <see cref="Error"/>.
    /// </summary>
    public async Task SendAsync(TimeSpan? firstByteLimit)
    {
        var timeout = Provider.Config.Timeouts.FirstByte;
        FirstByte = firstByteLimit < timeout ? firstByteLimit.Value : timeout;
        if (FirstByte < TimeSpan.Zero)
        {
            FirstByte = TimeSpan.Zero;
        }
        Deadline.CancelAfter(FirstByte);
        var sent = Stopwatch.GetTimestamp();
        try
        {
            Response = await Provider.Invoker.SendAsync(Request, Deadline.Token);
        }
        catch (OperationCanceledException) when (_clientAborted.IsCancellationRequested)
        {
            ClientGone = true;
            return;
        }
        catch (Exception e) when (e is OperationCanceledException or HttpRequestException)
        {
            Error = e;
        }
        Waited = Stopwatch.GetTimestamp() - sent;
        if (!_abandoned)
        {
            // A send the gateway gave up on (a hedge that lost) says nothing about the target.
            Health?.Record(Stopwatch.GetElapsedTime(sent, sent + Waited).TotalMilliseconds, succeeded: !Failed);
        }
    }

    /// <summary>Gives up on a send another attempt has beaten, and waits until it has stopped.</summary>
    public async Task AbandonAsync(Task send)
    {
        _abandoned = true;
        Deadline.Cancel();
        await send;
    }

    /// <summary>True when the send no longer reads the pooled request body (see <see cref="SplicedContent.TryRelease"/>).</summary>
    public bool TryRelease() => Request.Content is not SplicedContent spliced || spliced.TryRelease();

    public void Dispose()
    {
        Response?.Dispose();
        Request.Dispose();
        Deadline.Dispose();
    }
}
