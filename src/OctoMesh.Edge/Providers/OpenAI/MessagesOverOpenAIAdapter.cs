using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using OctoMesh.Edge.Wire;
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
    public static MessagesOverOpenAIAdapter Instance { get; } = new();

    public HttpRequestMessage? CreateRequest(UpstreamProvider provider, ApiOperation operation, BodyBuffer body, in InspectedRequest inspected,
        ModelTarget target, out ForwardContext context, out string? unsupported)
    {
        context = new ForwardContext(operation, inspected.Stream, IncludeUsage: true, StripUsageChunk: false);
        if (TranslatedRequest.Write(body, (messages, writer) => MessagesRequestTranslator.Write(messages, provider.Config.StreamUsage, writer),
            out unsupported) is not { } translated)
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
        var model = context.UpstreamModel ?? "";
        var body = await upstream.Content.ReadAsStreamAsync(deadline);
        if (upstream.IsSuccessStatusCode && upstream.Content.Headers.ContentType?.MediaType == "text/event-stream")
        {
            SseStreamHandler handler = fromGemini
                ? new ChainedStreamHandler(new Gemini.GeminiStreamTranslator(includeUsage: true, model), new MessagesStreamTranslator())
                : new MessagesStreamTranslator();
            return await TranslatedResponse.StreamAsync(body, client, handler, context.Idle, clientAborted, deadline);
        }
        TranslatedResponse.BodyTranslator translate = fromGemini
            ? (ReadOnlySpan<byte> answer, Utf8JsonWriter writer, out TokenUsage usage) => FromGemini(answer, model, writer, out usage)
            : MessagesResponseWriter.TryWrite;
        return await TranslatedResponse.SendWholeAsync(upstream, body, client, context.Operation, translate,
            (response, status, _, message) => AnthropicError.WriteAsync(response, status, message ?? $"The upstream provider answered {status}."),
            "a chat completion", clientAborted, deadline);
    }

    /// <summary>A Gemini answer to Anthropic's format, through OpenAI's.</summary>
    private static bool FromGemini(ReadOnlySpan<byte> gemini, string model, Utf8JsonWriter writer, out TokenUsage usage)
    {
        usage = default;
        var openAI = new ArrayBufferWriter<byte>(gemini.Length + 256);
        using (var middle = new Utf8JsonWriter(openAI, OpenAIError.WriterOptions))
        {
            if (!Gemini.GeminiResponseWriter.TryWrite(gemini, model, middle, out _))
            {
                return false;
            }
        }
        return MessagesResponseWriter.TryWrite(openAI.WrittenSpan, writer, out usage);
    }
}
