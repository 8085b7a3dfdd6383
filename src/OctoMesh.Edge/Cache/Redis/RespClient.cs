using OctoMesh.Routing.Configuration;
using System.Buffers;
using System.Buffers.Text;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;

namespace OctoMesh.Edge.Cache.Redis;

/// <summary>Redis could not be reached, or the connection broke with this command in flight.</summary>
internal sealed class RedisUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Redis answered with an error reply.</summary>
internal sealed class RedisErrorException(string message) : Exception(message);

/// <summary>Timeouts and reconnect pacing of a <see cref="RespClient"/>.</summary>
/// <param name="CommandTimeout">How long a command waits for its reply before it fails (the reply, if it comes, is discarded).</param>
/// <param name="MaxBackoff">After a failed connect, no new attempt for a backoff that doubles from 50 ms up to this.</param>
/// <param name="Credentials">Sent with <c>AUTH</c> on every new connection, when Redis asks for a password.</param>
internal sealed record RespOptions(TimeSpan ConnectTimeout, TimeSpan CommandTimeout, TimeSpan MaxBackoff, RedisCredentials? Credentials = null)
{
    public static RespOptions Default { get; } = new(TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(5));

    /// <summary>The <c>AUTH</c> command for <paramref name="credentials"/>: <c>AUTH password</c>, or <c>AUTH user password</c> with an ACL user.</summary>
    public static object[] Auth(RedisCredentials credentials) =>
        credentials.User is { } user ? ["AUTH", user, credentials.Password] : ["AUTH", credentials.Password];
}

/// <summary>
/// A compact Redis client (RESP2) over System.IO.Pipelines, where a .NET Redis client would plug in (none is
/// in the registry). One connection, pipelined: any number of callers write commands in turn and one reader
/// completes their replies in order. A broken connection fails the commands in flight; the next command
/// reconnects, at most once per backoff (50 ms doubling to <see cref="RespOptions.MaxBackoff"/>), failing fast in
/// between, so a Redis that is down costs callers nothing but an exception they can fall back on.
/// </summary>
internal sealed class RespClient : IAsyncDisposable
{
    private readonly string _host;
    private readonly int _port;
    private readonly RespOptions _options;
    private readonly SemaphoreSlim _connecting = new(1, 1);
    private readonly SemaphoreSlim _writing = new(1, 1);
    private Connection? _connection;
    private long _retryAt;
    private TimeSpan _backoff = TimeSpan.FromMilliseconds(50);
    private bool _disposed;

    /// <summary>Host and port of a <c>host:port</c> address (as the configuration checked it).</summary>
    public static (string Host, int Port) SplitAddress(string address)
    {
        var colon = address.LastIndexOf(':');
        return (address[..colon], int.Parse(address.AsSpan(colon + 1), System.Globalization.CultureInfo.InvariantCulture));
    }

    public RespClient(string host, int port, RespOptions? options = null)
    {
        _host = host;
        _port = port;
        _options = options ?? RespOptions.Default;
    }

    public bool IsConnected => _connection is { Broken: false };

    public async Task<bool> PingAsync(CancellationToken cancellationToken = default) =>
        (await ExecuteAsync(["PING"], cancellationToken)).Text == "PONG";

    /// <summary>The value of <paramref name="key"/>, or null when there is none.</summary>
    public async Task<byte[]?> GetAsync(string key, CancellationToken cancellationToken = default) =>
        Check(await ExecuteAsync(["GET", key], cancellationToken)).Bytes;

    /// <summary>Sets <paramref name="key"/>, expiring after <paramref name="expiry"/> when given (PX).</summary>
    public async Task SetAsync(string key, ReadOnlyMemory<byte> value, TimeSpan? expiry = null, CancellationToken cancellationToken = default) =>
        Check(await ExecuteAsync(expiry is { } px
            ? ["SET", key, value, "PX", (long)Math.Max(1, px.TotalMilliseconds)]
            : ["SET", key, value], cancellationToken));

    /// <summary>Deletes the keys; returns how many existed.</summary>
    public async Task<long> DelAsync(string[] keys, CancellationToken cancellationToken = default) =>
        Check(await ExecuteAsync(["DEL", .. keys], cancellationToken)).Integer;

    /// <summary>Publishes <paramref name="message"/>; returns how many subscribers received it.</summary>
    public async Task<long> PublishAsync(string channel, ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default) =>
        Check(await ExecuteAsync(["PUBLISH", channel, message], cancellationToken)).Integer;

    /// <summary>Runs a Lua script by its SHA1 (EVALSHA), sending its text once when Redis does not have it yet (NOSCRIPT → EVAL).</summary>
    public async Task<RespValue> EvalAsync(RespScript script, string[] keys, object[] args, CancellationToken cancellationToken = default)
    {
        var reply = await ExecuteAsync(["EVALSHA", script.Sha1, (long)keys.Length, .. keys, .. args], cancellationToken);
        if (reply.Kind == RespKind.Error && reply.Text!.StartsWith("NOSCRIPT", StringComparison.Ordinal))
        {
            reply = await ExecuteAsync(["EVAL", script.Text, (long)keys.Length, .. keys, .. args], cancellationToken);
        }
        return Check(reply);
    }

