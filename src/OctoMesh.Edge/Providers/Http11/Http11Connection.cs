using System.Buffers;
using System.Buffers.Text;
using System.Collections.Frozen;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;

namespace OctoMesh.Edge.Providers.Http11;

/// <summary>
/// One keep-alive TCP connection to a plain-http upstream, carrying one request at a time: it writes the request (head
/// and body in as few sends as fit one buffer), reads the answer's head into an <see cref="HttpResponseMessage"/>, and
/// hands the body to an <see cref="Http11BodyStream"/>, which gives the connection back to its pool once the body has
/// been read to its end (RFC 9112). The buffer is the connection's own, as SocketsHttpHandler's connections have theirs:
/// rented per request from the shared pool instead, 64 requests in flight outran what the pool keeps, and each request
/// allocated 8 KB (RSS at 64 connections 56–59 MB instead of 50–52).
/// </summary>
internal sealed class Http11Connection : IDisposable
{
    /// <summary>Room for a request's head and a JSON body, and for an answer's head; grown to <see cref="MaxHeadBytes"/> for a larger head.</summary>
    private const int BufferBytes = 8192;

    /// <summary>An answer's head longer than this is refused (SocketsHttpHandler's default limit, 64 KiB).</summary>
    private const int MaxHeadBytes = 64 * 1024;

    /// <summary>The headers that belong to the content (<c>HttpContentHeaders</c>); all others go on the response.</summary>
    private static readonly FrozenSet<string> s_contentHeaders = FrozenSet.ToFrozenSet(
    [
        "allow", "content-disposition", "content-encoding", "content-language", "content-length", "content-location",
        "content-md5", "content-range", "content-type", "expires", "last-modified",
    ], StringComparer.OrdinalIgnoreCase);

    /// <summary>Names an upstream sends on every answer, kept as strings so reading a head does not allocate them again.</summary>
    private static readonly string[] s_knownNames =
    [
        "content-type", "content-length", "date", "server", "transfer-encoding", "connection", "keep-alive", "cache-control",
        "x-request-id", "retry-after", "retry-after-ms", "openai-processing-ms", "openai-version", "request-id",
        "x-should-retry", "vary",
    ];

    /// <summary>The characters of a header name (RFC 9110 §5.1, <c>token</c>).</summary>
    private static readonly SearchValues<byte> s_tokenBytes = SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    /// <summary>
    /// What a header value may hold on the wire: visible ASCII, space and tab. CR, LF or NUL would end the head early
    /// (a value from a secret file with a trailing newline is enough) and let the rest be read as another request;
    /// SocketsHttpHandler refuses them too, and non-ASCII unless told an encoding.
    /// </summary>
    private static readonly SearchValues<char> s_fieldValueChars = SearchValues.Create("\t" + string.Concat(Enumerable.Range(' ', '~' - ' ' + 1).Select(c => (char)c)));

    private readonly Http11Handler _pool;
    private readonly Socket _socket;
    private byte[] _buffer = GC.AllocateUninitializedArray<byte>(BufferBytes);
    private int _start, _end;

    public Http11Connection(Http11Handler pool, Socket socket)
    {
        _pool = pool;
        _socket = socket;
        Opened = Environment.TickCount64;
    }

    /// <summary>When the connection was opened (<see cref="Environment.TickCount64"/>).</summary>
    public long Opened { get; }

    /// <summary>When the connection last went back to the pool.</summary>
    public long IdleSince { get; set; }

    /// <summary>A byte of the answer has arrived. Before that, a reused connection that fails was closed by the upstream while idle.</summary>
    public bool AnswerStarted { get; private set; }

