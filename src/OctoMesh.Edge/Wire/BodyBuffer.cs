using System.Buffers;
using System.IO.Pipelines;

namespace OctoMesh.Edge.Wire;

/// <summary>How reading a request body ended.</summary>
internal enum BodyReadStatus
{
    /// <summary>The whole body is in the buffer.</summary>
    Complete,
    /// <summary>The body (or its declared Content-Length) exceeds the configured limit.</summary>
    TooLarge,
    /// <summary>The body is empty.</summary>
    Empty,
}

/// <summary>
/// A request body in one pooled, contiguous array: one copy out of Kestrel's pipe, so the inspector can
/// run <see cref="System.Text.Json.Utf8JsonReader"/> on a span and the upstream content can splice it.
/// The array goes back to the pool on <see cref="Dispose"/>.
/// </summary>
internal sealed class BodyBuffer : IDisposable
{
    private const int InitialMaxBytes = 64 * 1024;

    private byte[] _array;
    private int _length;
    private bool _pooled = true;

    private BodyBuffer(byte[] array) => _array = array;

    public ReadOnlySpan<byte> Span => _array.AsSpan(0, _length);

    public ReadOnlyMemory<byte> Memory => _array.AsMemory(0, _length);

    public int Length => _length;

    /// <summary>Reads the whole body; stops as soon as it passes <paramref name="maxBytes"/>.</summary>
    public static async ValueTask<(BodyReadStatus Status, BodyBuffer? Buffer)> ReadAsync(
        PipeReader reader, long? contentLength, long maxBytes, CancellationToken cancellationToken)
    {
        if (contentLength > maxBytes)
        {
            // A body that is too large but close: take it in and drop it, so the answer is not lost to a reset.
            if (contentLength <= maxBytes + DrainBytes)
            {
                await DrainAsync(reader, completed: false, cancellationToken);
            }
            return (BodyReadStatus.TooLarge, null);
        }
        if (contentLength == 0)
        {
            return (BodyReadStatus.Empty, null);
        }

        // A declared length is a promise, not bytes: start at most at 64 KB and grow as data arrives.
        var body = new BodyBuffer(ArrayPool<byte>.Shared.Rent((int)Math.Min(Math.Min(contentLength ?? 4096, maxBytes), InitialMaxBytes)));
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(cancellationToken);
                var buffer = result.Buffer;
                if (body._length + buffer.Length > maxBytes)
                {
                    reader.AdvanceTo(buffer.End);
                    body.Dispose();
                    await DrainAsync(reader, result.IsCompleted, cancellationToken);
                    return (BodyReadStatus.TooLarge, null);
                }
                body.Append(buffer);
                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch
        {
            body.Dispose();
            throw;
        }

        if (body._length == 0)
        {
            body.Dispose();
            return (BodyReadStatus.Empty, null);
        }
        return (BodyReadStatus.Complete, body);
    }

    /// <summary>
    /// How much of an oversized body is read and dropped after the limit, so the 413 reaches the client:
    /// closing a connection with unread bytes makes the kernel send a reset, which can overtake the answer.
    /// A larger body gets the reset (the server's limit is this much above the configured one).
    /// </summary>
    public const long DrainBytes = 1024 * 1024;

    private static async ValueTask DrainAsync(PipeReader reader, bool completed, CancellationToken cancellationToken)
    {
        long drained = 0;
        while (!completed && drained < DrainBytes)
        {
            var result = await reader.ReadAsync(cancellationToken);
            drained += result.Buffer.Length;
            reader.AdvanceTo(result.Buffer.End);
            completed = result.IsCompleted;
        }
    }

    /// <summary>Wraps bytes already in hand (tests, benchmarks); the array is not returned to the pool.</summary>
    public static BodyBuffer From(byte[] bytes) => new(bytes) { _length = bytes.Length, _pooled = false };

    private void Append(in ReadOnlySequence<byte> data)
    {
        var needed = _length + (int)data.Length;
        if (needed > _array.Length)
        {
            var larger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, _array.Length * 2));
            _array.AsSpan(0, _length).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_array);
            _array = larger;
        }
        data.CopyTo(_array.AsSpan(_length));
        _length = needed;
    }

    /// <summary>Lets the array go without returning it to the pool: something may still read it (see <see cref="SplicedContent.TryRelease"/>).</summary>
    public void Abandon()
    {
        _pooled = false;
        Dispose();
    }

    public void Dispose()
    {
        var array = _array;
        _array = [];
        _length = 0;
        if (_pooled && array.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(array);
        }
    }
}
