using System.Net;

namespace OctoMesh.Edge.Proxy;

/// <summary>
/// The upstream request body: the client's pooled bytes with a few edits spliced in as they are
/// written (model alias → upstream name, <c>stream_options.include_usage</c>). The body is never
/// re-serialised, and Content-Length is known up front.
/// </summary>
internal sealed class SplicedContent : HttpContent
{
    private static readonly System.Net.Http.Headers.MediaTypeHeaderValue s_json = new("application/json");

    private readonly ReadOnlyMemory<byte> _body;
    private readonly BodyEdit[] _edits;
    private readonly int _editCount;

    /// <param name="edits">Non-overlapping, sorted by offset; only the first <paramref name="editCount"/> are used.</param>
    public SplicedContent(ReadOnlyMemory<byte> body, BodyEdit[] edits, int editCount)
    {
        _body = body;
        _edits = edits;
        _editCount = editCount;
        Headers.ContentType = s_json;
    }

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
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
