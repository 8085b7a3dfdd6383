using Microsoft.AspNetCore.Http;
using OctoMesh.Edge.Proxy;
using OctoMesh.Routing;

namespace OctoMesh.Edge.Providers.OpenAI;

/// <summary>
/// OpenAI and every OpenAI-compatible server (vLLM, Ollama, Groq, …): the fast path. The client's
/// body goes upstream spliced, not re-serialised, and the answer comes back byte for byte, except
/// the usage chunk the gateway asked for on the client's behalf.
/// </summary>
internal sealed class OpenAIAdapter : IProviderAdapter
{
    public static OpenAIAdapter Instance { get; } = new();

    public HttpRequestMessage? CreateRequest(UpstreamProvider provider, ApiOperation operation, BodyBuffer body, in InspectedRequest inspected,
        ModelTarget target, out ForwardContext context, out string? unsupported)
    {
        unsupported = null;
        var edits = new BodyEdit[2];
        var editCount = UpstreamBodyPlan.Build(inspected, target.UpstreamModelJson, edits, out var stripUsageChunk);
        context = new ForwardContext(operation, inspected.Stream, inspected.IncludeUsage, stripUsageChunk);
        var request = provider.CreateRequest(operation == ApiOperation.Embeddings ? provider.EmbeddingsEndpoint! : provider.ChatEndpoint,
            new SplicedContent(body.Memory, edits, editCount));
        request.Headers.Authorization = provider.BearerAuthorization;
        return request;
    }

    public async Task<(ProxyOutcome Outcome, TokenUsage? Usage)> SendResponseAsync(HttpResponseMessage upstream, HttpResponse client, ForwardContext context,
        CancellationToken clientAborted, CancellationToken deadline)
    {
        client.StatusCode = (int)upstream.StatusCode;
        HeaderPolicy.CopyToClient(upstream.Headers, client.Headers);
        HeaderPolicy.CopyToClient(upstream.Content.Headers, client.Headers);

        var body = await upstream.Content.ReadAsStreamAsync(deadline);
        if (upstream.IsSuccessStatusCode && upstream.Content.Headers.ContentType?.MediaType == "text/event-stream")
        {
            return await ResponseCopier.CopyStreamAsync(body, client.BodyWriter, new OpenAIStreamHandler(context.StripUsageChunk), clientAborted, deadline);
        }
        client.ContentLength = upstream.Content.Headers.ContentLength;
        return await ResponseCopier.CopyBodyAsync(body, client.BodyWriter, upstream.IsSuccessStatusCode, clientAborted, deadline);
    }
}
