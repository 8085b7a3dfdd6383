namespace OctoMesh.Routing.Configuration;

/// <summary>What wire format a provider speaks.</summary>
public enum ProviderKind
{
    /// <summary>api.openai.com: OpenAI's Chat Completions and Embeddings APIs.</summary>
    OpenAI,
    /// <summary>Any server that speaks OpenAI's API (vLLM, Ollama, Groq, Together, …).</summary>
    OpenAICompatible,
    /// <summary>Azure OpenAI: deployment paths, <c>api-version</c>, the <c>api-key</c> header.</summary>
    AzureOpenAI,
    /// <summary>Anthropic's Messages API.</summary>
    Anthropic,
    /// <summary>Google's Gemini generateContent API.</summary>
    Gemini,
    /// <summary>The built-in simulator; started in process when no base URL is given.</summary>
    Sim,
}

/// <summary>Which HTTP version the gateway speaks to a provider.</summary>
public enum UpstreamHttpVersion
{
    Http11,
    /// <summary>HTTP/2: negotiated by ALPN over TLS, prior knowledge (h2c) over plain http.</summary>
    Http2,
}

/// <param name="Name">The key under <c>providers</c>.</param>
/// <param name="BaseUrl">Ends without a slash, e.g. <c>https://api.openai.com/v1</c>; null for an in-process simulator.</param>
/// <param name="ApiKey">The resolved key (never logged); null when the provider needs none.</param>
/// <param name="DefaultMaxTokens">Sent as <c>max_tokens</c> to providers that require it (Anthropic) when the client gives none.</param>
/// <param name="ApiVersion">Azure OpenAI's <c>api-version</c> query parameter.</param>
/// <param name="StreamUsage">Ask an OpenAI-format upstream for the usage chunk of streams; off for servers that reject <c>stream_options</c>.</param>
/// <param name="CaFile">A PEM file with the CA that signed the provider's TLS certificate, trusted for this provider alone
/// (a private CA, a self-hosted model server); null: the system's trusted CAs.</param>
public sealed record ProviderConfig(
    string Name,
    ProviderKind Kind,
    Uri? BaseUrl,
    string? ApiKey,
    UpstreamHttpVersion Http,
    TimeoutsConfig Timeouts,
    int DefaultMaxTokens = ProviderConfig.DefaultMaxTokensValue,
    string? ApiVersion = null,
    bool StreamUsage = true,
    string? CaFile = null)
{
    public const int DefaultMaxTokensValue = 4096;
    public const string DefaultAzureApiVersion = "2024-10-21";

    /// <summary>Never prints the key.</summary>
    public override string ToString() => $"{Name} ({Kind}, {BaseUrl?.ToString() ?? "in-process"})";
}

/// <param name="Connect">Establishing the TCP (and TLS) connection.</param>
/// <param name="FirstByte">From sending the request to the response headers.</param>
/// <param name="Total">The whole exchange, streaming included.</param>
/// <param name="Idle">The longest silence between two reads of an answer's body, once it has started.</param>
public sealed record TimeoutsConfig(TimeSpan Connect, TimeSpan FirstByte, TimeSpan Total, TimeSpan Idle)
{
    public static TimeoutsConfig Default { get; } = new(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(120), TimeSpan.FromMinutes(10), TimeSpan.FromSeconds(60));
}
