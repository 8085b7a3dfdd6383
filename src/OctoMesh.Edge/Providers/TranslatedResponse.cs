using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using OctoMesh.Edge.Wire;

namespace OctoMesh.Edge.Providers;

/// <summary>
/// The answer half of an adapter that translates: a stream goes through a translating
/// <see cref="SseStreamHandler"/>; a whole answer is read (bounded), translated and sent with its
/// length; an upstream error becomes the client's error with the provider's message kept.
/// </summary>
internal static class TranslatedResponse
{
    /// <summary>Bound on a non-streamed answer or an error body held for translation.</summary>
    private const long MaxResponseBytes = 32 * 1024 * 1024;

    /// <summary>Writes the client-format translation of a whole upstream answer.</summary>
    public delegate bool BodyTranslator(ReadOnlySpan<byte> upstream, Utf8JsonWriter writer, out TokenUsage usage);

    /// <summary>Writes the client-format error for an upstream error (status, and the provider's error type and message, if it gave them).</summary>
    public delegate Task ErrorTranslator(HttpResponse client, int status, string? type, string? message);

    public static Task<(ProxyOutcome Outcome, TokenUsage? Usage)> StreamAsync(Stream body, HttpResponse client, SseStreamHandler handler,
        TimeSpan idle, CancellationToken clientAborted, CancellationToken deadline)
    {
        client.StatusCode = StatusCodes.Status200OK;
        client.ContentType = "text/event-stream; charset=utf-8";
        return ResponseCopier.CopyStreamAsync(body, client.BodyWriter, handler, idle, clientAborted, deadline);
    }

    /// <param name="what">What the answer should have been, for the 502 when it is not (e.g. "an Anthropic message").</param>
    public static async Task<(ProxyOutcome Outcome, TokenUsage? Usage)> SendWholeAsync(HttpResponseMessage upstream, Stream body, HttpResponse client,
        ApiOperation operation, BodyTranslator translate, ErrorTranslator translateError, string what, CancellationToken clientAborted, CancellationToken deadline)
    {
        if (ClientError.IsUpstreamCredentialRefusal(upstream.StatusCode))
        {
            return await ClientError.WriteUpstreamCredentialRefusalAsync(client, operation, (int)upstream.StatusCode);
        }
        BodyReadStatus status;
        BodyBuffer? whole;
        var reader = PipeReader.Create(body);
        try
        {
            (status, whole) = await BodyBuffer.ReadAsync(reader, upstream.Content.Headers.ContentLength, MaxResponseBytes, deadline);
        }
        catch (OperationCanceledException)
        {
            return (clientAborted.IsCancellationRequested ? ProxyOutcome.ClientGone : ProxyOutcome.UpstreamTimeout, null);
        }
        catch (IOException)
        {
            await ClientError.WriteAsync(client, operation, StatusCodes.Status502BadGateway, "The upstream provider's answer broke off.", code: "upstream_stream_cut");
            return (ProxyOutcome.UpstreamCut, null);
        }
        finally
        {
            await reader.CompleteAsync();
        }

        using (whole)
        {
            if (!upstream.IsSuccessStatusCode)
            {
                var (type, message) = whole is null ? default : UpstreamError.Read(whole.Span);
                await translateError(client, (int)upstream.StatusCode, type, message);
                return (ProxyOutcome.Completed, null);
            }
            TokenUsage usage = default;
            var translated = status == BodyReadStatus.Complete ? Translate(whole!, translate, out usage) : null;
            if (translated is null)
            {
                await ClientError.WriteAsync(client, operation, StatusCodes.Status502BadGateway,
                    $"The upstream provider's answer could not be read as {what}.", code: "upstream_invalid_response");
                return (ProxyOutcome.UpstreamCut, null);
            }
            client.StatusCode = StatusCodes.Status200OK;
            client.ContentType = "application/json";
            client.ContentLength = translated.WrittenCount;
            await client.Body.WriteAsync(translated.WrittenMemory, clientAborted);
            return (ProxyOutcome.Completed, usage);
        }
    }

    private static ArrayBufferWriter<byte>? Translate(BodyBuffer whole, BodyTranslator translate, out TokenUsage usage)
    {
        var translated = new ArrayBufferWriter<byte>(whole.Length + 512);
        using var writer = new Utf8JsonWriter(translated, OpenAIError.WriterOptions);
        try
        {
            if (!translate(whole.Span, writer, out usage))
            {
                return null;
            }
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or OverflowException or KeyNotFoundException or IndexOutOfRangeException)
        {
            // A field of another type than the provider documents: the answer is unreadable, as if it were not JSON.
            usage = default;
            return null;
        }
        writer.Flush();
        return translated;
    }
}
