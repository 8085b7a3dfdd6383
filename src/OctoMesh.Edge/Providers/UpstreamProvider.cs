using System.Net;
using System.Net.Http.Headers;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Providers;

/// <summary>
/// One upstream provider: its pooled connections, its endpoints and the adapter that speaks its wire
/// format. The client never chooses the URL: it comes from configuration only.
/// </summary>
internal sealed class UpstreamProvider : IDisposable
{
    private readonly string _root;
    private readonly IProviderAdapter _messagesAdapter;
    private readonly IProviderAdapter _countTokensAdapter;
    private readonly Version _version;
    private readonly HttpVersionPolicy _versionPolicy;

    public UpstreamProvider(ProviderConfig config, Uri baseUrl)
    {
        Config = config;
        var root = _root = baseUrl.ToString().TrimEnd('/');
        (Adapter, ChatEndpoint, EmbeddingsEndpoint) = config.Kind switch
        {
            ProviderKind.Anthropic => ((IProviderAdapter)Anthropic.AnthropicAdapter.Instance, new Uri(root + "/messages"), (Uri?)null),
            ProviderKind.Gemini => (Gemini.GeminiAdapter.Instance, new Uri(root + "/models"), null),
            _ => (OpenAI.OpenAIAdapter.Instance, new Uri(root + "/chat/completions"), new Uri(root + "/embeddings")),
        };
        _messagesAdapter = config.Kind switch
        {
            ProviderKind.Anthropic => Anthropic.AnthropicPassThroughAdapter.Instance,
            _ => OpenAI.MessagesOverOpenAIAdapter.Instance,
        };
        // Only Anthropic counts Anthropic's tokens; a guess from another tokenizer would mislead.
        _countTokensAdapter = config.Kind == ProviderKind.Anthropic
            ? Anthropic.AnthropicPassThroughAdapter.Instance
            : new UnsupportedAdapter($"count_tokens is answered by Anthropic providers only, and the model's provider '{config.Name}' is not one.");
        BearerAuthorization = config.ApiKey is null || config.Kind == ProviderKind.AzureOpenAI ? null : new AuthenticationHeaderValue("Bearer", config.ApiKey);
        (_version, _versionPolicy) = config.Http == UpstreamHttpVersion.Http2
            ? (HttpVersion.Version20, baseUrl.Scheme == "https" ? HttpVersionPolicy.RequestVersionOrLower : HttpVersionPolicy.RequestVersionExact)
            : (HttpVersion.Version11, HttpVersionPolicy.RequestVersionOrLower);

        // Plain-http HTTP/1.1 upstreams get the gateway's own lean client; TLS and h2c, SocketsHttpHandler.
        HttpMessageHandler handler = baseUrl.Scheme == Uri.UriSchemeHttp && config.Http != UpstreamHttpVersion.Http2
            ? new Http11.Http11Handler(baseUrl, config.Timeouts.Connect)
            : new SocketsHttpHandler
            {
                ConnectTimeout = config.Timeouts.Connect,
                PooledConnectionIdleTimeout = TimeSpan.FromSeconds(90),
                // Re-resolve DNS now and then, so a moved upstream is followed without a restart.
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                AutomaticDecompression = DecompressionMethods.None,
                AllowAutoRedirect = false,
                UseCookies = false,
                UseProxy = false,
                EnableMultipleHttp2Connections = true,
            };
        Invoker = new HttpMessageInvoker(handler, disposeHandler: true);
    }

    /// <summary>Speaks this provider's wire format to OpenAI-format clients.</summary>
    public IProviderAdapter Adapter { get; }

    /// <summary>
    /// The adapter for a client operation: OpenAI-format clients get <see cref="Adapter"/>; Anthropic
    /// clients the pass-through (Anthropic) or the bridge (everyone else); count_tokens only Anthropic.
    /// </summary>
    public IProviderAdapter AdapterFor(Proxy.ApiOperation operation) => operation switch
    {
        Proxy.ApiOperation.Messages => _messagesAdapter,
        Proxy.ApiOperation.CountTokens => _countTokensAdapter,
        _ => Adapter,
    };

    /// <summary>
    /// Gemini's endpoint for <paramref name="model"/>: <c>{base}/models/{model}:generateContent</c>, or
    /// <c>:streamGenerateContent?alt=sse</c> for a stream (Gemini API reference, "Generating content").
    /// </summary>
    public Uri GeminiEndpoint(string model, bool stream) =>
        new($"{_root}/models/{Uri.EscapeDataString(model)}:{(stream ? "streamGenerateContent?alt=sse" : "generateContent")}");

    /// <summary>
    /// Where a request for <paramref name="model"/> goes. Azure OpenAI addresses a deployment by path,
    /// <c>{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=…</c> (Azure OpenAI
    /// REST reference, "Chat completions"); everyone else has fixed endpoints.
    /// </summary>
    public Uri EndpointFor(bool embeddings, string model)
    {
        if (Config.Kind != ProviderKind.AzureOpenAI)
        {
            return embeddings ? EmbeddingsEndpoint! : ChatEndpoint;
        }
        var operation = embeddings ? "embeddings" : "chat/completions";
        return new Uri($"{_root}/openai/deployments/{Uri.EscapeDataString(model)}/{operation}?api-version={Config.ApiVersion}");
    }

    /// <summary>Anthropic's <c>…/messages/count_tokens</c>.</summary>
    public Uri CountTokensEndpoint => new(ChatEndpoint + "/count_tokens");

    /// <summary>Where chat requests go: <c>…/chat/completions</c>, or <c>…/messages</c> for Anthropic.</summary>
    public Uri ChatEndpoint { get; }

    /// <summary><c>…/embeddings</c>; null for providers without an embeddings API.</summary>
    public Uri? EmbeddingsEndpoint { get; }

    /// <summary><c>Authorization: Bearer</c> with the provider key, for OpenAI-format upstreams other than Azure (which takes <c>api-key</c>).</summary>
    public AuthenticationHeaderValue? BearerAuthorization { get; }

    public ProviderConfig Config { get; }

    public string Name => Config.Name;

    public HttpMessageInvoker Invoker { get; }

    public HttpRequestMessage CreateRequest(Uri endpoint, HttpContent content) => new(HttpMethod.Post, endpoint)
    {
        Version = _version,
        VersionPolicy = _versionPolicy,
        Content = content,
    };

    public void Dispose() => Invoker.Dispose();
}
