using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
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

        Invoker = new HttpMessageInvoker(Handler(config), disposeHandler: true);
    }

    /// <summary>
    /// The provider's connection pool: no proxy, no redirects, no cookies, no decompression (bytes are relayed as they
    /// come); idle connections closed after 90 s and every connection after 5 min, so a moved upstream is followed
    /// without a restart; HTTP/2 opens more connections rather than queueing past a server's stream limit.
    /// </summary>
    private static SocketsHttpHandler Handler(ProviderConfig config)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = config.Timeouts.Connect,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(90),
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            AutomaticDecompression = DecompressionMethods.None,
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false,
            EnableMultipleHttp2Connections = true,
        };
        if (config.CaFile is { } caFile)
        {
            // This provider's certificate must chain to the CA in the file (and name the host); the system's CAs are not asked.
            var roots = new X509Certificate2Collection();
            try
            {
                roots.ImportFromPemFile(caFile);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
            {
                throw new ConfigFileException($"$.providers.{config.Name}.caFile", $"{caFile}: {e.Message}", e);
            }
            if (roots.Count == 0)
            {
                throw new ConfigFileException($"$.providers.{config.Name}.caFile", $"{caFile} holds no PEM certificate");
            }
            var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
            policy.CustomTrustStore.AddRange(roots);
            handler.SslOptions.CertificateChainPolicy = policy;
        }
        return handler;
    }

    /// <summary>Speaks this provider's wire format to OpenAI-format clients.</summary>
    public IProviderAdapter Adapter { get; }

    /// <summary>
    /// The adapter for a client operation: OpenAI-format clients get <see cref="Adapter"/>; Anthropic
    /// clients the pass-through (Anthropic) or the bridge (everyone else); count_tokens only Anthropic.
    /// </summary>
    public IProviderAdapter AdapterFor(Wire.ApiOperation operation) => operation switch
    {
        Wire.ApiOperation.Messages => _messagesAdapter,
        Wire.ApiOperation.CountTokens => _countTokensAdapter,
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
