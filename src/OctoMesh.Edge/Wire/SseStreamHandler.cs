using System.IO.Pipelines;

namespace OctoMesh.Edge.Wire;

/// <summary>
/// Decides, event by event, what the client receives of an upstream SSE stream: the event as it is
/// (pass-through), a translation, or nothing. Runs on the copy loop: no blocking, and no allocation for
/// content events (a stream's first and last events, errors and whole tool calls may allocate a little).
/// </summary>
internal abstract class SseStreamHandler
{
    /// <summary>The usage the upstream reported, once it has.</summary>
    public TokenUsage? Usage { get; protected set; }

    /// <summary>The upstream ended its stream properly (OpenAI's <c>[DONE]</c>, Anthropic's <c>message_stop</c>).</summary>
    public bool IsComplete { get; protected set; }

    /// <summary>The upstream reported an error inside the stream, already written to the client.</summary>
    public bool IsFailed { get; protected set; }

    /// <summary>Handles one complete event. <paramref name="data"/> is its data, joined; empty when it has none.</summary>
    public abstract void Handle(in SseEvent sseEvent, ReadOnlySpan<byte> data, PipeWriter client);

    /// <summary>Called once when the copy loop is done with the stream, whatever the outcome.</summary>
    public virtual void Complete()
    {
    }

    /// <summary>
    /// The event that ends the stream when the upstream breaks, stops early or times out after the first
    /// byte: an OpenAI error event unless the client speaks another format.
    /// </summary>
    public virtual byte[] FailureEvent(ProxyOutcome outcome) => outcome == ProxyOutcome.UpstreamTimeout ? s_timeoutEvent : s_cutEvent;

    private static readonly byte[] s_cutEvent = OpenAIError.SerializeEvent(
        "The upstream provider's stream ended before it was complete.", OpenAIError.Upstream, "upstream_stream_cut");
    private static readonly byte[] s_timeoutEvent = OpenAIError.SerializeEvent(
        "The upstream provider did not finish in time.", OpenAIError.Upstream, "upstream_timeout");
}
