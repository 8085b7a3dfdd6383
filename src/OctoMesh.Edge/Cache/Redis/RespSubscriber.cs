using OctoMesh.Routing.Configuration;
using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;

namespace OctoMesh.Edge.Cache.Redis;

/// <summary>
/// A Redis pub/sub connection (a subscribed connection takes no other commands, so it is its own): subscribes
/// to channels and hands each message to its handler. When the connection breaks it reconnects with backoff
/// (50 ms doubling to 5 s) and subscribes again, for as long as it lives; messages published meanwhile are missed.
/// </summary>
internal sealed class RespSubscriber : IAsyncDisposable
{
    private readonly string _host;
    private readonly RedisCredentials? _credentials;
    private readonly int _port;
    private readonly Dictionary<string, Action<byte[]>> _handlers = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _loop;
    private readonly TaskCompletionSource _subscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Action? _onSubscribed;

    /// <param name="handlers">Channel → what to do with each message; all subscribed on every (re)connect.</param>
    /// <param name="onSubscribed">Called each time a (re)connection's first channel is confirmed: the moment to catch up on what was missed.</param>
    public RespSubscriber(string host, int port, IReadOnlyDictionary<string, Action<byte[]>> handlers, RedisCredentials? credentials = null,
        Action? onSubscribed = null)
    {
        _onSubscribed = onSubscribed;
        _host = host;
        _port = port;
        _credentials = credentials;
        foreach (var (channel, handler) in handlers)
        {
            _handlers[channel] = handler;
        }
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Connections made so far (1 after the first); a reconnect adds one.</summary>
    public int Connections { get; private set; }

    /// <summary>Completes once the first subscription is confirmed by Redis.</summary>
    public Task Subscribed => _subscribed.Task;

    private async Task RunAsync()
    {
        var backoff = TimeSpan.FromMilliseconds(50);
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await socket.ConnectAsync(_host, _port, _stopping.Token);
                await using var stream = new NetworkStream(socket, ownsSocket: false);
                var writer = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
                if (_credentials is { } credentials)
                {
                    RespClient.Write(writer, RespOptions.Auth(credentials));
                }
                RespClient.Write(writer, ["SUBSCRIBE", .. _handlers.Keys]);
                await writer.FlushAsync(_stopping.Token);
                Connections++;
                backoff = TimeSpan.FromMilliseconds(50);
                await ReadAsync(PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true)));
            }
            catch (Exception e) when (e is SocketException or IOException or InvalidDataException or OperationCanceledException)
            {
                // Down or gone: try again after the backoff.
            }
            try
            {
                await Task.Delay(backoff, _stopping.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
        }
    }

    private async Task ReadAsync(PipeReader reader)
    {
        try
        {
            while (true)
            {
                var read = await reader.ReadAsync(_stopping.Token);
                var buffer = read.Buffer;
                var sequence = new SequenceReader<byte>(buffer);
                while (RespValue.TryRead(ref sequence, out var value))
                {
                    Dispatch(value);
                }
                reader.AdvanceTo(sequence.Position, buffer.End);
                if (read.IsCompleted)
                {
                    return;
                }
            }
        }
        finally
        {
            await reader.CompleteAsync();
        }
    }

    /// <summary>A push is <c>["message", channel, payload]</c>, or <c>["subscribe", channel, count]</c> confirming a channel.</summary>
    private void Dispatch(RespValue push)
    {
        if (push.Kind == RespKind.Error)
        {
            // A refused AUTH (or anything else refused): reconnect after the backoff rather than sit unsubscribed.
            throw new InvalidDataException("Redis refused the subscriber: " + push.Text?.Split(' ')[0]);
        }
        if (push.Items is not [{ Text: var kind }, { Text: { } channel }, var payload])
        {
            return;
        }
        if (kind == "subscribe")
        {
            if (payload.Integer == 1)
            {
                _onSubscribed?.Invoke();
            }
            _subscribed.TrySetResult();
        }
        else if (kind == "message" && payload.Bytes is { } message && _handlers.TryGetValue(channel, out var handler))
        {
            try
            {
                handler(message);
            }
            catch (Exception)
            {
                // A handler that fails on one message must not end the subscription (purges would stop arriving).
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await _loop;
        _stopping.Dispose();
    }
}
