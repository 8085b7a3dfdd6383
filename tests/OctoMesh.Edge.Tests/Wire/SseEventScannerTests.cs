using System.Buffers;
using System.Text;
using OctoMesh.Edge.Wire;

namespace OctoMesh.Edge.Tests.Wire;

public class SseEventScannerTests
{
    private static List<(string Raw, string? Data, int Lines)> ScanAll(ReadOnlySequence<byte> input, out long consumed)
    {
        var events = new List<(string, string?, int)>();
        var reader = new SequenceReader<byte>(input);
        while (SseEventScanner.TryParse(ref reader, out var e))
        {
            var data = new ArrayBufferWriter<byte>();
            SseEventScanner.CopyData(e, data);
            events.Add((Encoding.UTF8.GetString(e.Raw), e.HasData ? Encoding.UTF8.GetString(data.WrittenSpan) : null, e.DataLines));
            Assert.Equal(Encoding.UTF8.GetString(e.FirstData), e.DataLines == 0 ? "" : (Encoding.UTF8.GetString(data.WrittenSpan).Split('\n')[0]));
        }
        consumed = reader.Consumed;
        return events;
    }

    public static TheoryData<string> Streams => new()
    {
        "data: {\"a\":1}\n\ndata: [DONE]\n\n",
        "data: {\"a\":1}\r\n\r\ndata: [DONE]\r\n\r\n",
        "data:{\"a\":1}\r\rdata: [DONE]\r\r",
        ": keep-alive comment\n\nevent: ping\ndata: x\nid: 7\n\ndata: [DONE]\n\n",
        "data: first line\ndata: second line\n\ndata: [DONE]\n\n",
        "data: snowman ☃ and emoji 🦑\n\ndata: [DONE]\n\n",
    };

    [Theory]
    [MemberData(nameof(Streams))]
    public void SameEventsWhereverTheBytesAreSplit(string stream)
    {
        var bytes = Encoding.UTF8.GetBytes(stream);
        var whole = ScanAll(new ReadOnlySequence<byte>(bytes), out var wholeConsumed);
        // A stream ending in a lone CR leaves its last event open: the CR may be half of a CRLF.
        var complete = stream.EndsWith('\r') ? stream[..(stream.LastIndexOf("data", StringComparison.Ordinal))] : stream;
        Assert.Equal(Encoding.UTF8.GetByteCount(complete), wholeConsumed);
        Assert.Equal(complete, string.Concat(whole.Select(e => e.Raw)));

        for (var cut = 1; cut < bytes.Length; cut++)
        {
            for (var second = cut + 1; second <= Math.Min(bytes.Length - 1, cut + 3); second++)
            {
                Assert.Equal(whole, ScanAll(Segments.Split(bytes, cut, second), out _));
            }
            Assert.Equal(whole, ScanAll(Segments.Split(bytes, cut), out _));
        }
    }

    [Fact]
    public void ReadsFieldsPerTheSpec()
    {
        var events = ScanAll(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(
            ": comment\n\ndata: first line\ndata: second line\n\ndata\n\ndata:no-space\n\nevent: x\n\n")), out _);

        Assert.Equal(
        [
            (": comment\n\n", null, 0),
            ("data: first line\ndata: second line\n\n", "first line\nsecond line", 2),
            ("data\n\n", "", 1),
            ("data:no-space\n\n", "no-space", 1),
            ("event: x\n\n", null, 0),
        ], events);
    }

    [Theory]
    [InlineData("data: {\"a\":1}")]
    [InlineData("data: {\"a\":1}\n")]
    [InlineData("data: {\"a\":1}\r\n\r")]
    [InlineData("data: x\r")]
    public void IncompleteEventNeedsMoreData(string partial)
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(partial)));
        Assert.False(SseEventScanner.TryParse(ref reader, out _));
        Assert.Equal(0, reader.Consumed);
    }

    [Fact]
    public void DoneSentinelIsExact()
    {
        Assert.True(SseEventScanner.IsDone("[DONE]"u8));
        Assert.False(SseEventScanner.IsDone("[DONE] "u8));
        Assert.False(SseEventScanner.IsDone("{\"x\":\"[DONE]\"}"u8));
    }
}