    /// <summary>True when the upstream has not closed the connection (or sent anything) while it sat idle. One poll, no wait.</summary>
    public bool LooksOpen()
    {
        try
        {
            return !_socket.Poll(0, SelectMode.SelectRead);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>
    /// Sends <paramref name="request"/> and reads the answer's head. Failures are <see cref="HttpRequestException"/>
    /// (or <see cref="OperationCanceledException"/> for <paramref name="cancellationToken"/>), as from <c>SocketsHttpHandler</c>.
    /// </summary>
    public async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        _start = _end = 0;
        AnswerStarted = false;
        Exception? sendFailed = null;
        try
        {
            await WriteRequestAsync(request, cancellationToken);
        }
        catch (Exception e) when (e is SocketException or IOException)
        {
            // The upstream may have answered and stopped reading (a 413 for a body too large): its answer is still read.
            sendFailed = e;
        }
        // What a failed send left in the buffer is the request's, not the answer's.
        _start = _end = 0;
        try
        {
            // The answer's head (and any interim 1xx before it), read here rather than in a method of its own: the
            // receive almost always waits, and each async frame that waits is an allocation and a resumption.
            while (true)
            {
                var headLength = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8);
                if (headLength < 0)
                {
                    if (_end - _start >= MaxHeadBytes)
                    {
                        throw new HttpRequestException(HttpRequestError.ConfigurationLimitExceeded, $"The upstream's answer has a head over {MaxHeadBytes} bytes.");
                    }
                    MakeRoom();
                    var read = await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancellationToken);
                    if (read == 0)
                    {
                        throw sendFailed is null
                            ? new HttpRequestException(HttpRequestError.ResponseEnded, "The upstream closed the connection before it answered.")
                            : new HttpRequestException(HttpRequestError.ConnectionError, $"The connection to the upstream failed: {sendFailed.Message}", sendFailed);
                    }
                    AnswerStarted = true;
                    _end += read;
                    continue;
                }
                var head = _buffer.AsSpan(_start, headLength + 2);
                _start += headLength + 4;
                if (ParseHead(request, head, reusable: sendFailed is null) is { } response)
                {
                    return response;
                }
            }
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
        {
            throw new HttpRequestException(HttpRequestError.ConnectionError, $"The connection to the upstream failed: {(sendFailed ?? e).Message}", sendFailed ?? e);
        }
    }

    // Writing the request -------------------------------------------------------------------------------------------

