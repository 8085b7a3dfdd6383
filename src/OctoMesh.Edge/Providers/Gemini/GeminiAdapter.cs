using System.Buffers;
using System.IO.Pipelines;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using OctoMesh.Edge.Proxy;
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
    private const long MaxResponseBytes = 32 * 1024 * 1024;
    private static readonly MediaTypeHeaderValue s_json = new("application/json");

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
        Span<char> name = stackalloc char[RequestInspector.MaxModelBytes];
        var model = target.UpstreamModel ?? new string(name[..RequestInspector.CopyModel(body.Span, inspected, name)]);
        context = context with { UpstreamModel = model };
        var translated = new ArrayBufferWriter<byte>(body.Length + 256);
        using (var document = JsonDocument.Parse(body.Memory))
        using (var writer = new Utf8JsonWriter(translated, OpenAIError.WriterOptions))
        {
            unsupported = GeminiRequestWriter.Write(document.RootElement, writer);
        }
        if (unsupported is not null)
        {
            return null;
        }
        var content = new ReadOnlyMemoryContent(translated.WrittenMemory);
        content.Headers.ContentType = s_json;
        var request = provider.CreateRequest(provider.GeminiEndpoint(model, inspected.Stream), content);
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
            client.StatusCode = StatusCodes.Status200OK;
            client.ContentType = "text/event-stream; charset=utf-8";
            return await ResponseCopier.CopyStreamAsync(body, client.BodyWriter, new GeminiStreamTranslator(context.IncludeUsage, model), clientAborted, deadline);
        }

        BodyReadStatus status;
        BodyBuffer? whole;
        try
        {
            (status, whole) = await BodyBuffer.ReadAsync(PipeReader.Create(body), upstream.Content.Headers.ContentLength, MaxResponseBytes, deadline);
        }
        catch (OperationCanceledException)
        {
            return (clientAborted.IsCancellationRequested ? ProxyOutcome.ClientGone : ProxyOutcome.UpstreamTimeout, null);
        }
        catch (IOException)
        {
            await OpenAIError.WriteAsync(client, StatusCodes.Status502BadGateway, "The upstream provider's answer broke off.", OpenAIError.Upstream, code: "upstream_stream_cut");
            return (ProxyOutcome.UpstreamCut, null);
        }
        using (whole)
        {
            var bytes = whole is null ? ReadOnlySpan<byte>.Empty : whole.Span;
            if (!upstream.IsSuccessStatusCode)
            {
                var code = (int)upstream.StatusCode;
                var (type, errorCode) = GeminiUsage.ToOpenAIError(code);
                await OpenAIError.WriteAsync(client, code, ErrorMessage(bytes) ?? $"The upstream provider answered {code}.", type, code: errorCode);
                return (ProxyOutcome.Completed, null);
            }
            var translated = new ArrayBufferWriter<byte>(bytes.Length + 512);
            TokenUsage usage = default;
            bool ok;
            using (var writer = new Utf8JsonWriter(translated, OpenAIError.WriterOptions))
            {
                ok = status == BodyReadStatus.Complete && GeminiResponseWriter.TryWrite(bytes, model, writer, out usage);
            }
            if (!ok)
            {
                await OpenAIError.WriteAsync(client, StatusCodes.Status502BadGateway, "The upstream provider's answer could not be read as a Gemini response.",
                    OpenAIError.Upstream, code: "upstream_invalid_response");
                return (ProxyOutcome.UpstreamCut, null);
            }
            client.StatusCode = StatusCodes.Status200OK;
            client.ContentType = "application/json";
            client.ContentLength = translated.WrittenCount;
            await client.Body.WriteAsync(translated.WrittenMemory, clientAborted);
            return (ProxyOutcome.Completed, usage);
        }
    }

    /// <summary>The <c>error.message</c> of a Gemini (Google API) error body.</summary>
    internal static string? ErrorMessage(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            if (!JsonDocument.TryParseValue(ref reader, out var document))
            {
                return null;
            }
            using (document)
            {
                return document.RootElement.ValueKind == JsonValueKind.Object
                    && document.RootElement.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object
                    && error.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.String
                    ? message.GetString()
                    : null;
            }
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
