using System.Buffers;
using System.IO.Pipelines;

namespace OctoMesh.Edge.Wire;

/// <summary>
/// Two translations in a row, event by event: <paramref name="first"/> writes its events into an
/// in-memory pipe, and each complete event it produced goes on to <paramref name="second"/>, which
/// writes to the client (for example Gemini → OpenAI → Anthropic). Nothing is buffered beyond one
/// upstream event's output.
/// </summary>
internal sealed class ChainedStreamHandler(SseStreamHandler first, SseStreamHandler second) : SseStreamHandler
{
    private readonly Pipe _between = new(new PipeOptions(pauseWriterThreshold: 0, resumeWriterThreshold: 0, useSynchronizationContext: false));
    private ArrayBufferWriter<byte>? _scratch;

    public override void Handle(in SseEvent sseEvent, ReadOnlySpan<byte> data, PipeWriter client)
    {
        first.Handle(sseEvent, data, _between.Writer);
        // No back-pressure on this pipe (pauseWriterThreshold 0): the flush completes at once.
        _ = _between.Writer.FlushAsync();
        if (_between.Reader.TryRead(out var result))
        {
            var reader = new SequenceReader<byte>(result.Buffer);
            while (!second.IsFailed && SseEventScanner.TryParse(ref reader, out var produced))
            {
                second.Handle(produced, produced.HasData ? SseEventScanner.DataOf(produced, ref _scratch) : default, client);
            }
            _between.Reader.AdvanceTo(reader.Position, result.Buffer.End);
        }
        Usage = second.Usage ?? first.Usage;
        IsComplete = second.IsComplete;
        IsFailed = first.IsFailed || second.IsFailed;
    }

    public override byte[] FailureEvent(ProxyOutcome outcome) => second.FailureEvent(outcome);

    /// <summary>Completing both ends returns the pipe's pooled segments.</summary>
    public override void Complete()
    {
        _between.Writer.Complete();
        _between.Reader.Complete();
        first.Complete();
        second.Complete();
    }
}
