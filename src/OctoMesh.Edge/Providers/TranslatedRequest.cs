using System.Buffers;
using System.Net.Http.Headers;
using System.Text.Json;
using OctoMesh.Edge.Wire;

namespace OctoMesh.Edge.Providers;

/// <summary>
/// The request half of an adapter that translates: the client's body read into a DOM and written anew by the
/// adapter's writer, which returns why the target cannot take the request, or null.
/// </summary>
internal static class TranslatedRequest
{
    private static readonly MediaTypeHeaderValue s_json = new("application/json");

    /// <summary>The translated body, or null with <paramref name="unsupported"/> saying why there is none.</summary>
    public static ArrayBufferWriter<byte>? Write(BodyBuffer body, Func<JsonElement, Utf8JsonWriter, string?> translate, out string? unsupported)
    {
        var translated = new ArrayBufferWriter<byte>(body.Length + 256);
        using (var document = JsonDocument.Parse(body.Memory))
        using (var writer = new Utf8JsonWriter(translated, OpenAIError.WriterOptions))
        {
            unsupported = translate(document.RootElement, writer);
        }
        return unsupported is null ? translated : null;
    }

    /// <summary>The translated body as JSON request content.</summary>
    public static HttpContent Content(ArrayBufferWriter<byte> translated)
    {
        var content = new ReadOnlyMemoryContent(translated.WrittenMemory);
        content.Headers.ContentType = s_json;
        return content;
    }
}
