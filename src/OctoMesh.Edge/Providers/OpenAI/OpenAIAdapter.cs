using Microsoft.AspNetCore.Http;
using OctoMesh.Edge.Wire;
using OctoMesh.Routing;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Providers.OpenAI;

/// <summary>
/// OpenAI, Azure OpenAI and every OpenAI-compatible server (vLLM, Ollama, Groq, …): the fast path. The client's
/// body goes upstream spliced, not re-serialised, and the answer comes back byte for byte, except
/// the usage chunk the gateway asked for on the client's behalf. Provider differences are data
/// (<see cref="ProviderConfig"/>): Azure's deployment path and <c>api-key</c> header, and whether the
/// server accepts <c>stream_options</c>.
/// </summary>
internal sealed class OpenAIAdapter : IProviderAdapter
{
    public static OpenAIAdapter Instance { get; } = new();

    public HttpRequestMessage? CreateRequest(UpstreamProvider provider, ApiOperation operation, BodyBuffer body, in InspectedRequest inspected,
        ModelTarget target, out ForwardContext context, out string? unsupported)
    {
        unsupported = null;
        var edits = new BodyEdit[2];
        var editCount = UpstreamBodyPlan.Build(inspected, target.UpstreamModelJson, provider.Config.StreamUsage, edits, out var stripUsageChunk);
        context = new ForwardContext(operation, inspected.Stream, inspected.IncludeUsage, stripUsageChunk);
        Uri endpoint;
        if (provider.Config.Kind == ProviderKind.AzureOpenAI)
        {
            // The deployment is a path segment: only Azure's name characters, so no name can step out of it ("..").
            var deployment = target.UpstreamModel ?? RequestInspector.ModelName(body.Span, inspected);
            if (!IsDeploymentName(deployment))
            {
                context = default;
                unsupported = $"'{deployment}' is not an Azure OpenAI deployment name: use letters, digits, '-', '_' and '.', starting with a letter or digit.";
                return null;
            }
            endpoint = provider.EndpointFor(operation == ApiOperation.Embeddings, deployment);
        }
        else
        {
            endpoint = provider.EndpointFor(operation == ApiOperation.Embeddings, "");
        }
        var request = provider.CreateRequest(endpoint, new SplicedContent(body.Memory, edits, editCount));
        if (provider.Config.Kind == ProviderKind.AzureOpenAI)
        {
            request.Headers.TryAddWithoutValidation("api-key", provider.Config.ApiKey);
        }
        else
        {
            request.Headers.Authorization = provider.BearerAuthorization;
        }
        return request;
    }

    private static bool IsDeploymentName(string name) =>
        name.Length is > 0 and <= 64 && char.IsAsciiLetterOrDigit(name[0]) && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    public Task<(ProxyOutcome Outcome, TokenUsage? Usage)> SendResponseAsync(HttpResponseMessage upstream, HttpResponse client, ForwardContext context,
        CancellationToken clientAborted, CancellationToken deadline) =>
        ResponseCopier.RelayAsync(upstream, client, context, static c => new OpenAIStreamHandler(c.StripUsageChunk), readUsage: true, clientAborted, deadline);
}
