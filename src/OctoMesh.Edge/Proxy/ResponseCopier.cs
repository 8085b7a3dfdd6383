using System.Buffers;
using System.IO.Pipelines;

namespace OctoMesh.Edge.Proxy;

/// <summary>
/// Copies an upstream body to the client as it arrives, segment by segment, and reads its usage on
/// the way. Streams are cut only at event boundaries: complete events are written and flushed
/// together, a partial one waits in the pipe for its rest.
/// </summary>
internal sealed class ResponseCopier
{
    /// <summary>How much of a non-streamed body's end is kept to read its usage from.</summary>
    private const int TailBytes = 4096;

    private static readonly StreamPipeReaderOptions s_readerOptions = new(bufferSize: 16 * 1024, minimumReadSize: 2048, leaveOpen: true);
    private static readonly byte[] s_cutEvent = OpenAIError.SerializeEvent(
        "The upstream provider's stream ended before it was complete.", OpenAIError.Upstream, "upstream_stream_cut");
    private static readonly byte[] s_timeoutEvent = OpenAIError.SerializeEvent(
        "The upstream provider did not finish in time.", OpenAIError.Upstream, "upstream_timeout");

    private readonly bool _stripUsageChunk;
    private ArrayBufferWriter<byte>? _scratch;
    private bool _sawDone;

    private ResponseCopier(bool stripUsageChunk) => _stripUsageChunk = stripUsageChunk;

    /// <summary>The usage the upstream reported, if it did.</summary>
    public TokenUsage? Usage { get; private set; }

    /// <summary>
    /// Copies an SSE stream. Ends with a well-formed error event when the upstream breaks, stops
    /// early or times out after the first byte, since the status line has gone already.
    /// </summary>
    /// <param name="stripUsageChunk">Remove the usage-only chunk the gateway asked for on the client's behalf.</param>
    /// <param name="clientAborted">Fires when the client goes away (distinguishes that from a timeout).</param>
    public static async Task<(ProxyOutcome Outcome, TokenUsage? Usage)> CopyStreamAsync(
        Stream upstream, PipeWriter client, bool stripUsageChunk, CancellationToken clientAborted, CancellationToken cancellationToken)
    {
        var copier = new ResponseCopier(stripUsageChunk);
        var reader = PipeReader.Create(upstream, s_readerOptions);
        ProxyOutcome outcome;
        try
        {
            outcome = await copier.PumpAsync(reader, client, cancellationToken);
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
        finally
        {
            await reader.CompleteAsync();
        }

        if (outcome is ProxyOutcome.UpstreamCut or ProxyOutcome.UpstreamTimeout)
        {
            await TryWriteAsync(client, outcome == ProxyOutcome.UpstreamCut ? s_cutEvent : s_timeoutEvent);
        }
        return (outcome, copier.Usage);
    }

    private async Task<ProxyOutcome> PumpAsync(PipeReader reader, PipeWriter client, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            var consumed = buffer.Start;
            var wrote = false;
            try
            {
                consumed = ScanAndWrite(buffer, client, result.IsCompleted, ref wrote);
            }
            finally
            {
                reader.AdvanceTo(consumed, buffer.End);
            }

            if (wrote)
            {
                var flush = await client.FlushAsync(cancellationToken);
                if (flush.IsCompleted || flush.IsCanceled)
                {
                    return ProxyOutcome.ClientGone;
                }
            }
            if (result.IsCompleted)
            {
                return _sawDone ? ProxyOutcome.Completed : ProxyOutcome.UpstreamCut;
            }
        }
    }

    /// <summary>Writes every complete event in <paramref name="buffer"/> (all of it at the end of the stream); returns what was consumed.</summary>
    private SequencePosition ScanAndWrite(in ReadOnlySequence<byte> buffer, PipeWriter client, bool isLast, ref bool wrote)
    {
        var reader = new SequenceReader<byte>(buffer);
        var pending = buffer.Start;
        while (SseEventScanner.TryParse(ref reader, out var sseEvent))
        {
            if (!sseEvent.HasData)
            {
                continue;
            }
            var data = DataOf(sseEvent);
            if (SseEventScanner.IsDone(data))
            {
                _sawDone = true;
            }
            else if (UsageReader.MayHaveUsage(data) && UsageReader.TryRead(data, out var usage, out var choicesEmpty))
            {
                Usage = usage;
                if (_stripUsageChunk && choicesEmpty)
                {
                    wrote |= Write(client, buffer.Slice(pending, sseEvent.Raw.Start));
                    pending = sseEvent.Raw.End;
                }
            }
        }
        var end = isLast ? buffer.End : reader.Position;
        wrote |= Write(client, buffer.Slice(pending, end));
        return end;
    }

    private ReadOnlySpan<byte> DataOf(in SseEvent sseEvent)
    {
        if (sseEvent.DataLines == 1 && sseEvent.FirstData.IsSingleSegment)
        {
            return sseEvent.FirstData.FirstSpan;
        }
        _scratch ??= new ArrayBufferWriter<byte>(1024);
        _scratch.ResetWrittenCount();
        SseEventScanner.CopyData(sseEvent, _scratch);
        return _scratch.WrittenSpan;
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
