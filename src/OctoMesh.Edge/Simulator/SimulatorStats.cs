namespace OctoMesh.Edge.Simulator;

/// <summary>What the simulator has been asked, so tests can tell how many calls reached the upstream.</summary>
public sealed class SimulatorStats
{
    private long _chatCompletions;
    private long _embeddings;
    private long _aborted;

    public long ChatCompletions => Interlocked.Read(ref _chatCompletions);
    public long Embeddings => Interlocked.Read(ref _embeddings);
    /// <summary>Answers the simulator could not finish because the caller went away.</summary>
    public long Aborted => Interlocked.Read(ref _aborted);

    /// <summary>The headers and body of the last chat request, as received: lets tests see what the gateway sent upstream.</summary>
    public (string Protocol, IReadOnlyDictionary<string, string> Headers, string Body)? LastChatRequest { get; private set; }

    internal void CountChat() => Interlocked.Increment(ref _chatCompletions);
    internal void RecordChat(string protocol, IReadOnlyDictionary<string, string> headers, string body) => LastChatRequest = (protocol, headers, body);
    internal void CountEmbeddings() => Interlocked.Increment(ref _embeddings);
    internal void CountAborted() => Interlocked.Increment(ref _aborted);
}