    private async Task WriteRequestAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var content = request.Content;
        var length = content is null ? 0 : content.Headers.ContentLength;
        WriteHead(request, length);
        if (content is not null)
        {
            var body = new RequestBodyStream(this, length);
            await content.CopyToAsync(body, cancellationToken);
            if (length is null)
            {
                Append("0\r\n\r\n"u8);
            }
            else if (body.Written != length)
            {
                // Fewer bytes than declared: the upstream would take the next request's for the rest.
                throw BodyLengthMismatch();
            }
        }
        await FlushAsync(cancellationToken);
    }

    /// <summary>
    /// <c>POST /v1/chat/completions HTTP/1.1</c>, Host, the request's and its content's headers as they were added
    /// (the forwarding policy chose them), and the body's framing: Content-Length when known, chunked when not.
    /// </summary>
    private void WriteHead(HttpRequestMessage request, long? length)
    {
        var uri = request.RequestUri!;
        AppendLatin1(request.Method.Method);
        Append(" "u8);
        AppendLatin1(uri.PathAndQuery);
        Append(" HTTP/1.1\r\nHost: "u8);
        AppendLatin1(request.Headers.Host ?? uri.Authority);
        Append("\r\n"u8);
        WriteHeaders(request.Headers);
        if (request.Content is { } content)
        {
            WriteHeaders(content.Headers);
        }
        if (length is { } bytes)
        {
            Append("Content-Length: "u8);
            Reserve(20);
            Utf8Formatter.TryFormat(bytes, _buffer.AsSpan(_end), out var written);
            _end += written;
            Append("\r\n\r\n"u8);
        }
        else
        {
            Append("Transfer-Encoding: chunked\r\n\r\n"u8);
        }
    }

    private void WriteHeaders(HttpHeaders headers)
    {
        foreach (var (name, values) in headers.NonValidated)
        {
            if (name.Equals("Host", StringComparison.OrdinalIgnoreCase) || name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)
                || name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }
            foreach (var value in values)
            {
                if (value.AsSpan().ContainsAnyExcept(s_fieldValueChars))
                {
                    throw new HttpRequestException(HttpRequestError.Unknown,
                        $"The request header '{name}' has a value with CR, LF, NUL or non-ASCII characters; the request was not sent.");
                }
                AppendLatin1(name);
                Append(": "u8);
                AppendLatin1(value);
                Append("\r\n"u8);
            }
        }
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        Reserve(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_end));
        _end += bytes.Length;
    }

    private void AppendLatin1(string text)
    {
        Reserve(text.Length);
        _end += Encoding.Latin1.GetBytes(text, _buffer.AsSpan(_end));
    }

    /// <summary>Room for <paramref name="bytes"/> more in the buffer, grown (a request's head may be long).</summary>
    private void Reserve(int bytes)
    {
        if (_buffer.Length - _end >= bytes)
        {
            return;
        }
        var larger = GC.AllocateUninitializedArray<byte>(Math.Max(_buffer.Length * 2, _end + bytes));
        _buffer.AsSpan(0, _end).CopyTo(larger);
        _buffer = larger;
    }

    private async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        for (var sent = 0; sent < _end; )
        {
            sent += await _socket.SendAsync(_buffer.AsMemory(sent, _end - sent), SocketFlags.None, cancellationToken);
        }
        _end = 0;
    }

    [StackTraceHidden]
    private static HttpRequestException BodyLengthMismatch() =>
        new(HttpRequestError.Unknown, "The request body's length is not the Content-Length it declared; the request was not completed.");

    /// <summary>
    /// The request body, written into the connection's buffer and sent when it is full: in chunks when its length is
    /// unknown, else held to the length it declared.
    /// </summary>
    private sealed class RequestBodyStream(Http11Connection connection, long? length) : Stream
    {
        /// <summary>Body bytes written so far.</summary>
        public long Written { get; private set; }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
        {
            if (data.IsEmpty)
            {
                return;
            }
            if (Written + data.Length > length)
            {
                throw BodyLengthMismatch();
            }
            Written += data.Length;
            var chunked = length is null;
            if (chunked)
            {
                connection.Reserve(10);
                Utf8Formatter.TryFormat(data.Length, connection._buffer.AsSpan(connection._end), out var written, new StandardFormat('X'));
                connection._end += written;
                connection.Append("\r\n"u8);
            }
            if (connection._buffer.Length - connection._end < data.Length)
            {
                await connection.FlushAsync(cancellationToken);
            }
            if (connection._buffer.Length < data.Length)
            {
                // Larger than the buffer: sent as it is, not copied.
                for (var sent = 0; sent < data.Length; )
                {
                    sent += await connection._socket.SendAsync(data[sent..], SocketFlags.None, cancellationToken);
                }
            }
            else
            {
                connection.Append(data.Span);
            }
            if (chunked)
            {
                connection.Append("\r\n"u8);
            }
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count) =>
            throw new NotSupportedException("The request body is written asynchronously.");

        public override void Flush()
        {
        }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }

    // Reading the answer --------------------------------------------------------------------------------------------

    /// <summary>
    /// Status line and header fields (RFC 9112 §4, §5), and the body's framing from them (§6.3): the answer, or null
    /// for an interim 1xx answer (skipped; the real one follows).
    /// </summary>
    private HttpResponseMessage? ParseHead(HttpRequestMessage request, ReadOnlySpan<byte> head, bool reusable)
    {
        var lineEnd = head.IndexOf("\r\n"u8);
        var statusLine = head[..lineEnd];
        // HTTP/1.x SSS[ reason]
        if (statusLine.Length < 12 || !statusLine.StartsWith("HTTP/1."u8) || statusLine[8] != ' '
            || !Utf8Parser.TryParse(statusLine.Slice(9, 3), out int status, out var digits) || digits != 3 || status < 100
            || (statusLine.Length > 12 && statusLine[12] != ' '))
        {
            throw Invalid("its status line is not HTTP/1.x");
        }
        if (status == 101)
        {
            throw Invalid("it switched protocols, which was not asked for");
        }
        if (status < 200)
        {
            return null;
        }
        var http10 = statusLine[7] == '0';
        bool close = false, keepAliveAsked = false;
        long? contentLength = null;
        var chunked = false;
        var transferEncoding = false;

        var body = new Http11BodyStream(this);
        var content = new Http11Content(body);
        var response = new HttpResponseMessage((HttpStatusCode)status)
        {
            Version = http10 ? HttpVersion.Version10 : HttpVersion.Version11,
            RequestMessage = request,
            Content = content,
        };
        for (var rest = head[(lineEnd + 2)..]; !rest.IsEmpty; )
        {
            lineEnd = rest.IndexOf("\r\n"u8);
            var line = rest[..lineEnd];
            rest = rest[(lineEnd + 2)..];
            var colon = line.IndexOf((byte)':');
            var nameBytes = colon > 0 ? line[..colon] : default;
            if (nameBytes.IsEmpty || nameBytes.ContainsAnyExcept(s_tokenBytes))
            {
                throw Invalid("a header line is malformed");
            }
            var valueBytes = line[(colon + 1)..].Trim(" \t"u8);
            if (Ascii.EqualsIgnoreCase(nameBytes, "content-length"u8))
            {
                if (!Utf8Parser.TryParse(valueBytes, out long parsed, out var used) || used != valueBytes.Length || parsed < 0
                    || (contentLength is { } earlier && earlier != parsed))
                {
                    throw Invalid("its Content-Length is not a length");
                }
                contentLength = parsed;
            }
            else if (Ascii.EqualsIgnoreCase(nameBytes, "transfer-encoding"u8))
            {
                // The last coding decides (several lines make one list, the last line's last token ends it).
                transferEncoding = true;
                chunked = Ascii.EqualsIgnoreCase(valueBytes[(valueBytes.LastIndexOf((byte)',') + 1)..].Trim(" \t"u8), "chunked"u8);
            }
            else if (Ascii.EqualsIgnoreCase(nameBytes, "connection"u8))
            {
                close |= ContainsToken(valueBytes, "close"u8);
                keepAliveAsked |= ContainsToken(valueBytes, "keep-alive"u8);
            }
            var name = NameOf(nameBytes);
            var headers = s_contentHeaders.Contains(name) ? (HttpHeaders)content.Headers : response.Headers;
            headers.TryAddWithoutValidation(name, Encoding.Latin1.GetString(valueBytes));
        }

        // Reused only when nothing says otherwise: close wins; HTTP/1.0 must ask; Transfer-Encoding with Content-Length, or
        // in an HTTP/1.0 answer, closes after the answer (RFC 9112 §6.1, §6.3); and never after a request that failed to go out.
        var keepAlive = reusable && !close && (!http10 || keepAliveAsked) && !(transferEncoding && (contentLength is not null || http10));
        if (status is 204 or 304 || request.Method == HttpMethod.Head)
        {
            body.Start(Http11BodyStream.Framing.Length, 0, keepAlive);
        }
        else if (transferEncoding)
        {
            // Transfer-Encoding wins over Content-Length (§6.3); a coding other than chunked last runs to the close.
            content.Headers.Remove("Content-Length");
            body.Start(chunked ? Http11BodyStream.Framing.Chunked : Http11BodyStream.Framing.UntilClose, 0, chunked && keepAlive);
        }
        else if (contentLength is { } bytes)
        {
            body.Start(Http11BodyStream.Framing.Length, bytes, keepAlive);
        }
        else
        {
            body.Start(Http11BodyStream.Framing.UntilClose, 0, keepAlive: false);
        }
        return response;
    }

    private static bool ContainsToken(ReadOnlySpan<byte> value, ReadOnlySpan<byte> token)
    {
        foreach (var range in value.Split((byte)','))
        {
            if (Ascii.EqualsIgnoreCase(value[range].Trim(" \t"u8), token))
            {
                return true;
            }
        }
        return false;
    }

    private static string NameOf(ReadOnlySpan<byte> name)
    {
        foreach (var known in s_knownNames)
        {
            if (Ascii.EqualsIgnoreCase(name, known))
            {
                return known;
            }
        }
        return Encoding.Latin1.GetString(name);
    }

    [StackTraceHidden]
    private static HttpRequestException Invalid(string why) =>
        new(HttpRequestError.InvalidResponse, $"The upstream's answer is not valid HTTP/1.1: {why}.");

    // Primitives for the body stream -------------------------------------------------------------------------------

    /// <summary>Reads more from the socket into the buffer; false at the end of the stream.</summary>
    public async ValueTask<bool> FillAsync(CancellationToken cancellationToken)
    {
        MakeRoom();
        var read = await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancellationToken);
        if (read == 0)
        {
            return false;
        }
        AnswerStarted = true;
        _end += read;
        return true;
    }

    /// <summary>Room at the buffer's end: what is unread moved to its start, or the buffer grown when it is all unread.</summary>
    private void MakeRoom()
    {
        if (_start == _end)
        {
            _start = _end = 0;
        }
        if (_end < _buffer.Length)
        {
            return;
        }
        if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            (_start, _end) = (0, _end - _start);
        }
        else
        {
            Reserve(_buffer.Length);
        }
    }

    /// <summary>The bytes read and not yet consumed.</summary>
    public ReadOnlySpan<byte> Unread => _buffer.AsSpan(_start, _end - _start);

    public void Consume(int bytes) => _start += bytes;

    /// <summary>
    /// Body bytes into <paramref name="destination"/>, which the caller has cut to what is left of the body or the chunk:
    /// those already read first. Else a destination at least as large as the buffer is received into straight (a
    /// large body, no copy); a smaller one is filled through the buffer, so that one receive also takes what follows
    /// (a chunk's end and the next chunk's size line: a stream's events are small chunks, and two receives each
    /// cost more than the copy). 0 at the end of the stream.
    /// </summary>
    public async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        if (_end == _start)
        {
            if (destination.Length >= _buffer.Length)
            {
                return await _socket.ReceiveAsync(destination, SocketFlags.None, cancellationToken);
            }
            if (!await FillAsync(cancellationToken))
            {
                return 0;
            }
        }
        var count = Math.Min(destination.Length, _end - _start);
        _buffer.AsSpan(_start, count).CopyTo(destination.Span);
        _start += count;
        return count;
    }

    /// <summary>The answer has been read to its end: back to the pool if it may carry another request, else closed.</summary>
    public void Release(bool reusable)
    {
        if (reusable)
        {
            _pool.Return(this);
        }
        else
        {
            _socket.Dispose();
        }
    }

    public void Dispose() => _socket.Dispose();
}
