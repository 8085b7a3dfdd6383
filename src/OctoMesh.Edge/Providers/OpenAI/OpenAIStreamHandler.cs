using System.Buffers;
using System.IO.Pipelines;
using OctoMesh.Edge.Wire;

namespace OctoMesh.Edge.Providers.OpenAI;

/// <summary>
/// Pass-through of an OpenAI-format stream: every event is copied as it came, usage is read from the
/// usage chunk, and that chunk is dropped when the gateway asked for it on the client's behalf. An
/// error event from the upstream is passed on and ends the stream.
/// </summary>
internal sealed class OpenAIStreamHandler(bool stripUsageChunk) : SseStreamHandler
{
    public override void Handle(in SseEvent sseEvent, ReadOnlySpan<byte> data, PipeWriter client)
    {
        if (sseEvent.HasData)
        {
            if (SseEventScanner.IsDone(data))
            {
                IsComplete = true;
            }
            else if (data.StartsWith("{\"error\""u8))
            {
                // The upstream's own error event: passed on, and the stream is over.
                IsFailed = true;
            }
            else if (UsageReader.MayHaveUsage(data) && UsageReader.TryRead(data, out var usage, out var choicesEmpty))
            {
                Usage = usage;
                if (stripUsageChunk && choicesEmpty)
                {
                    return;
                }
            }
        }
        foreach (var segment in sseEvent.Raw)
        {
            client.Write(segment.Span);
        }
    }
}
