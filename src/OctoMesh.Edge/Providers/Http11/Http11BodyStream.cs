using System.Buffers.Text;
using System.Diagnostics;
using System.Net.Sockets;

namespace OctoMesh.Edge.Providers.Http11;

/// <summary>
/// An answer's body as it arrives on its <see cref="Http11Connection"/>: bytes already read first, then straight from
/// the socket into the reader's buffer. Framed by length, by chunks or by the close (RFC 9112 §6.3, §7.1). At the
/// body's end the connection goes back to its pool (or is closed); disposed before that, it is closed.
/// </summary>
internal sealed class Http11BodyStream(Http11Connection connection) : Stream
{
    /// <summary>How the body's end is known.</summary>
    public enum Framing
    {
        /// <summary>Content-Length bytes (none for 204, 304 and HEAD).</summary>
        Length,
        /// <summary>Transfer-Encoding: chunked, ending with a chunk of size 0 and the trailer fields.</summary>
        Chunked,
        /// <summary>Neither: the body runs until the upstream closes the connection, which then cannot be reused.</summary>
        UntilClose,
    }

    /// <summary>A chunk-size line or trailer field longer than this is refused.</summary>
    private const int MaxLineBytes = 8192;

    private Http11Connection? _connection = connection;
    private Framing _framing;
    private long _remaining;
    private bool _keepAlive;
    private bool _chunkEndPending;
    private bool _inTrailers;

    /// <summary>Sets the framing read from the head; an empty body gives the connection back at once.</summary>
    public void Start(Framing framing, long length, bool keepAlive)
    {
        (_framing, _remaining, _keepAlive) = (framing, length, keepAlive);
        if (framing == Framing.Length && length == 0)
        {
            Finish(keepAlive);
        }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        if (_connection is not { } connection || destination.IsEmpty)
        {
            return 0;
        }
        try
        {
            int read;
            switch (_framing)
            {
                case Framing.Length:
                    read = await connection.ReadAsync(destination[..(int)Math.Min(destination.Length, _remaining)], cancellationToken);
                    if (read == 0)
                    {
                        throw Ended();
                    }
                    if ((_remaining -= read) == 0)
                    {
                        Finish(_keepAlive);
                    }
                    return read;
                case Framing.Chunked:
                    // As many chunks as have arrived, up to the destination's size: a stream's events are one chunk
                    // each, and giving them one by one would have the relay write each to the client on its own.
                    var total = 0;
                    while (total < destination.Length)
                    {
                        if (_remaining == 0)
                        {
                            var step = total == 0 ? await NextChunkAsync(connection, cancellationToken) : TryNextChunk(connection);
                            if (step == ChunkStep.End)
                            {
                                Finish(_keepAlive);
                                return total;
                            }
                            if (step == ChunkStep.More)
                            {
                                break;
                            }
                        }
                        if (total > 0 && connection.Unread.IsEmpty)
                        {
                            // What has arrived is given now; the rest is not waited for.
                            break;
                        }
                        read = await connection.ReadAsync(destination.Slice(total, (int)Math.Min(destination.Length - total, _remaining)), cancellationToken);
                        if (read == 0)
                        {
                            throw Ended();
                        }
                        _remaining -= read;
                        total += read;
                    }
                    return total;
                default:
                    read = await connection.ReadAsync(destination, cancellationToken);
                    if (read == 0)
                    {
                        Finish(reusable: false);
                    }
                    return read;
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            throw new IOException($"The connection to the upstream failed while its answer was read: {e.Message}", e);
        }
    }

    /// <summary>What <see cref="TryNextChunk"/> found.</summary>
    private enum ChunkStep
    {
        /// <summary>A chunk with data begins; its size is in <see cref="_remaining"/>.</summary>
        Data,
        /// <summary>The last chunk and the trailer section were read: the body has ended.</summary>
        End,
        /// <summary>More bytes must arrive first.</summary>
        More,
    }

    /// <summary>The next chunk, waiting for its size line (or the trailer section) as long as needed.</summary>
    private async ValueTask<ChunkStep> NextChunkAsync(Http11Connection connection, CancellationToken cancellationToken)
    {
        ChunkStep step;
        while ((step = TryNextChunk(connection)) == ChunkStep.More)
        {
            await FillAsync(connection, cancellationToken);
        }
        return step;
    }

    /// <summary>The next chunk from the bytes already read: its size line, or after the last chunk the trailer fields (ignored) up to an empty line.</summary>
    private ChunkStep TryNextChunk(Http11Connection connection)
    {
        if (!_inTrailers)
        {
            if (!TryReadChunkSize(connection, out var size))
            {
                return ChunkStep.More;
            }
            if (size > 0)
            {
                _remaining = size;
                _chunkEndPending = true;
                return ChunkStep.Data;
            }
            _inTrailers = true;
        }
        while (true)
        {
            var lineEnd = connection.Unread.IndexOf("\r\n"u8);
            if (lineEnd < 0)
            {
                return ChunkStep.More;
            }
            connection.Consume(lineEnd + 2);
            if (lineEnd == 0)
            {
                return ChunkStep.End;
            }
        }
    }

    /// <summary><c>[CRLF] chunk-size [; extensions] CRLF</c> from what has been read; false when more must be read first.</summary>
    private bool TryReadChunkSize(Http11Connection connection, out long size)
    {
        size = 0;
        var unread = connection.Unread;
        var offset = 0;
        if (_chunkEndPending)
        {
            if (unread.Length < 2)
            {
                return false;
            }
            if (!unread.StartsWith("\r\n"u8))
            {
                throw Invalid("a chunk is longer than its size");
            }
            offset = 2;
        }
        var lineEnd = unread[offset..].IndexOf("\r\n"u8);
        if (lineEnd < 0)
        {
            return false;
        }
        var line = unread.Slice(offset, lineEnd);
        if (line.IndexOf((byte)';') is var extensions and >= 0)
        {
            line = line[..extensions];
        }
        line = line.Trim(" \t"u8);
        if (line.IsEmpty || line.Length > 15 || !Utf8Parser.TryParse(line, out size, out var used, 'x') || used != line.Length)
        {
            throw Invalid("a chunk's size is not a hexadecimal number");
        }
        connection.Consume(offset + lineEnd + 2);
        _chunkEndPending = false;
        return true;
    }

    private static async ValueTask FillAsync(Http11Connection connection, CancellationToken cancellationToken)
    {
        if (connection.Unread.Length > MaxLineBytes)
        {
            throw Invalid("a chunk-size line or trailer field is too long");
        }
        if (!await connection.FillAsync(cancellationToken))
        {
            throw Ended();
        }
    }

    private void Finish(bool reusable)
    {
        // Taken once, by the end of the body or by Dispose, whichever comes first.
        if (Interlocked.Exchange(ref _connection, null) is { } connection)
        {
            // Bytes past the answer's end are not another answer of ours: such a connection is not reused.
            connection.Release(reusable && connection.Unread.IsEmpty);
        }
    }

    [StackTraceHidden]
    private static IOException Ended() => new("The upstream closed the connection in the middle of its answer.");

    [StackTraceHidden]
    private static IOException Invalid(string why) => new($"The upstream's answer is not valid HTTP/1.1: {why}.");

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _connection, null) is { } connection)
        {
            // Disposed before its end: what is left of the answer would be read as the next one. Closed instead.
            connection.Dispose();
        }
        base.Dispose(disposing);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) =>
        throw new NotSupportedException("An upstream's answer is read asynchronously.");

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush()
    {
    }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
