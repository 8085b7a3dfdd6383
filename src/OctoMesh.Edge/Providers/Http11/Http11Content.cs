using System.Net;

namespace OctoMesh.Edge.Providers.Http11;

/// <summary>An answer's content as <see cref="Http11Handler"/> gives it: its headers, and its body read as it arrives.</summary>
internal sealed class Http11Content(Http11BodyStream body) : HttpContent
{
    protected override Task<Stream> CreateContentReadStreamAsync() => Task.FromResult<Stream>(body);

    protected override Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) => Task.FromResult<Stream>(body);

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => body.CopyToAsync(stream);

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) =>
        body.CopyToAsync(stream, cancellationToken);

    /// <summary>Unknown here: a Content-Length the upstream sent is among the headers.</summary>
    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            body.Dispose();
        }
        base.Dispose(disposing);
    }
}
