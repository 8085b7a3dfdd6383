using System.Net;
using System.Net.Sockets;

namespace OctoMesh.Edge.Providers.Http11;

/// <summary>
/// HTTP/1.1 over plain TCP to one upstream (a simulator, vLLM, Ollama, an in-cluster OpenAI-compatible server), in place
/// of <c>SocketsHttpHandler</c> for <c>http://</c> providers: a stack of keep-alive connections and a request and answer
/// read and written on the connection's own buffer. It does the little a gateway's upstream needs and nothing else
/// (no proxy, redirects, cookies, decompression or TLS: <c>https://</c> providers keep <c>SocketsHttpHandler</c>): 3–6%
/// less CPU per proxied JSON request at 2,000 requests/s, streams the same (docs/performance.md).
/// <para>
/// Pooling as <c>SocketsHttpHandler</c> does it: a connection idle for 90 s, or open for 5 minutes (so a moved upstream's
/// new address is followed), is closed instead of reused; one idle for over a second is polled first, since servers
/// close idle connections (uvicorn after 5 s); and a request whose reused connection fails before any of the answer
/// arrived is sent once more, on a new connection: the upstream had closed the old one as the request went out. (As
/// with <c>SocketsHttpHandler</c>, an upstream that took the whole request and then died without a byte of answer would
/// see it twice; a fresh connection is never resent on.)
/// </para>
/// </summary>
internal sealed class Http11Handler : HttpMessageHandler
{
    private static readonly TimeSpan s_sweepEvery = TimeSpan.FromSeconds(15);

    private readonly EndPoint _endPoint;
    private readonly string _authority;
    private readonly TimeSpan _connectTimeout;
    private readonly long _idleMs, _lifetimeMs, _pollAfterIdleMs;
    private readonly Stack<Http11Connection> _idle = new();
    private readonly Timer _sweeper;
    private bool _disposed;

    /// <param name="pollAfterIdle">A pooled connection idle longer than this is polled before use (1 s).</param>
    public Http11Handler(Uri baseUrl, TimeSpan connectTimeout, TimeSpan? idleTimeout = null, TimeSpan? lifetime = null, TimeSpan? pollAfterIdle = null)
    {
        if (baseUrl.Scheme != Uri.UriSchemeHttp)
        {
            throw new ArgumentException($"Only plain-http upstreams are spoken to directly, not {baseUrl.Scheme}.", nameof(baseUrl));
        }
        // An address is connected to as it is; a name is resolved at each connect (a moved upstream is followed).
        _endPoint = baseUrl.HostNameType is UriHostNameType.IPv4 or UriHostNameType.IPv6
            ? new IPEndPoint(IPAddress.Parse(baseUrl.Host.Trim('[', ']')), baseUrl.Port)
            : new DnsEndPoint(baseUrl.IdnHost, baseUrl.Port);
        _authority = baseUrl.Authority;
        _connectTimeout = connectTimeout;
        _idleMs = (long)(idleTimeout ?? TimeSpan.FromSeconds(90)).TotalMilliseconds;
        _lifetimeMs = (long)(lifetime ?? TimeSpan.FromMinutes(5)).TotalMilliseconds;
        _pollAfterIdleMs = (long)(pollAfterIdle ?? TimeSpan.FromSeconds(1)).TotalMilliseconds;
        _sweeper = new Timer(static state => ((Http11Handler)state!).Sweep(), this, s_sweepEvery, s_sweepEvery);
    }

    /// <summary>Connections waiting for a request.</summary>
    public int IdleConnections
    {
        get
        {
            lock (_idle)
            {
                return _idle.Count;
            }
        }
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Rent() is { } pooled)
        {
            try
            {
                return await pooled.SendAsync(request, cancellationToken);
            }
            catch (HttpRequestException e) when (!pooled.AnswerStarted && !cancellationToken.IsCancellationRequested
                && e.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.ResponseEnded)
            {
                // The upstream closed this idle connection as the request went out: it never saw it. Once more, below.
                pooled.Dispose();
            }
            catch
            {
                pooled.Dispose();
                throw;
            }
        }
        var connection = await ConnectAsync(cancellationToken);
        try
        {
            return await connection.SendAsync(request, cancellationToken);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken) =>
        throw new NotSupportedException("Upstream requests are sent asynchronously.");

    private Http11Connection? Rent()
    {
        while (true)
        {
            Http11Connection? connection;
            lock (_idle)
            {
                if (!_idle.TryPop(out connection))
                {
                    return null;
                }
            }
            var now = Environment.TickCount64;
            if (IsFresh(connection, now) && (now - connection.IdleSince <= _pollAfterIdleMs || connection.LooksOpen()))
            {
                return connection;
            }
            connection.Dispose();
        }
    }

    private bool IsFresh(Http11Connection connection, long now) =>
        now - connection.IdleSince < _idleMs && now - connection.Opened < _lifetimeMs;

    private async Task<Http11Connection> ConnectAsync(CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_connectTimeout);
        try
        {
            await socket.ConnectAsync(_endPoint, timeout.Token);
            return new Http11Connection(this, socket);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            // As SocketsHttpHandler reports its connect timeout.
            throw new TaskCanceledException($"No connection to {_authority} within {_connectTimeout.TotalMilliseconds:0} ms.",
                new TimeoutException("connect timeout"));
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new HttpRequestException(e.SocketErrorCode == SocketError.HostNotFound ? HttpRequestError.NameResolutionError : HttpRequestError.ConnectionError,
                $"{e.Message} ({_authority})", e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>A connection whose answer was read to its end, ready for the next request.</summary>
    public void Return(Http11Connection connection)
    {
        connection.IdleSince = Environment.TickCount64;
        lock (_idle)
        {
            if (!_disposed)
            {
                _idle.Push(connection);
                return;
            }
        }
        connection.Dispose();
    }

    /// <summary>Closes the connections that sat idle too long, so they do not linger half-closed until the next request.</summary>
    private void Sweep()
    {
        var now = Environment.TickCount64;
        Http11Connection[] idle;
        lock (_idle)
        {
            // Taken out whole and the fresh ones pushed back, oldest first, so the stack keeps its order.
            idle = [.. _idle];
            _idle.Clear();
            for (var i = idle.Length - 1; i >= 0; i--)
            {
                if (IsFresh(idle[i], now))
                {
                    _idle.Push(idle[i]);
                }
            }
        }
        foreach (var connection in idle)
        {
            if (!IsFresh(connection, now))
            {
                connection.Dispose();
            }
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _sweeper.Dispose();
            Http11Connection[] idle;
            lock (_idle)
            {
                _disposed = true;
                idle = [.. _idle];
                _idle.Clear();
            }
            foreach (var connection in idle)
            {
                connection.Dispose();
            }
        }
        base.Dispose(disposing);
    }
}