    /// <summary>The reply, unless it is an error reply.</summary>
    private static RespValue Check(RespValue reply) =>
        reply.Kind == RespKind.Error ? throw new RedisErrorException(reply.Text!) : reply;

    /// <summary>
    /// Sends one command (arguments: <see cref="string"/>, <see cref="long"/>, <see cref="byte"/>[] or
    /// <see cref="ReadOnlyMemory{T}"/> of bytes) and returns its reply; an error reply is returned, not thrown.
    /// </summary>
    /// <exception cref="RedisUnavailableException">No connection, it broke, or the reply took longer than the command timeout.</exception>
    public async Task<RespValue> ExecuteAsync(object[] args, CancellationToken cancellationToken = default)
    {
        var connection = await ConnectAsync(cancellationToken);
        var reply = new TaskCompletionSource<RespValue>(TaskCreationOptions.RunContinuationsAsynchronously);
        // Writing is bounded too: a Redis that stops reading fills the socket, and no caller may wait on it longer
        // than a command may take (the connection is then broken, and the next command reconnects after the backoff).
        using var writeTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        writeTimeout.CancelAfter(_options.CommandTimeout);
        try
        {
            await _writing.WaitAsync(writeTimeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new RedisUnavailableException($"Redis at {_host}:{_port} is not taking commands");
        }
        try
        {
            // In the queue before on the wire: the reader matches replies to commands in order.
            connection.Pending.Enqueue(reply);
            Write(connection.Writer, args);
            var flushed = await connection.Writer.FlushAsync(writeTimeout.Token);
            if (flushed.IsCompleted)
            {
                throw new RedisUnavailableException("the connection to Redis closed");
            }
        }
        catch (Exception e) when (e is IOException or SocketException or InvalidOperationException
            || e is OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            connection.Break(e);
            throw new RedisUnavailableException($"writing to Redis at {_host}:{_port} failed: {e.Message}", e);
        }
        finally
        {
            _writing.Release();
        }
        if (connection.Broken)
        {
            // The connection broke while this command was being written: the reader may never see it.
            reply.TrySetException(new RedisUnavailableException("the connection to Redis broke"));
        }
        try
        {
            return await reply.Task.WaitAsync(_options.CommandTimeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            throw new RedisUnavailableException($"Redis at {_host}:{_port} did not answer within {_options.CommandTimeout.TotalMilliseconds:0} ms");
        }
    }

    private async ValueTask<Connection> ConnectAsync(CancellationToken cancellationToken)
    {
        if (_connection is { Broken: false } live)
        {
            return live;
        }
        // Bounded: callers never queue longer behind a connect (and its AUTH) than one of them may take.
        if (!await _connecting.WaitAsync(_options.ConnectTimeout + _options.CommandTimeout, cancellationToken))
        {
            throw new RedisUnavailableException($"Redis at {_host}:{_port} is still being connected to");
        }
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_connection is { Broken: false } connected)
            {
                return connected;
            }
            if (Environment.TickCount64 < Interlocked.Read(ref _retryAt))
            {
                throw new RedisUnavailableException($"Redis at {_host}:{_port} is unavailable; next try in {Interlocked.Read(ref _retryAt) - Environment.TickCount64} ms");
            }
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(_options.ConnectTimeout);
                await socket.ConnectAsync(_host, _port, timeout.Token);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                socket.Dispose();
                Interlocked.Exchange(ref _retryAt, Environment.TickCount64 + (long)_backoff.TotalMilliseconds);
                _backoff = TimeSpan.FromTicks(Math.Min(_backoff.Ticks * 2, _options.MaxBackoff.Ticks));
                throw new RedisUnavailableException($"cannot connect to Redis at {_host}:{_port}: {e.Message}", e);
            }
            var connection = new Connection(socket);
            if (_options.Credentials is { } credentials)
            {
                await AuthenticateAsync(connection, credentials, cancellationToken);
            }
            _backoff = TimeSpan.FromMilliseconds(50);
            _connection = connection;
            return connection;
        }
        finally
        {
            _connecting.Release();
        }
    }

    /// <summary>
    /// Sends <c>AUTH</c> on a new connection before anyone else may use it. A refusal or no answer breaks the connection and
    /// starts the backoff, as a failed connect does (the password never appears in the error).
    /// </summary>
    private async Task AuthenticateAsync(Connection connection, RedisCredentials credentials, CancellationToken cancellationToken)
    {
        var reply = new TaskCompletionSource<RespValue>(TaskCreationOptions.RunContinuationsAsynchronously);
        connection.Pending.Enqueue(reply);
        string? failure = null;
        Exception? cause = null;
        try
        {
            Write(connection.Writer, RespOptions.Auth(credentials));
            await connection.Writer.FlushAsync(cancellationToken);
            var answer = await reply.Task.WaitAsync(_options.CommandTimeout, cancellationToken);
            if (answer.Kind == RespKind.Error)
            {
                failure = $"refused the credentials: {answer.Text?.Split(' ')[0]}";
            }
        }
        catch (Exception e) when (e is IOException or SocketException or InvalidOperationException or TimeoutException
            or RedisUnavailableException or OperationCanceledException)
        {
            (failure, cause) = ("did not accept the credentials in time", e);
        }
        if (failure is not null)
        {
            connection.Break(cause ?? new RedisErrorException(failure));
            Interlocked.Exchange(ref _retryAt, Environment.TickCount64 + (long)_backoff.TotalMilliseconds);
            _backoff = TimeSpan.FromTicks(Math.Min(_backoff.Ticks * 2, _options.MaxBackoff.Ticks));
            throw new RedisUnavailableException($"Redis at {_host}:{_port} {failure}", cause);
        }
    }

    /// <summary>Writes <c>*N CRLF</c> then each argument as a bulk string.</summary>
    internal static void Write(PipeWriter writer, object[] args)
    {
        WriteHeader(writer, (byte)'*', args.Length);
        Span<byte> digits = stackalloc byte[20];
        foreach (var arg in args)
        {
            switch (arg)
            {
                case string text:
                    var length = Encoding.UTF8.GetByteCount(text);
                    WriteHeader(writer, (byte)'$', length);
                    Encoding.UTF8.GetBytes(text, writer);
                    break;
                case long number:
                    Utf8Formatter.TryFormat(number, digits, out var written);
                    WriteHeader(writer, (byte)'$', written);
                    writer.Write(digits[..written]);
                    break;
                case byte[] bytes:
                    WriteHeader(writer, (byte)'$', bytes.Length);
                    writer.Write(bytes);
                    break;
                case ReadOnlyMemory<byte> memory:
                    WriteHeader(writer, (byte)'$', memory.Length);
                    writer.Write(memory.Span);
                    break;
                default:
                    throw new ArgumentException($"a Redis argument is a string, long or bytes, not {arg?.GetType().Name ?? "null"}", nameof(args));
            }
            writer.Write("\r\n"u8);
        }
    }

    private static void WriteHeader(PipeWriter writer, byte type, int count)
    {
        var span = writer.GetSpan(16);
        span[0] = type;
        Utf8Formatter.TryFormat(count, span[1..], out var written);
        span[written + 1] = (byte)'\r';
        span[written + 2] = (byte)'\n';
        writer.Advance(written + 3);
    }

    public async ValueTask DisposeAsync()
    {
        await _connecting.WaitAsync();
        _disposed = true;
        _connection?.Break(new ObjectDisposedException(nameof(RespClient)));
        _connecting.Release();
        if (_connection is { } connection)
        {
            await connection.Reading;
        }
    }

    /// <summary>One socket: its writer, the replies awaited in order, and the loop that reads them.</summary>
    private sealed class Connection
    {
        private readonly Socket _socket;
        private readonly NetworkStream _stream;
        private int _broken;

        public Connection(Socket socket)
        {
            _socket = socket;
            _stream = new NetworkStream(socket, ownsSocket: true);
            Writer = PipeWriter.Create(_stream, new StreamPipeWriterOptions(leaveOpen: true));
            Reading = Task.Run(() => ReadAsync(PipeReader.Create(_stream, new StreamPipeReaderOptions(leaveOpen: true))));
        }

        public PipeWriter Writer { get; }
        public ConcurrentQueue<TaskCompletionSource<RespValue>> Pending { get; } = new();
        public Task Reading { get; }
        public bool Broken => Volatile.Read(ref _broken) == 1;

        private async Task ReadAsync(PipeReader reader)
        {
            try
            {
                while (true)
                {
                    var read = await reader.ReadAsync();
                    var buffer = read.Buffer;
                    var sequence = new SequenceReader<byte>(buffer);
                    while (RespValue.TryRead(ref sequence, out var value))
                    {
                        if (Pending.TryDequeue(out var reply))
                        {
                            // A command that timed out has given up on its reply: it is dropped here.
                            reply.TrySetResult(value);
                        }
                    }
                    reader.AdvanceTo(sequence.Position, buffer.End);
                    if (read.IsCompleted)
                    {
                        Break(new IOException("Redis closed the connection"));
                        return;
                    }
                }
            }
            catch (Exception e) when (e is IOException or SocketException or InvalidDataException or ObjectDisposedException or InvalidOperationException)
            {
                Break(e);
            }
            finally
            {
                await reader.CompleteAsync();
            }
        }

        /// <summary>Closes the socket and fails every command still waiting for a reply.</summary>
        public void Break(Exception cause)
        {
            if (Interlocked.Exchange(ref _broken, 1) == 1)
            {
                return;
            }
            _socket.Dispose();
            while (Pending.TryDequeue(out var reply))
            {
                reply.TrySetException(new RedisUnavailableException($"the connection to Redis broke: {cause.Message}", cause));
            }
        }
    }
}

/// <summary>A Lua script and its SHA1, for <see cref="RespClient.EvalAsync"/>.</summary>
internal sealed class RespScript(string text)
{
    public string Text { get; } = text;
    public string Sha1 { get; } = Convert.ToHexString(System.Security.Cryptography.SHA1.HashData(Encoding.UTF8.GetBytes(text))).ToLowerInvariant();
}
