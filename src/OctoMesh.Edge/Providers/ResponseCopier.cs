using System.Buffers;
using System.IO.Pipelines;
using OctoMesh.Edge.Wire;

namespace OctoMesh.Edge.Providers;

/// <summary>
/// Copies an upstream body to the client as it arrives, segment by segment, and reads its usage on
/// the way. Streams are handled only in whole events: complete events are handled and flushed
/// together, a partial one waits in the pipe for its rest. A stream's trailing partial event (an
/// upstream that ends without the blank line) is dropped, and the stream counts as cut.
/// </summary>
internal sealed class ResponseCopier
{
    /// <summary>How much of a non-streamed body's end is kept to read its usage from.</summary>
    private const int TailBytes = 4096;

    /// <summary>
    /// Zero-byte reads: a read first waits for the upstream to have bytes without a buffer, and rents one only then, so
    /// streams that wait on a slow model hold no buffer while they wait.
    /// </summary>
    private static readonly StreamPipeReaderOptions s_readerOptions = new(bufferSize: 16 * 1024, minimumReadSize: 2048, leaveOpen: true, useZeroByteReads: true);

    private readonly SseStreamHandler _handler;
    private ArrayBufferWriter<byte>? _scratch;

    private ResponseCopier(SseStreamHandler handler) => _handler = handler;

    /// <summary>
    /// A pass-through answer (same API on both sides): a refused provider key becomes the gateway's own error;
    /// otherwise status and allowed headers, then a stream through the handler <paramref name="streamHandler"/> makes, or the
    /// body as it is, its usage read from the tail when <paramref name="readUsage"/>.
    /// </summary>
    public static async Task<(ProxyOutcome Outcome, TokenUsage? Usage)> RelayAsync(HttpResponseMessage upstream, Microsoft.AspNetCore.Http.HttpResponse client,
        Providers.ForwardContext context, Func<Providers.ForwardContext, SseStreamHandler> streamHandler, bool readUsage,
        CancellationToken clientAborted, CancellationToken deadline)
    {
        if (ClientError.IsUpstreamCredentialRefusal(upstream.StatusCode))
        {
            return await ClientError.WriteUpstreamCredentialRefusalAsync(client, context.Operation, (int)upstream.StatusCode);
        }
        if (!upstream.IsSuccessStatusCode && !IsJson(upstream.Content.Headers.ContentType?.MediaType))
        {
            // An error page (HTML from a proxy in front of the provider, plain text) is not an error in the client's format:
            // it is wrapped in one, a server error as the gateway's 502, a client error with its own status.
            var status = (int)upstream.StatusCode;
            await ClientError.WriteAsync(client, context.Operation, status >= 500 ? Microsoft.AspNetCore.Http.StatusCodes.Status502BadGateway : status,
                $"The upstream provider answered HTTP {status} with a body that is not an API error ({upstream.Content.Headers.ContentType?.MediaType ?? "no content type"}).",
                code: "upstream_error");
            return (ProxyOutcome.Completed, null);
        }
        client.StatusCode = (int)upstream.StatusCode;
        HeaderPolicy.CopyToClient(upstream.Headers, client.Headers);
        HeaderPolicy.CopyToClient(upstream.Content.Headers, client.Headers);
        var body = await upstream.Content.ReadAsStreamAsync(deadline);
        if (upstream.IsSuccessStatusCode && upstream.Content.Headers.ContentType?.MediaType == "text/event-stream")
        {
            return await CopyStreamAsync(body, client.BodyWriter, streamHandler(context), context.Idle, clientAborted, deadline);
        }
        client.ContentLength = upstream.Content.Headers.ContentLength;
        return await CopyBodyAsync(body, client.BodyWriter, readUsage && upstream.IsSuccessStatusCode, clientAborted, deadline);
    }

