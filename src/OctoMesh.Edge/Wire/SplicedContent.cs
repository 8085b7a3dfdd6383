using System.Net;

namespace OctoMesh.Edge.Wire;

/// <summary>
/// The upstream request body: the client's pooled bytes with a few edits spliced in as they are
/// written (model alias → upstream name, <c>stream_options.include_usage</c>). The body is never
/// re-serialised, and Content-Length is known up front.
/// </summary>
internal sealed class SplicedContent : HttpContent
{
    private static readonly System.Net.Http.Headers.MediaTypeHeaderValue s_json = new("application/json");

    private const int Idle = 0, Sending = 1, Sent = 2, Released = 3;

    private readonly ReadOnlyMemory<byte> _body;
    private readonly BodyEdit[] _edits;
    private readonly int _editCount;
    private int _state;

    /// <param name="edits">Non-overlapping, sorted by offset; only the first <paramref name="editCount"/> are used.</param>
    public SplicedContent(ReadOnlyMemory<byte> body, BodyEdit[] edits, int editCount)
    {
        _body = body;
        _edits = edits;
        _editCount = editCount;
        Headers.ContentType = s_json;
    }

    /// <summary>
    /// True when no send reads the body now or later, so its pooled array may be reused; after this,
    /// a send that has not started fails instead of reading a reused array. False while a send is
    /// still running (an upstream may answer before reading the whole body): the array must not return to the pool.
    /// </summary>
    public bool TryRelease() =>
        Interlocked.CompareExchange(ref _state, Released, Idle) is Idle or Released
        || Interlocked.CompareExchange(ref _state, Released, Sent) == Sent;

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        // Idle, or Sent when the handler retries on a fresh connection; never after the body was released.
        var state = Volatile.Read(ref _state);
        if (state is not (Idle or Sent) || Interlocked.CompareExchange(ref _state, Sending, state) != state)
        {
            throw new ObjectDisposedException(nameof(SplicedContent), "The request body was released before it was sent.");
        }
        try
        {
            await WriteAsync(stream, cancellationToken);
        }
        finally
        {
            Interlocked.CompareExchange(ref _state, Sent, Sending);
        }
    }

    private async Task WriteAsync(Stream stream, CancellationToken cancellationToken)
    {
        var position = 0;
        for (var i = 0; i < _editCount; i++)
        {
            var edit = _edits[i];
            if (edit.Offset > position)
            {
                await stream.WriteAsync(_body[position..edit.Offset], cancellationToken);
            }
            if (!edit.Insert.IsEmpty)
            {
                await stream.WriteAsync(edit.Insert, cancellationToken);
            }
            position = edit.Offset + edit.Length;
        }
        if (position < _body.Length)
        {
            await stream.WriteAsync(_body[position..], cancellationToken);
        }
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override bool TryComputeLength(out long length)
    {
        length = _body.Length;
        for (var i = 0; i < _editCount; i++)
        {
            length += _edits[i].Insert.Length - _edits[i].Length;
        }
        return true;
    }
}
