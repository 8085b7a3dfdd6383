using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.Features;

namespace OctoMesh.Edge.Cache;

/// <summary>
/// Stands in for the response body while an answer that may be cached is sent: every byte written (through
/// the writer or the stream) still goes to the client, and a copy is kept, up to <see cref="Limit"/> bytes
/// (past that the answer is not cached). With a <see cref="LiveAnswer"/>, the bytes also go to the requests
/// following this one, as they are written (<paramref name="onFirstBytes"/> tells it the status first).
/// </summary>
internal sealed class CapturingBodyFeature(IHttpResponseBodyFeature inner, int limit, LiveAnswer? live = null, Action? onFirstBytes = null)
    : IHttpResponseBodyFeature
{
    /// <summary>The copy, when no live answer holds it already (one copy of a stream, not two).</summary>
    private readonly ArrayBufferWriter<byte>? _copy = live is null ? new() : null;
    private long _written;
    private TeeWriter? _writer;
    private TeeStream? _stream;

    public int Limit { get; } = limit;

    /// <summary>The body feature this one stands in for, put back once the answer is sent.</summary>
    public IHttpResponseBodyFeature Inner => inner;

    /// <summary>The bytes the client was sent, or null when there were more than <see cref="Limit"/>.</summary>
    public byte[]? Captured => Overflowed ? null : live?.Snapshot() ?? _copy!.WrittenSpan.ToArray();

    private bool Overflowed { get; set; }

    private void Keep(ReadOnlySpan<byte> bytes)
    {
        if (_written == 0)
        {
            onFirstBytes?.Invoke();
        }
        _written += bytes.Length;
        Overflowed |= _written > Limit;
        // Followers get every byte (the live answer has a bound of its own), whether or not it can be kept.
        live?.Append(bytes);
        if (!Overflowed)
        {
            _copy?.Write(bytes);
        }
    }

    public Stream Stream => _stream ??= new TeeStream(this, inner.Stream);
    public PipeWriter Writer => _writer ??= new TeeWriter(this, inner.Writer);
    public void DisableBuffering() => inner.DisableBuffering();
    public Task StartAsync(CancellationToken cancellationToken = default) => inner.StartAsync(cancellationToken);
    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default)
    {
        Overflowed = true;
        return inner.SendFileAsync(path, offset, count, cancellationToken);
    }
    public Task CompleteAsync() => inner.CompleteAsync();

    private sealed class TeeWriter(CapturingBodyFeature owner, PipeWriter inner) : PipeWriter
    {
        private Memory<byte> _lent;

        public override Memory<byte> GetMemory(int sizeHint = 0) => _lent = inner.GetMemory(sizeHint);
        public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

        public override void Advance(int bytes)
        {
            owner.Keep(_lent.Span[..bytes]);
            _lent = default;
            inner.Advance(bytes);
        }

        public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;
        public override long UnflushedBytes => inner.UnflushedBytes;
        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);
        public override void CancelPendingFlush() => inner.CancelPendingFlush();
        public override void Complete(Exception? exception = null) => inner.Complete(exception);
        public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);
    }

    private sealed class TeeStream(CapturingBodyFeature owner, Stream inner) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            owner.Keep(buffer.AsSpan(offset, count));
            inner.Write(buffer, offset, count);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            owner.Keep(buffer.Span);
            return inner.WriteAsync(buffer, cancellationToken);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }
}