    private static bool IsJson(string? mediaType) =>
        mediaType is not null && (mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Copies an SSE stream through <paramref name="handler"/>, which passes, translates or drops each
    /// event. Ends with a well-formed error event when the upstream breaks, stops early or times out
    /// after the first byte, since the status line has gone already.
    /// </summary>
    /// <param name="idle">The longest wait for the upstream's next bytes; a stream silent for longer ends as timed out.</param>
    /// <param name="clientAborted">Fires when the client goes away (distinguishes that from a timeout).</param>
    public static async Task<(ProxyOutcome Outcome, TokenUsage? Usage)> CopyStreamAsync(
        Stream upstream, PipeWriter client, SseStreamHandler handler, TimeSpan idle, CancellationToken clientAborted, CancellationToken cancellationToken)
    {
        var copier = new ResponseCopier(handler);
        var reader = PipeReader.Create(upstream, s_readerOptions);
        // One timer for the whole stream, pushed back before every read (as YARP's stream copier does).
        using var silence = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        ProxyOutcome outcome;
        try
        {
            outcome = await copier.PumpAsync(reader, client, silence, idle);
        }
        catch (OperationCanceledException) when (clientAborted.IsCancellationRequested)
        {
            outcome = ProxyOutcome.ClientGone;
        }
        catch (OperationCanceledException)
        {
            outcome = ProxyOutcome.UpstreamTimeout;
        }
        catch (IOException)
        {
            outcome = clientAborted.IsCancellationRequested ? ProxyOutcome.ClientGone : ProxyOutcome.UpstreamCut;
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or OverflowException or IndexOutOfRangeException)
        {
            // An upstream event a translator could not read (a number where it wants an integer, …): the stream is broken.
            outcome = ProxyOutcome.UpstreamCut;
        }
        finally
        {
            await reader.CompleteAsync();
            handler.Complete();
        }

        if ((outcome is ProxyOutcome.UpstreamCut or ProxyOutcome.UpstreamTimeout) && !handler.IsFailed)
        {
            await TryWriteAsync(client, handler.FailureEvent(outcome));
        }
        return (outcome, handler.Usage);
    }

    private async Task<ProxyOutcome> PumpAsync(PipeReader reader, PipeWriter client, CancellationTokenSource silence, TimeSpan idle)
    {
        var cancellationToken = silence.Token;
        while (true)
        {
            silence.CancelAfter(idle);
            var result = await reader.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            var consumed = buffer.Start;
            var unflushed = client.UnflushedBytes;
            try
            {
                consumed = HandleEvents(buffer, client);
            }
            finally
            {
                reader.AdvanceTo(consumed, buffer.End);
            }

            if (client.UnflushedBytes != unflushed)
            {
                var flush = await client.FlushAsync(cancellationToken);
                if (flush.IsCompleted || flush.IsCanceled)
                {
                    return ProxyOutcome.ClientGone;
                }
            }
            if (_handler.IsFailed)
            {
                return ProxyOutcome.UpstreamCut;
            }
            if (result.IsCompleted)
            {
                return _handler.IsComplete ? ProxyOutcome.Completed : ProxyOutcome.UpstreamCut;
            }
        }
    }

    /// <summary>Hands every complete event in <paramref name="buffer"/> to the handler; returns what was consumed.</summary>
    private SequencePosition HandleEvents(in ReadOnlySequence<byte> buffer, PipeWriter client)
    {
        var reader = new SequenceReader<byte>(buffer);
        while (!_handler.IsFailed && SseEventScanner.TryParse(ref reader, out var sseEvent))
        {
            _handler.Handle(sseEvent, sseEvent.HasData ? SseEventScanner.DataOf(sseEvent, ref _scratch) : default, client);
        }
        return reader.Position;
    }

    /// <summary>
    /// Copies a non-streamed body straight through, keeping only its last few KB to read usage from.
    /// </summary>
    public static async Task<(ProxyOutcome Outcome, TokenUsage? Usage)> CopyBodyAsync(
        Stream upstream, PipeWriter client, bool readUsage, CancellationToken clientAborted, CancellationToken cancellationToken)
    {
        var reader = PipeReader.Create(upstream, s_readerOptions);
        var tail = readUsage ? ArrayPool<byte>.Shared.Rent(TailBytes) : null;
        var tailLength = 0;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(cancellationToken);
                var buffer = result.Buffer;
                Write(client, buffer);
                if (tail is not null)
                {
                    tailLength = KeepTail(tail, tailLength, buffer);
                }
                reader.AdvanceTo(buffer.End);
                var flush = await client.FlushAsync(cancellationToken);
                if (flush.IsCompleted || flush.IsCanceled)
                {
                    return (ProxyOutcome.ClientGone, null);
                }
                if (result.IsCompleted)
                {
                    return (ProxyOutcome.Completed,
                        tail is not null && UsageReader.TryReadTail(tail.AsSpan(0, tailLength), out var usage) ? usage : null);
                }
            }
        }
        catch (OperationCanceledException) when (clientAborted.IsCancellationRequested)
        {
            return (ProxyOutcome.ClientGone, null);
        }
        catch (OperationCanceledException)
        {
            return (ProxyOutcome.UpstreamTimeout, null);
        }
        catch (IOException)
        {
            return (clientAborted.IsCancellationRequested ? ProxyOutcome.ClientGone : ProxyOutcome.UpstreamCut, null);
        }
        finally
        {
            await reader.CompleteAsync();
            if (tail is not null)
            {
                ArrayPool<byte>.Shared.Return(tail);
            }
        }
    }

    private static int KeepTail(byte[] tail, int tailLength, in ReadOnlySequence<byte> buffer)
    {
        var capacity = tail.Length;
        if (buffer.Length >= capacity)
        {
            buffer.Slice(buffer.Length - capacity).CopyTo(tail);
            return capacity;
        }
        var incoming = (int)buffer.Length;
        var keep = Math.Min(tailLength, capacity - incoming);
        tail.AsSpan(tailLength - keep, keep).CopyTo(tail);
        buffer.CopyTo(tail.AsSpan(keep));
        return keep + incoming;
    }

    private static bool Write(PipeWriter client, in ReadOnlySequence<byte> bytes)
    {
        foreach (var segment in bytes)
        {
            client.Write(segment.Span);
        }
        return !bytes.IsEmpty;
    }

    private static async Task TryWriteAsync(PipeWriter client, byte[] bytes)
    {
        try
        {
            await client.WriteAsync(bytes);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or InvalidOperationException)
        {
            // The client is gone too; nothing left to tell it.
        }
    }
}
