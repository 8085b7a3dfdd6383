using System.Buffers;

namespace OctoMesh.Edge.Wire;

/// <summary>
/// Finds server-sent events in a byte stream as it arrives, per the WHATWG HTML "Server-sent events"
/// parsing rules (§9.2.6): lines end with CRLF, LF or CR; a blank line ends an event; lines starting
/// with ':' are comments; <c>data</c> lines accumulate. Events may be split across segments anywhere.
/// </summary>
internal static class SseEventScanner
{
    /// <summary>
    /// Reads one whole event. Returns false, with <paramref name="reader"/> unmoved, when the buffer
    /// holds only part of one ("need more data").
    /// </summary>
    public static bool TryParse(ref SequenceReader<byte> reader, out SseEvent sseEvent)
    {
        var start = reader.Position;
        var rewind = reader;
        var firstData = default(ReadOnlySequence<byte>);
        var dataLines = 0;

        while (TryReadLine(ref reader, out var line))
        {
            if (line.IsEmpty)
            {
                sseEvent = new SseEvent(reader.Sequence.Slice(start, reader.Position), firstData, dataLines);
                return true;
            }
            if (TryGetData(line, out var value) && dataLines++ == 0)
            {
                firstData = value;
            }
        }

        reader = rewind;
        sseEvent = default;
        return false;
    }

    /// <summary>
    /// Writes the event's data (its data lines joined by '\n', as the spec assembles them) into
    /// <paramref name="destination"/>; for the rare multi-line or segment-split event.
    /// </summary>
    public static void CopyData(in SseEvent sseEvent, IBufferWriter<byte> destination)
    {
        var reader = new SequenceReader<byte>(sseEvent.Raw);
        var first = true;
        while (TryReadLine(ref reader, out var line) && !line.IsEmpty)
        {
            if (!TryGetData(line, out var value))
            {
                continue;
            }
            if (!first)
            {
                destination.Write("\n"u8);
            }
            first = false;
            foreach (var segment in value)
            {
                destination.Write(segment.Span);
            }
        }
    }

    /// <summary>
    /// The event's data as one span: straight from the buffer for the usual single-line, single-segment
    /// event; else joined into <paramref name="scratch"/> (made on first need, reused after).
    /// </summary>
    public static ReadOnlySpan<byte> DataOf(in SseEvent sseEvent, ref ArrayBufferWriter<byte>? scratch)
    {
        if (sseEvent.DataLines == 1 && sseEvent.FirstData.IsSingleSegment)
        {
            return sseEvent.FirstData.FirstSpan;
        }
        scratch ??= new ArrayBufferWriter<byte>(1024);
        scratch.ResetWrittenCount();
        CopyData(sseEvent, scratch);
        return scratch.WrittenSpan;
    }

    /// <summary>True when the data is exactly <c>[DONE]</c>, OpenAI's end-of-stream sentinel.</summary>
    public static bool IsDone(ReadOnlySpan<byte> data) => data.SequenceEqual("[DONE]"u8);

    private static bool TryReadLine(ref SequenceReader<byte> reader, out ReadOnlySequence<byte> line)
    {
        if (!reader.TryReadToAny(out line, "\r\n"u8, advancePastDelimiter: false))
        {
            return false;
        }
        reader.TryRead(out var delimiter);
        if (delimiter == (byte)'\r')
        {
            // A CR at the very end of what has arrived may be the first half of a CRLF: wait for more.
            if (!reader.TryPeek(out var next))
            {
                return false;
            }
            if (next == (byte)'\n')
            {
                reader.Advance(1);
            }
        }
        return true;
    }

    /// <summary>Is this a <c>data</c> field line? If so, its value (after "data:" and one optional space).</summary>
    private static bool TryGetData(in ReadOnlySequence<byte> line, out ReadOnlySequence<byte> value)
    {
        // The field name is everything before the first ':' (or the whole line): "data" exactly.
        Span<byte> head = stackalloc byte[6];
        var headLength = (int)Math.Min(line.Length, head.Length);
        line.Slice(0, headLength).CopyTo(head);
        head = head[..headLength];

        if (head.StartsWith("data:"u8))
        {
            var skip = headLength == 6 && head[5] == (byte)' ' ? 6 : 5;
            value = line.Slice(skip);
            return true;
        }
        if (head.SequenceEqual("data"u8))
        {
            value = default;
            return true;
        }
        value = default;
        return false;
    }
}
