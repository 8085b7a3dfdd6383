namespace OctoMesh.Edge.Wire;

/// <summary>
/// What one pass over a request body found: byte offsets into the body (for splicing) and the few
/// values the gateway decides on. A struct of offsets: inspecting allocates nothing.
/// </summary>
internal struct InspectedRequest
{
    /// <summary>Offset of the <c>model</c> value token, opening quote included.</summary>
    public int ModelStart;
    /// <summary>Length of the <c>model</c> token, both quotes included.</summary>
    public int ModelLength;
    /// <summary>The model string holds JSON escapes; read it with <see cref="RequestInspector.CopyModel"/>.</summary>
    public bool ModelIsEscaped;

    public bool Stream;

    /// <summary>Offset of the <c>stream_options</c> value token, or -1 when the field is absent.</summary>
    public int StreamOptionsStart;
    /// <summary><c>stream_options</c> is <c>null</c> rather than an object.</summary>
    public bool StreamOptionsIsNull;
    /// <summary><c>stream_options</c> is <c>{}</c>.</summary>
    public bool StreamOptionsIsEmpty;
    /// <summary>Offset of the <c>include_usage</c> value token, or -1 when absent.</summary>
    public int IncludeUsageStart;
    /// <summary>Length of the <c>include_usage</c> value token (4 or 5).</summary>
    public int IncludeUsageLength;
    /// <summary>The client itself asked for the usage chunk.</summary>
    public bool IncludeUsage;

    /// <summary>Offset of the root object's closing brace.</summary>
    public int RootEnd;

    /// <summary><c>max_completion_tokens</c>, else <c>max_tokens</c>; 0 when neither is given.</summary>
    public int MaxTokens;
    /// <summary><c>n</c>, the choices asked for; 0 when not given (one).</summary>
    public int Choices;
    /// <summary>Number of entries in <c>messages</c> (chat) or <c>input</c> items (embeddings).</summary>
    public int ItemCount;
    /// <summary>The request offers tools.</summary>
    public bool HasTools;

    /// <summary>Offset of the <c>metadata.task</c> string token (quotes included), or -1 when absent.</summary>
    public int TaskStart;
    /// <summary>Length of the <c>metadata.task</c> token.</summary>
    public int TaskLength;

    /// <summary>Set with an error: the offending field, for the error's <c>param</c>.</summary>
    public string? ErrorParam;
    /// <summary>Set with <see cref="InspectError.InvalidJson"/>: the byte offset where parsing failed.</summary>
    public long ErrorOffset;
}
