using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using OctoMesh.Edge.Providers.Http11;
using Xunit;

namespace OctoMesh.Edge.Tests.Providers.Http11;

/// <summary>The gateway's HTTP/1.1 client against a scripted upstream on a real socket, byte for byte.</summary>
public sealed class Http11HandlerTests
{
    private const string Json = """{"ok":true}""";

    [Fact]
    public async Task WritesTheRequestAndKeepsOneConnectionAlive()
    {
        await using var upstream = new ScriptedUpstream(Answer(200, Json, "Content-Type: application/json", "x-request-id: up-1"));
        using var client = Client(upstream);
        for (var i = 0; i < 3; i++)
        {
            using var request = Post(upstream, """{"model":"m"}""");
            request.Headers.TryAddWithoutValidation("x-stainless-lang", "js");
            using var response = await client.SendAsync(request, CancellationToken.None);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(Json.Length, response.Content.Headers.ContentLength);
            Assert.Equal("up-1", response.Headers.GetValues("x-request-id").Single());
            Assert.Equal(Json, await response.Content.ReadAsStringAsync());
        }
        Assert.Equal(1, upstream.Accepted);
        Assert.Equal(
            $"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{upstream.Port}\r\nx-stainless-lang: js\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{{\"model\":\"m\"}}",
            upstream.Requests.First());
    }

