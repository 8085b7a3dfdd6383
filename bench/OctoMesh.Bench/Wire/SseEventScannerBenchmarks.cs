using System.Buffers;
using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using OctoMesh.Edge.Providers.OpenAI;
using OctoMesh.Edge.Wire;
using OctoMesh.Edge.Providers;

namespace OctoMesh.Bench.Wire;

/// <summary>
/// Step 6 on a 103-event stream (role, 100 content chunks, finish, usage, [DONE]). Divide by 104 for the
/// cost per event. <see cref="CopyStream"/> is the whole stream path: scan, usage read, strip, write.
/// </summary>
public class SseEventScannerBenchmarks
{
    private readonly ReadOnlySequence<byte> _stream = new(Payloads.ChatStream100);
    private readonly byte[] _bytes = Payloads.ChatStream100;
    private readonly Pipe _sink = new(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));

    [Benchmark(Baseline = true)]
    public int ScanEvents()
    {
        var reader = new SequenceReader<byte>(_stream);
        var events = 0;
        while (SseEventScanner.TryParse(ref reader, out _))
        {
            events++;
        }
        return events;
    }

    [Benchmark]
    public async Task<int> CopyStream()
    {
        using var upstream = new MemoryStream(_bytes, writable: false);
        var (_, usage) = await ResponseCopier.CopyStreamAsync(upstream, _sink.Writer, new OpenAIStreamHandler(stripUsageChunk: true), Timeout.InfiniteTimeSpan, CancellationToken.None, CancellationToken.None);
        var read = await _sink.Reader.ReadAsync();
        _sink.Reader.AdvanceTo(read.Buffer.End);
        return usage?.TotalTokens ?? 0;
    }
}
