using System.Text.Json;

namespace OctoMesh.Edge.Providers;

/// <summary>
/// The type and message of a provider's error body. OpenAI (<c>{"error":{"message","type"}}</c>),
/// Anthropic (<c>{"type":"error","error":{"type","message"}}</c>) and Google
/// (<c>{"error":{"code","message","status"}}</c>) all nest them under <c>error</c>.
/// </summary>
internal static class UpstreamError
{
    public static (string? Type, string? Message) Read(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            if (!JsonDocument.TryParseValue(ref reader, out var document))
            {
                return default;
            }
            using (document)
            {
                if (document.RootElement.ValueKind != JsonValueKind.Object
                    || !document.RootElement.TryGetProperty("error", out var error) || error.ValueKind != JsonValueKind.Object)
                {
                    return default;
                }
                return (StringOf(error, "type"), StringOf(error, "message"));
            }
        }
        catch (JsonException)
        {
            return default;
        }
    }

    private static string? StringOf(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
