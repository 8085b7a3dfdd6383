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

    /// <summary>The last chat request as received: lets tests see what the gateway sent upstream.</summary>
    public SimRequest? LastChatRequest { get; private set; }

    internal void CountChat() => Interlocked.Increment(ref _chatCompletions);
    internal void RecordChat(Microsoft.AspNetCore.Http.HttpRequest request, string body) => LastChatRequest = new SimRequest(
        request.Protocol, $"{request.Path}{request.QueryString}", request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString()), body);
    internal void CountEmbeddings() => Interlocked.Increment(ref _embeddings);
    internal void CountAborted() => Interlocked.Increment(ref _aborted);
}

/// <param name="Target">Path and query, e.g. <c>/v1/chat/completions</c>.</param>
/// <param name="Headers">Lower-cased names.</param>
public sealed record SimRequest(string Protocol, string Target, IReadOnlyDictionary<string, string> Headers, string Body);
