using System.Text.Json;
using Microsoft.AspNetCore.Http;
using OctoMesh.Edge.Wire;
using OctoMesh.Routing;

namespace OctoMesh.Edge.Providers.Gemini;

/// <summary>
/// Google's Gemini API behind an OpenAI-format front door: <c>generateContent</c> and
/// <c>streamGenerateContent?alt=sse</c> with the key in <c>x-goog-api-key</c>. The request is
/// translated by <see cref="GeminiRequestWriter"/>, a whole answer by <see cref="GeminiResponseWriter"/>,
/// a stream event by event by <see cref="GeminiStreamTranslator"/>; errors
/// (<c>{"error":{"code","message","status"}}</c>) into OpenAI's shape with the status kept.
/// </summary>
internal sealed class GeminiAdapter : IProviderAdapter
{
    public static GeminiAdapter Instance { get; } = new();

    public HttpRequestMessage? CreateRequest(UpstreamProvider provider, ApiOperation operation, BodyBuffer body, in InspectedRequest inspected,
        ModelTarget target, out ForwardContext context, out string? unsupported)
    {
        context = new ForwardContext(operation, inspected.Stream, inspected.IncludeUsage, StripUsageChunk: false);
        if (operation != ApiOperation.ChatCompletions)
        {
            unsupported = $"Provider '{provider.Name}' (Gemini) does not serve OpenAI embeddings here; route embedding models to another provider.";
            return null;
        }
        var model = target.UpstreamModel ?? RequestInspector.ModelName(body.Span, inspected);
        context = context with { UpstreamModel = model };
        if (TranslatedRequest.Write(body, GeminiRequestWriter.Write, out unsupported) is not { } translated)
        {
            return null;
        }
        var request = provider.CreateRequest(provider.GeminiEndpoint(model, inspected.Stream), TranslatedRequest.Content(translated));
        if (provider.Config.ApiKey is { } key)
        {
            request.Headers.TryAddWithoutValidation("x-goog-api-key", key);
        }
        return request;
    }

    public async Task<(ProxyOutcome Outcome, TokenUsage? Usage)> SendResponseAsync(HttpResponseMessage upstream, HttpResponse client, ForwardContext context,
        CancellationToken clientAborted, CancellationToken deadline)
    {
        HeaderPolicy.CopyToClient(upstream.Headers, client.Headers);
        var model = context.UpstreamModel ?? "";
        var body = await upstream.Content.ReadAsStreamAsync(deadline);
        if (upstream.IsSuccessStatusCode && upstream.Content.Headers.ContentType?.MediaType == "text/event-stream")
        {
            return await TranslatedResponse.StreamAsync(body, client, new GeminiStreamTranslator(context.IncludeUsage, model), context.Idle, clientAborted, deadline);
        }
        return await TranslatedResponse.SendWholeAsync(upstream, body, client, context.Operation,
            (ReadOnlySpan<byte> gemini, Utf8JsonWriter writer, out TokenUsage usage) => GeminiResponseWriter.TryWrite(gemini, model, writer, out usage),
            WriteErrorAsync, "a Gemini response", clientAborted, deadline);
    }

    /// <summary>Google's <c>{"error":{"code","message","status"}}</c> → OpenAI's error, status kept.</summary>
    private static Task WriteErrorAsync(HttpResponse client, int status, string? type, string? message)
    {
        var (openAIType, code) = GeminiUsage.ToOpenAIError(status);
        return OpenAIError.WriteAsync(client, status, message ?? $"The upstream provider answered {status}.", openAIType, code: code);
    }
}
