using System.Buffers;
using System.IO.Pipelines;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using OctoMesh.Edge.Proxy;
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

    /// <summary>Bound on a non-streamed answer or an error body held for translation.</summary>
    private const long MaxResponseBytes = 32 * 1024 * 1024;

    private static readonly MediaTypeHeaderValue s_json = new("application/json");

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

        Span<char> name = stackalloc char[RequestInspector.MaxModelBytes];
        var model = target.UpstreamModel ?? new string(name[..RequestInspector.CopyModel(body.Span, inspected, name)]);
        var translated = new ArrayBufferWriter<byte>(body.Length + 256);
        using (var document = JsonDocument.Parse(body.Memory))
        using (var writer = new Utf8JsonWriter(translated, OpenAIError.WriterOptions))
        {
            unsupported = AnthropicRequestWriter.Write(document.RootElement, model, provider.Config.DefaultMaxTokens, writer);
        }
        if (unsupported is not null)
        {
            return null;
        }

        var content = new ReadOnlyMemoryContent(translated.WrittenMemory);
        content.Headers.ContentType = s_json;
        var request = provider.CreateRequest(provider.ChatEndpoint, content);
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
            client.StatusCode = StatusCodes.Status200OK;
            client.ContentType = "text/event-stream; charset=utf-8";
            return await ResponseCopier.CopyStreamAsync(body, client.BodyWriter, new AnthropicStreamTranslator(context.IncludeUsage), clientAborted, deadline);
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
                await WriteErrorAsync(client, (int)upstream.StatusCode, bytes);
                return (ProxyOutcome.Completed, null);
            }
            var translated = new ArrayBufferWriter<byte>(bytes.Length + 512);
            TokenUsage usage = default;
            bool ok;
            using (var writer = new Utf8JsonWriter(translated, OpenAIError.WriterOptions))
            {
                ok = status == BodyReadStatus.Complete && AnthropicResponseWriter.TryWrite(bytes, writer, out usage);
            }
            if (!ok)
            {
                await OpenAIError.WriteAsync(client, StatusCodes.Status502BadGateway, "The upstream provider's answer could not be read as an Anthropic message.",
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

    /// <summary><c>{"type":"error","error":{"type","message"}}</c> → OpenAI's error, with the status mapped.</summary>
    private static Task WriteErrorAsync(HttpResponse client, int status, ReadOnlySpan<byte> body)
    {
        string? type = null, message = null;
        try
        {
            var reader = new Utf8JsonReader(body);
            if (JsonDocument.TryParseValue(ref reader, out var document))
            {
                using (document)
                {
                    if (document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("error", out var error)
                        && error.ValueKind == JsonValueKind.Object)
                    {
                        type = error.TryGetProperty("type", out var t) ? t.GetString() : null;
                        message = error.TryGetProperty("message", out var m) ? m.GetString() : null;
                    }
                }
            }
        }
        catch (JsonException)
        {
            // Not Anthropic's error shape: the status alone speaks.
        }
        var (mapped, openAIType, code) = AnthropicUsage.ToOpenAIError(status, type);
        return OpenAIError.WriteAsync(client, mapped, message ?? $"The upstream provider answered {status}.", openAIType, code: code);
    }
}
