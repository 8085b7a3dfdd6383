using System.Diagnostics;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using OctoMesh.Edge.Wire;

namespace OctoMesh.Edge.Hosting;

/// <summary>
/// Requests per second for one client connection: a token bucket holding a second's worth, kept in the connection's
/// items so it lives and dies with the connection (HTTP/1.1 keep-alive and HTTP/2 streams alike). A connection past it
/// gets 429 in its API's format with <c>Retry-After: 1</c>, before anything else is done for the request.
/// </summary>
internal sealed class ConnectionRate(int perSecond, Func<long>? clock = null)
{
    private readonly Func<long> _clock = clock ?? Stopwatch.GetTimestamp;
    private readonly Lock _gate = new();
    private double _tokens = perSecond;
    private long _last = (clock ?? Stopwatch.GetTimestamp)();

    public bool TryTake()
    {
        lock (_gate)
        {
            var now = _clock();
            _tokens = Math.Min(perSecond, _tokens + (now - _last) * perSecond / (double)Stopwatch.Frequency);
            _last = now;
            if (_tokens < 1)
            {
                return false;
            }
            _tokens--;
            return true;
        }
    }

    /// <summary>The middleware: counts each request against its connection's bucket.</summary>
    /// <param name="exempt">Requests not counted: the gateway's own shadow mirrors, which share a loopback connection.</param>
    public static Func<HttpContext, RequestDelegate, Task> Middleware(int perSecond, Func<HttpContext, bool> exempt) => (context, next) =>
    {
        if (context.Features.Get<IConnectionItemsFeature>()?.Items is not { } items || exempt(context))
        {
            return next(context);
        }
        ConnectionRate rate;
        // HTTP/2 streams of one connection run at once: one bucket per connection, made under its items' lock.
        lock (items)
        {
            rate = items.TryGetValue(typeof(ConnectionRate), out var found) ? (ConnectionRate)found! : (ConnectionRate)(items[typeof(ConnectionRate)] = new ConnectionRate(perSecond));
        }
        if (rate.TryTake())
        {
            return next(context);
        }
        context.Response.Headers.RetryAfter = "1";
        var operation = context.Request.Path.StartsWithSegments("/v1/messages") ? ApiOperation.Messages : ApiOperation.ChatCompletions;
        return ClientError.WriteAsync(context.Response, operation, StatusCodes.Status429TooManyRequests,
            $"This connection sent more than {perSecond} requests a second; slow down, or spread them over more connections.", code: "connection_rate_exceeded");
    };
}
