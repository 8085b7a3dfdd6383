using System.Net;
using System.Net.Http.Headers;
using OctoMesh.Edge.Proxy;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Providers;

/// <summary>
/// One upstream that speaks OpenAI's wire format (OpenAI, any OpenAI-compatible server, the simulator):
/// its pooled connections and how to address it. The client never chooses the URL: it comes from
/// configuration only.
/// </summary>
internal sealed class UpstreamProvider : IDisposable
{
    private readonly Uri _chatCompletions;
    private readonly Uri _embeddings;
    private readonly AuthenticationHeaderValue? _authorization;
    private readonly Version _version;
    private readonly HttpVersionPolicy _versionPolicy;

    public UpstreamProvider(ProviderConfig config, Uri baseUrl)
    {
        Config = config;
        var root = baseUrl.ToString().TrimEnd('/');
        _chatCompletions = new Uri(root + "/chat/completions");
        _embeddings = new Uri(root + "/embeddings");
        _authorization = config.ApiKey is null ? null : new AuthenticationHeaderValue("Bearer", config.ApiKey);
        (_version, _versionPolicy) = config.Http == UpstreamHttpVersion.Http2
            ? (HttpVersion.Version20, baseUrl.Scheme == "https" ? HttpVersionPolicy.RequestVersionOrLower : HttpVersionPolicy.RequestVersionExact)
            : (HttpVersion.Version11, HttpVersionPolicy.RequestVersionOrLower);

        Invoker = new HttpMessageInvoker(new SocketsHttpHandler
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
        }, disposeHandler: true);
    }

    public ProviderConfig Config { get; }

    public string Name => Config.Name;

    public HttpMessageInvoker Invoker { get; }

    public HttpRequestMessage CreateRequest(ApiOperation operation, HttpContent content)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, operation == ApiOperation.Embeddings ? _embeddings : _chatCompletions)
        {
            Version = _version,
            VersionPolicy = _versionPolicy,
            Content = content,
        };
        request.Headers.Authorization = _authorization;
        return request;
    }

    public void Dispose() => Invoker.Dispose();
}