    [Fact]
    public async Task ABodyOfUnknownLengthGoesInChunks()
    {
        await using var upstream = new ScriptedUpstream(Answer(200, Json));
        using var client = Client(upstream);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(upstream.BaseUrl, "v1/chat/completions"))
        {
            Content = new UnknownLengthContent("""{"model":"m"}"""u8.ToArray()),
        };
        using var response = await client.SendAsync(request, CancellationToken.None);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.EndsWith("Transfer-Encoding: chunked\r\n\r\nD\r\n{\"model\":\"m\"}\r\n0\r\n\r\n", upstream.Requests.Single());
    }

    [Fact]
    public async Task ReadsChunksWithExtensionsAndTrailersArrivingInPieces()
    {
        var answer = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5;name=value\r\nhello\r\na\r\n, world!!!\r\n0\r\nX-Trailer: t\r\n\r\n";
        // One byte at a time: every parse of the head, a size line or a trailer must wait for more.
        await using var upstream = new ScriptedUpstream(answer, bytesPerWrite: 1);
        using var client = Client(upstream);
        for (var i = 0; i < 2; i++)
        {
            using var response = await client.SendAsync(Post(upstream, Json), CancellationToken.None);
            Assert.Null(response.Content.Headers.ContentLength);
            Assert.Equal("hello, world!!!", await response.Content.ReadAsStringAsync());
        }
        Assert.Equal(1, upstream.Accepted);
    }

    [Fact]
    public async Task ChunksThatHaveArrivedAreReadTogether()
    {
        // A stream's events, one chunk each, that have arrived together: one read gives them all (the relay then writes
        // them to the client in one send), and the next ends the body, freeing the connection.
        await using var upstream = new ScriptedUpstream("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "7\r\ndata: 1\r\n7\r\ndata: 2\r\n7\r\ndata: 3\r\n0\r\n\r\n");
        using var client = Client(upstream);
        using var response = await client.SendAsync(Post(upstream, Json), CancellationToken.None);
        var stream = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[4096];
        // The answer is one write, so one segment on loopback: head and chunks arrive in the same receive.
        var read = await stream.ReadAsync(buffer);
        Assert.Equal("data: 1data: 2data: 3", Encoding.ASCII.GetString(buffer, 0, read));
        Assert.Equal(0, await stream.ReadAsync(buffer));
        Assert.Equal(1, ((Http11Handler)HandlerOf(client)).IdleConnections);
    }

    [Fact]
    public async Task ABodyThatRunsToTheCloseIsReadWholeAndItsConnectionNotReused()
    {
        await using var upstream = new ScriptedUpstream("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n" + Json, closeAfterAnswer: true);
        using var client = Client(upstream);
        for (var i = 0; i < 2; i++)
        {
            using var response = await client.SendAsync(Post(upstream, Json), CancellationToken.None);
            Assert.Equal(Json, await response.Content.ReadAsStringAsync());
        }
        Assert.Equal(2, upstream.Accepted);
        Assert.Equal(0, ((Http11Handler)HandlerOf(client)).IdleConnections);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", false)]
    [InlineData("HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 2\r\n\r\nok", false)]
    [InlineData("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", false)]
    [InlineData("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", true)]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true)]
    public async Task AConnectionIsKeptOnlyWhenTheAnswerAllowsIt(string answer, bool kept)
    {
        await using var upstream = new ScriptedUpstream(answer);
        using var client = Client(upstream);
        using (var response = await client.SendAsync(Post(upstream, Json), CancellationToken.None))
        {
            Assert.Equal("ok", await response.Content.ReadAsStringAsync());
        }
        Assert.Equal(kept ? 1 : 0, ((Http11Handler)HandlerOf(client)).IdleConnections);
    }

    [Fact]
    public async Task TransferEncodingWinsOverContentLengthAndTheConnectionIsNotKept()
    {
        await using var upstream = new ScriptedUpstream("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
        using var client = Client(upstream);
        using (var response = await client.SendAsync(Post(upstream, Json), CancellationToken.None))
        {
            Assert.Null(response.Content.Headers.ContentLength);
            Assert.Equal("hello", await response.Content.ReadAsStringAsync());
        }
        Assert.Equal(0, ((Http11Handler)HandlerOf(client)).IdleConnections);
    }

    [Fact]
    public async Task ACodingOtherThanChunkedLastRunsToTheClose()
    {
        await using var upstream = new ScriptedUpstream("HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n5\r\nhello", closeAfterAnswer: true);
        using var client = Client(upstream);
        using var response = await client.SendAsync(Post(upstream, Json), CancellationToken.None);
        Assert.Equal("5\r\nhello", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task InterimAnswersAreSkippedAndAnAnswerWithoutBodyFreesItsConnectionAtOnce()
    {
        await using var upstream = new ScriptedUpstream("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nx-request-id: r\r\n\r\n");
        using var client = Client(upstream);
        using var response = await client.SendAsync(Post(upstream, Json), CancellationToken.None);
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(1, ((Http11Handler)HandlerOf(client)).IdleConnections);
        Assert.Equal("", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ARequestOnAConnectionTheUpstreamClosedWhileIdleGoesOutOnANewOne(bool poll)
    {
        // The upstream answers once per connection, then closes it without saying so (as servers with a short
        // keep-alive timeout do). Not polled, the request is written to the dead connection, finds it closed and is
        // sent once more on a new one; polled, the dead connection is seen before use.
        await using var upstream = new ScriptedUpstream(Answer(200, Json), closeAfterAnswer: true);
        using var client = new HttpMessageInvoker(new Http11Handler(upstream.BaseUrl, TimeSpan.FromSeconds(5),
            pollAfterIdle: poll ? TimeSpan.Zero : TimeSpan.MaxValue));
        using (var first = await client.SendAsync(Post(upstream, Json), CancellationToken.None))
        {
            Assert.Equal(Json, await first.Content.ReadAsStringAsync());
        }
        await upstream.WaitForClosedAsync(1);
        Assert.Equal(1, ((Http11Handler)HandlerOf(client)).IdleConnections);
        using var second = await client.SendAsync(Post(upstream, Json), CancellationToken.None);
        Assert.Equal(Json, await second.Content.ReadAsStringAsync());
        Assert.Equal(2, upstream.Accepted);
    }

    [Fact]
    public async Task AnAnswerBeforeTheWholeBodyIsRead()
    {
        // As a proxy refusing a body too large does: 413 after the head, then the rest of the body drained.
        await using var upstream = new ScriptedUpstream("HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", answerEarly: true);
        using var client = Client(upstream);
        using var request = Post(upstream, new string('x', 1 << 20));
        using var response = await client.SendAsync(request, CancellationToken.None);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal(0, ((Http11Handler)HandlerOf(client)).IdleConnections);
    }

    [Theory]
    [InlineData("a\r\nx-injected: 1")]
    [InlineData("a\nb")]
    [InlineData("a\0b")]
    [InlineData("café")]
    public async Task AHeaderValueThatWouldBreakTheHeadIsNotSent(string value)
    {
        await using var upstream = new ScriptedUpstream(Answer(200, Json));
        using var client = Client(upstream);
        using var request = Post(upstream, Json);
        request.Headers.TryAddWithoutValidation("x-custom", value);
        var error = await Assert.ThrowsAsync<HttpRequestException>(() => client.SendAsync(request, CancellationToken.None));
        Assert.Contains("x-custom", error.Message);
        Assert.DoesNotContain(value, error.Message);
        await upstream.WaitForClosedAsync(1);
        Assert.Empty(upstream.Requests);
    }

    [Theory]
    [InlineData(20)]
    [InlineData(5)]
    public async Task ABodyThatIsNotTheLengthItDeclaredIsNotSent(long declared)
    {
        await using var upstream = new ScriptedUpstream(Answer(200, Json));
        using var client = Client(upstream);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(upstream.BaseUrl, "v1/chat/completions"))
        {
            Content = new MisdeclaredContent("""{"model":"m"}"""u8.ToArray(), declared),
        };
        await Assert.ThrowsAsync<HttpRequestException>(() => client.SendAsync(request, CancellationToken.None));
        await upstream.WaitForClosedAsync(1);
        Assert.Empty(upstream.Requests);
    }

    [Fact]
    public async Task AnAnswerCutShortIsAnIOException()
    {
        await using var upstream = new ScriptedUpstream("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"partial", closeAfterAnswer: true);
        using var client = Client(upstream);
        using var response = await client.SendAsync(Post(upstream, Json), CancellationToken.None);
        await Assert.ThrowsAnyAsync<IOException>(async () => await (await response.Content.ReadAsStreamAsync()).CopyToAsync(Stream.Null));
        Assert.Equal(0, ((Http11Handler)HandlerOf(client)).IdleConnections);
    }

    [Fact]
    public async Task AConnectionClosedBeforeTheAnswerIsResponseEnded()
    {
        await using var upstream = new ScriptedUpstream("", closeAfterAnswer: true);
        using var client = Client(upstream);
        var error = await Assert.ThrowsAsync<HttpRequestException>(() => client.SendAsync(Post(upstream, Json), CancellationToken.None));
        Assert.Equal(HttpRequestError.ResponseEnded, error.HttpRequestError);
    }

    [Theory]
    [InlineData("HTTP/1.1 2OO OK\r\n\r\n")]
    [InlineData("HTTP/2 200 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\n folded: x\r\n\r\n")]
    public async Task AMalformedHeadIsAnInvalidResponse(string answer)
    {
        await using var upstream = new ScriptedUpstream(answer);
        using var client = Client(upstream);
        var error = await Assert.ThrowsAsync<HttpRequestException>(() => client.SendAsync(Post(upstream, Json), CancellationToken.None));
        Assert.Equal(HttpRequestError.InvalidResponse, error.HttpRequestError);
        Assert.Equal(0, ((Http11Handler)HandlerOf(client)).IdleConnections);
    }

    [Fact]
    public async Task AMalformedChunkIsAnIOException()
    {
        await using var upstream = new ScriptedUpstream("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n");
        using var client = Client(upstream);
        using var response = await client.SendAsync(Post(upstream, Json), CancellationToken.None);
        await Assert.ThrowsAnyAsync<IOException>(async () => await (await response.Content.ReadAsStreamAsync()).CopyToAsync(Stream.Null));
    }

    [Fact]
    public async Task AHeadOverTheLimitIsRefused()
    {
        await using var upstream = new ScriptedUpstream($"HTTP/1.1 200 OK\r\nx-big: {new string('a', 70_000)}\r\nContent-Length: 0\r\n\r\n");
        using var client = Client(upstream);
        var error = await Assert.ThrowsAsync<HttpRequestException>(() => client.SendAsync(Post(upstream, Json), CancellationToken.None));
        Assert.Equal(HttpRequestError.ConfigurationLimitExceeded, error.HttpRequestError);
    }

    [Fact]
    public async Task ARefusedConnectionIsAConnectionError()
    {
        var port = Programs.FreePort();
        using var client = new HttpMessageInvoker(new Http11Handler(new Uri($"http://127.0.0.1:{port}/v1"), TimeSpan.FromSeconds(5)));
        using var request = new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{port}/v1/chat/completions") { Content = new StringContent(Json) };
        var error = await Assert.ThrowsAsync<HttpRequestException>(() => client.SendAsync(request, CancellationToken.None));
        Assert.Equal(HttpRequestError.ConnectionError, error.HttpRequestError);
    }

    [Fact]
    public async Task ANamedHostIsResolvedAtConnect()
    {
        await using var upstream = new ScriptedUpstream(Answer(200, Json));
        using var client = new HttpMessageInvoker(new Http11Handler(new Uri($"http://localhost:{upstream.Port}/v1"), TimeSpan.FromSeconds(5)));
        using var request = new HttpRequestMessage(HttpMethod.Post, $"http://localhost:{upstream.Port}/v1/chat/completions") { Content = new StringContent(Json) };
        using var response = await client.SendAsync(request, CancellationToken.None);
        Assert.Equal(Json, await response.Content.ReadAsStringAsync());
        Assert.StartsWith($"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost:{upstream.Port}\r\n", upstream.Requests.Single());
    }

    [Fact]
    public async Task AConnectThatTakesTooLongIsAConnectTimeout()
    {
        // A listener that never accepts, its accept queue filled: Linux drops further handshakes, so a connect hangs.
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(0);
        var port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        var fillers = new List<Socket>();
        try
        {
            // Connects until one hangs (the queue holds backlog + 1 on Linux).
            while (true)
            {
                Assert.True(fillers.Count < 10, "the accept queue did not fill");
                var filler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                fillers.Add(filler);
                using var wait = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
                try
                {
                    await filler.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), wait.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
            using var client = new HttpMessageInvoker(new Http11Handler(new Uri($"http://127.0.0.1:{port}/v1"), TimeSpan.FromMilliseconds(200)));
            using var request = new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{port}/v1/chat/completions") { Content = new StringContent(Json) };
            var error = await Assert.ThrowsAsync<TaskCanceledException>(() => client.SendAsync(request, CancellationToken.None));
            Assert.IsType<TimeoutException>(error.InnerException);
        }
        finally
        {
            fillers.ForEach(filler => filler.Dispose());
        }
    }

    [Fact]
    public async Task CancelledWhileWaitingForTheAnswerTheConnectionIsClosed()
    {
        await using var upstream = new ScriptedUpstream(null);
        using var client = Client(upstream);
        using var cancel = new CancellationTokenSource();
        var send = client.SendAsync(Post(upstream, Json), cancel.Token);
        await upstream.WaitForRequestAsync();
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => send);
        Assert.Equal(0, ((Http11Handler)HandlerOf(client)).IdleConnections);
        await upstream.WaitForClosedAsync(1);
    }

    [Fact]
    public async Task AnAnswerDisposedBeforeItsEndClosesItsConnection()
    {
        await using var upstream = new ScriptedUpstream(Answer(200, new string('x', 50_000)));
        using var client = Client(upstream);
        using (var response = await client.SendAsync(Post(upstream, Json), CancellationToken.None))
        {
            var stream = await response.Content.ReadAsStreamAsync();
            Assert.True(await stream.ReadAsync(new byte[100]) > 0);
        }
        Assert.Equal(0, ((Http11Handler)HandlerOf(client)).IdleConnections);
        await upstream.WaitForClosedAsync(1);
    }

    [Fact]
    public async Task ConnectionsIdleLongerThanTheTimeoutAreNotReused()
    {
        await using var upstream = new ScriptedUpstream(Answer(200, Json));
        using var client = new HttpMessageInvoker(new Http11Handler(upstream.BaseUrl, TimeSpan.FromSeconds(5), idleTimeout: TimeSpan.Zero));
        for (var i = 0; i < 2; i++)
        {
            using var response = await client.SendAsync(Post(upstream, Json), CancellationToken.None);
            Assert.Equal(Json, await response.Content.ReadAsStringAsync());
        }
        Assert.Equal(2, upstream.Accepted);
    }

    private static string Answer(int status, string body, params string[] headers) =>
        $"HTTP/1.1 {status} {(HttpStatusCode)status}\r\n{string.Concat(headers.Select(h => h + "\r\n"))}Content-Length: {Encoding.UTF8.GetByteCount(body)}\r\n\r\n{body}";

    private static HttpMessageInvoker Client(ScriptedUpstream upstream) =>
        new(new Http11Handler(upstream.BaseUrl, TimeSpan.FromSeconds(5)));

    private static HttpMessageHandler HandlerOf(HttpMessageInvoker client) =>
        (HttpMessageHandler)typeof(HttpMessageInvoker).GetField("_handler", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(client)!;

    private static HttpRequestMessage Post(ScriptedUpstream upstream, string body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(upstream.BaseUrl, "v1/chat/completions")) { Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body)) };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
        return request;
    }

    /// <summary>A body that declares a length other than the bytes it writes.</summary>
    private sealed class MisdeclaredContent(byte[] body, long declared) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => stream.WriteAsync(body).AsTask();

        protected override bool TryComputeLength(out long length)
        {
            length = declared;
            return true;
        }
    }

    /// <summary>A body whose length is not known before it is written.</summary>
    private sealed class UnknownLengthContent(byte[] body) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => stream.WriteAsync(body).AsTask();

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    /// <summary>
    /// A TCP server that reads each request (head and body, by length or in chunks) and writes one scripted answer;
    /// null for none (it holds the request unanswered).
    /// </summary>
    private sealed class ScriptedUpstream : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly byte[]? _answer;
        private readonly int _bytesPerWrite;
        private readonly bool _closeAfterAnswer;
        private readonly bool _answerEarly;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _accepting;
        private readonly SemaphoreSlim _requestSeen = new(0);
        private int _accepted, _closed;

        /// <param name="answerEarly">Answer after the request's head, then drain its body and close.</param>
        public ScriptedUpstream(string? answer, int bytesPerWrite = int.MaxValue, bool closeAfterAnswer = false, bool answerEarly = false)
        {
            _answerEarly = answerEarly;
            _answer = answer is null ? null : Encoding.Latin1.GetBytes(answer);
            _bytesPerWrite = bytesPerWrite;
            _closeAfterAnswer = closeAfterAnswer;
            _listener.Start();
            _accepting = AcceptAsync();
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public Uri BaseUrl => new($"http://127.0.0.1:{Port}/v1");

        public int Accepted => Volatile.Read(ref _accepted);

        public ConcurrentQueue<string> Requests { get; } = new();

        public async Task WaitForRequestAsync() => Assert.True(await _requestSeen.WaitAsync(TimeSpan.FromSeconds(10)));

        /// <summary>Waits until the server side has closed (or seen closed) <paramref name="count"/> connections.</summary>
        public async Task WaitForClosedAsync(int count)
        {
            for (var waited = 0; Volatile.Read(ref _closed) < count; waited += 10)
            {
                Assert.True(waited < 10_000, "the connection was not closed");
                await Task.Delay(10);
            }
        }

        private async Task AcceptAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                Socket socket;
                try
                {
                    socket = await _listener.AcceptSocketAsync(_stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                Interlocked.Increment(ref _accepted);
                // Each scripted write goes out on its own, not merged with the next by Nagle's algorithm.
                socket.NoDelay = true;
                _ = ServeAsync(socket);
            }
        }

        private async Task ServeAsync(Socket socket)
        {
            try
            {
                await using var stream = new NetworkStream(socket, ownsSocket: true);
                if (_answerEarly)
                {
                    Requests.Enqueue(await ReadRequestAsync(stream, headOnly: true) ?? "");
                    await stream.WriteAsync(_answer!, _stop.Token);
                    await stream.CopyToAsync(Stream.Null, _stop.Token);
                    return;
                }
                while (await ReadRequestAsync(stream) is { } request)
                {
                    Requests.Enqueue(request);
                    _requestSeen.Release();
                    if (_answer is null)
                    {
                        continue;
                    }
                    for (var offset = 0; offset < _answer.Length; offset += _bytesPerWrite)
                    {
                        await stream.WriteAsync(_answer.AsMemory(offset, Math.Min(_bytesPerWrite, _answer.Length - offset)), _stop.Token);
                        await stream.FlushAsync(_stop.Token);
                    }
                    if (_closeAfterAnswer)
                    {
                        break;
                    }
                }
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or SocketException)
            {
            }
            finally
            {
                Interlocked.Increment(ref _closed);
            }
        }

        /// <summary>One request as text: its head and its body (as sent, chunk framing included); null at the end of the stream.</summary>
        private static async Task<string?> ReadRequestAsync(Stream stream, bool headOnly = false)
        {
            var bytes = new List<byte>();
            var one = new byte[1];
            while (!(bytes.Count >= 4 && bytes[^4] == '\r' && bytes[^3] == '\n' && bytes[^2] == '\r' && bytes[^1] == '\n'))
            {
                if (await stream.ReadAsync(one) == 0)
                {
                    return null;
                }
                bytes.Add(one[0]);
            }
            var head = Encoding.Latin1.GetString(bytes.ToArray());
            if (headOnly)
            {
                return head;
            }
            var length = head.Split("\r\n").FirstOrDefault(line => line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)) is { } line
                ? int.Parse(line["Content-Length:".Length..].Trim()) : 0;
            if (head.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase))
            {
                // Up to the last chunk and the empty trailer section.
                while (!Encoding.Latin1.GetString(bytes.ToArray()).EndsWith("\r\n0\r\n\r\n", StringComparison.Ordinal))
                {
                    if (await stream.ReadAsync(one) == 0)
                    {
                        return null;
                    }
                    bytes.Add(one[0]);
                }
                return Encoding.Latin1.GetString(bytes.ToArray());
            }
            var body = new byte[length];
            await stream.ReadExactlyAsync(body);
            return head + Encoding.Latin1.GetString(body);
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _accepting;
            _stop.Dispose();
        }
    }
}
