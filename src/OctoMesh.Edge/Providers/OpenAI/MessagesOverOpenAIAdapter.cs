using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using OctoMesh.Edge.Proxy;
using OctoMesh.Routing;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Providers.OpenAI;

/// <summary>
/// An Anthropic client (<c>/v1/messages</c>) in front of any provider that is not Anthropic: the request
/// is translated to an OpenAI chat request (<see cref="MessagesRequestTranslator"/>) and handed to the
/// provider's own adapter like any other (spliced for OpenAI-format providers, translated again for
/// Gemini); the answer, stream or not, and errors come back in Anthropic's format. From Gemini the
/// answer takes the same two steps back: Gemini → OpenAI → Anthropic, streams event by event.
/// </summary>
internal sealed class MessagesOverOpenAIAdapter : IProviderAdapter
{
    private const long MaxResponseBytes = 32 * 1024 * 1024;

    public static MessagesOverOpenAIAdapter Instance { get; } = new();

    public HttpRequestMessage? CreateRequest(UpstreamProvider provider, ApiOperation operation, BodyBuffer body, in InspectedRequest inspected,
        ModelTarget target, out ForwardContext context, out string? unsupported)
    {
        context = new ForwardContext(operation, inspected.Stream, IncludeUsage: true, StripUsageChunk: false);
        var translated = new ArrayBufferWriter<byte>(body.Length + 256);
        using (var document = JsonDocument.Parse(body.Memory))
        using (var writer = new Utf8JsonWriter(translated, OpenAIError.WriterOptions))
        {
            unsupported = MessagesRequestTranslator.Write(document.RootElement, provider.Config.StreamUsage, writer);
        }
        if (unsupported is not null)
        {
            return null;
        }
        var chatBody = BodyBuffer.From(translated.WrittenSpan.ToArray());
        if (RequestInspector.Inspect(chatBody.Span, ApiOperation.ChatCompletions, out var chat) is var error and not InspectError.None)
        {
            unsupported = $"The request cannot be expressed for this provider: {RequestInspector.Describe(error, chat)}";
            return null;
        }
        var request = provider.Adapter.CreateRequest(provider, ApiOperation.ChatCompletions, chatBody, chat, target, out var inner, out unsupported);
        context = context with { UpstreamModel = inner.UpstreamModel };
        if (provider.Config.Kind == ProviderKind.Gemini)
        {
            request?.Options.Set(s_gemini, true);
        }
        return request;
    }

    /// <summary>Marks a request that went to Gemini, whose answers come back in Gemini's format.</summary>
    private static readonly HttpRequestOptionsKey<bool> s_gemini = new("octomesh.messages.gemini");

    public async Task<(ProxyOutcome Outcome, TokenUsage? Usage)> SendResponseAsync(HttpResponseMessage upstream, HttpResponse client, ForwardContext context,
        CancellationToken clientAborted, CancellationToken deadline)
    {
        HeaderPolicy.CopyToClient(upstream.Headers, client.Headers);
        var fromGemini = upstream.RequestMessage?.Options.TryGetValue(s_gemini, out var gemini) == true && gemini;
        var body = await upstream.Content.ReadAsStreamAsync(deadline);
        if (upstream.IsSuccessStatusCode && upstream.Content.Headers.ContentType?.MediaType == "text/event-stream")
        {
            client.StatusCode = StatusCodes.Status200OK;
            client.ContentType = "text/event-stream; charset=utf-8";
            SseStreamHandler handler = fromGemini
                ? new ChainedStreamHandler(new Gemini.GeminiStreamTranslator(includeUsage: true, context.UpstreamModel ?? ""), new MessagesStreamTranslator())
                : new MessagesStreamTranslator();
            return await ResponseCopier.CopyStreamAsync(body, client.BodyWriter, handler, clientAborted, deadline);
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
            await AnthropicError.WriteAsync(client, StatusCodes.Status502BadGateway, "The upstream provider's answer broke off.");
            return (ProxyOutcome.UpstreamCut, null);
        }
        using (whole)
        {
            var bytes = whole is null ? ReadOnlySpan<byte>.Empty : whole.Span;
            if (!upstream.IsSuccessStatusCode)
            {
                var code = (int)upstream.StatusCode;
                var message = fromGemini ? Gemini.GeminiAdapter.ErrorMessage(bytes) : OpenAIErrorMessage(bytes);
                await AnthropicError.WriteAsync(client, code, message ?? $"The upstream provider answered {code}.");
                return (ProxyOutcome.Completed, null);
            }
            var translated = new ArrayBufferWriter<byte>(bytes.Length + 256);
            TokenUsage usage = default;
            bool ok;
            using (var writer = new Utf8JsonWriter(translated, OpenAIError.WriterOptions))
            {
                ok = status == BodyReadStatus.Complete && MessagesResponseWriter.TryWrite(fromGemini ? GeminiToOpenAI(bytes, context.UpstreamModel) : bytes, writer, out usage);
            }
            if (!ok)
            {
                await AnthropicError.WriteAsync(client, StatusCodes.Status502BadGateway, "The upstream provider's answer could not be read as a chat completion.");
                return (ProxyOutcome.UpstreamCut, null);
            }
            client.StatusCode = StatusCodes.Status200OK;
            client.ContentType = "application/json";
            client.ContentLength = translated.WrittenCount;
            await client.Body.WriteAsync(translated.WrittenMemory, clientAborted);
            return (ProxyOutcome.Completed, usage);
        }
    }

    /// <summary>A Gemini answer in OpenAI's format, the middle step on the way to Anthropic's.</summary>
    private static ReadOnlySpan<byte> GeminiToOpenAI(ReadOnlySpan<byte> gemini, string? model)
    {
        var openAI = new ArrayBufferWriter<byte>(gemini.Length + 256);
        using (var writer = new Utf8JsonWriter(openAI, OpenAIError.WriterOptions))
        {
            if (!Gemini.GeminiResponseWriter.TryWrite(gemini, model ?? "", writer, out _))
            {
                return default;
            }
        }
        return openAI.WrittenSpan;
    }

    /// <summary>The <c>error.message</c> of an OpenAI error body, if it is one.</summary>
    private static string? OpenAIErrorMessage(ReadOnlySpan<byte> body)
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
