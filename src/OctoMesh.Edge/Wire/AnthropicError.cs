using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace OctoMesh.Edge.Wire;

/// <summary>
/// Errors in Anthropic's format, for clients of <c>/v1/messages</c>:
/// <c>{"type":"error","error":{"type","message"}}</c> (Anthropic API reference, "Errors"), in a body
/// or as a stream's <c>error</c> event.
/// </summary>
internal static class AnthropicError
{
    /// <summary>Anthropic's error type for an HTTP status.</summary>
    public static string TypeFor(int status) => status switch
    {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 or 529 => "overloaded_error",
        >= 500 => "api_error",
        _ => "invalid_request_error",
    };

    public static Task WriteAsync(HttpResponse response, int status, string message, string? type = null)
    {
        var body = Serialize(type ?? TypeFor(status), message);
        response.StatusCode = status;
        response.ContentType = "application/json";
        response.ContentLength = body.Length;
        return response.Body.WriteAsync(body).AsTask();
    }

    /// <summary>The same error as Anthropic's stream event: <c>event: error</c>.</summary>
    public static byte[] SerializeEvent(string type, string message)
    {
        var json = Serialize(type, message);
        var prefix = "event: error\ndata: "u8;
        var bytes = new byte[prefix.Length + json.Length + 2];
        prefix.CopyTo(bytes);
        json.CopyTo(bytes.AsSpan(prefix.Length));
        "\n\n"u8.CopyTo(bytes.AsSpan(prefix.Length + json.Length));
        return bytes;
    }

    public static byte[] Serialize(string type, string message)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer, OpenAIError.WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("type", "error");
            writer.WriteStartObject("error");
            writer.WriteString("type", type);
            writer.WriteString("message", message);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }
}
