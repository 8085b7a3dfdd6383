using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace OctoMesh.Edge.Wire;

/// <summary>
/// Errors in OpenAI's format: <c>{"error":{"message","type","param","code"}}</c>, the shape every
/// OpenAI SDK parses (API reference, "Error codes"). The gateway's own messages say what to change and
/// carry no secret; a provider's credential errors are never passed on (<see cref="ClientError.IsUpstreamCredentialRefusal"/>).
/// </summary>
internal static class OpenAIError
{
    public const string InvalidRequest = "invalid_request_error";
    public const string Upstream = "upstream_error";

    /// <summary>
    /// Text as UTF-8, not \u escapes, the way providers write it. Relaxed escaping is safe here: these
    /// bodies are served as application/json, never inlined into HTML.
    /// </summary>
    public static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static Task WriteAsync(HttpResponse response, int status, string message, string type, string? param = null, string? code = null)
    {
        var body = Serialize(message, type, param, code);
        response.StatusCode = status;
        response.ContentType = "application/json";
        response.ContentLength = body.Length;
        return response.Body.WriteAsync(body).AsTask();
    }

    /// <summary>The same error as one server-sent event, for a stream that fails after its first byte.</summary>
    public static byte[] SerializeEvent(string message, string type, string? code)
    {
        var json = Serialize(message, type, null, code);
        var bytes = new byte[6 + json.Length + 2];
        "data: "u8.CopyTo(bytes);
        json.CopyTo(bytes.AsSpan(6));
        "\n\n"u8.CopyTo(bytes.AsSpan(6 + json.Length));
        return bytes;
    }

    public static byte[] Serialize(string message, string type, string? param, string? code)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteStartObject("error");
            writer.WriteString("message", message);
            writer.WriteString("type", type);
            WriteNullable(writer, "param", param);
            WriteNullable(writer, "code", code);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteNullable(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is null)
        {
            writer.WriteNull(name);
        }
        else
        {
            writer.WriteString(name, value);
        }
    }
}
