using Microsoft.AspNetCore.Http;
using OctoMesh.Edge.Wire;
using OctoMesh.Routing;

namespace OctoMesh.Edge.Providers.Anthropic;

/// <summary>
/// Anthropic's Messages API behind an OpenAI-format front door: the request is translated by
/// <see cref="AnthropicRequestWriter"/>, a whole answer by <see cref="AnthropicResponseWriter"/>, a
/// stream event by event by <see cref="AnthropicStreamTranslator"/>, and errors into OpenAI's shape
/// with the status an OpenAI client expects (<c>retry-after</c> kept).
/// </summary>
internal sealed class AnthropicAdapter : IProviderAdapter
{
    /// <summary>The Messages API version this adapter speaks (Anthropic API reference, "Versions").</summary>
    public const string ApiVersion = "2023-06-01";

    public static AnthropicAdapter Instance { get; } = new();

    public HttpRequestMessage? CreateRequest(UpstreamProvider provider, ApiOperation operation, BodyBuffer body, in InspectedRequest inspected,
        ModelTarget target, out ForwardContext context, out string? unsupported)
    {
        context = new ForwardContext(operation, inspected.Stream, inspected.IncludeUsage, StripUsageChunk: false);
        if (operation != ApiOperation.ChatCompletions)
        {
            unsupported = $"Provider '{provider.Name}' (Anthropic) has no embeddings API; route embedding models to another provider.";
            return null;
        }

        var model = target.UpstreamModel ?? RequestInspector.ModelName(body.Span, inspected);
        if (TranslatedRequest.Write(body, (openAI, writer) => AnthropicRequestWriter.Write(openAI, model, provider.Config.DefaultMaxTokens, writer),
            out unsupported) is not { } translated)
        {
            return null;
        }
        var request = provider.CreateRequest(provider.ChatEndpoint, TranslatedRequest.Content(translated));
        request.Headers.TryAddWithoutValidation("anthropic-version", ApiVersion);
        if (provider.Config.ApiKey is { } key)
        {
            request.Headers.TryAddWithoutValidation("x-api-key", key);
        }
        return request;
    }

    public async Task<(ProxyOutcome Outcome, TokenUsage? Usage)> SendResponseAsync(HttpResponseMessage upstream, HttpResponse client, ForwardContext context,
        CancellationToken clientAborted, CancellationToken deadline)
    {
        HeaderPolicy.CopyToClient(upstream.Headers, client.Headers);
        var body = await upstream.Content.ReadAsStreamAsync(deadline);
        if (upstream.IsSuccessStatusCode && upstream.Content.Headers.ContentType?.MediaType == "text/event-stream")
        {
            return await TranslatedResponse.StreamAsync(body, client, new AnthropicStreamTranslator(context.IncludeUsage), context.Idle, clientAborted, deadline);
        }
        return await TranslatedResponse.SendWholeAsync(upstream, body, client, context.Operation, AnthropicResponseWriter.TryWrite, WriteErrorAsync,
            "an Anthropic message", clientAborted, deadline);
    }

    /// <summary><c>{"type":"error","error":{"type","message"}}</c> → OpenAI's error, with the status mapped.</summary>
    private static Task WriteErrorAsync(HttpResponse client, int status, string? type, string? message)
    {
        var (mapped, openAIType, code) = AnthropicUsage.ToOpenAIError(status, type);
        return OpenAIError.WriteAsync(client, mapped, message ?? $"The upstream provider answered {status}.", openAIType, code: code);
    }
}
