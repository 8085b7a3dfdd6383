using System.Text.Json;

namespace OctoMesh.Edge.Wire;

/// <summary>Reading OpenAI message content the same way in every translator.</summary>
internal static class OpenAIContent
{
    /// <summary>A content value as text: a string, or its text parts joined; anything else is empty.</summary>
    public static string Text(JsonElement content) => content.ValueKind switch
    {
        JsonValueKind.String => content.GetString()!,
        JsonValueKind.Array => string.Concat(content.EnumerateArray()
            .Where(p => p.ValueKind == JsonValueKind.Object && p.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String)
            .Select(p => p.GetProperty("text").GetString())),
        _ => "",
    };

    /// <summary>
    /// A tool call's <c>function.arguments</c> (a JSON text in OpenAI's format) as a JSON object, as Anthropic and Gemini
    /// want them: empty or missing is <c>{}</c>; false when the text is not JSON.
    /// </summary>
    public static bool TryParseArguments(JsonElement function, out JsonElement arguments)
    {
        var text = function.TryGetProperty("arguments", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString()! : "{}";
        try
        {
            using var parsed = JsonDocument.Parse(text.Length == 0 ? "{}" : text);
            arguments = parsed.RootElement.Clone();
            return true;
        }
        catch (JsonException)
        {
            arguments = default;
            return false;
        }
    }

    /// <summary>Splits <c>data:image/png;base64,…</c> (RFC 2397) into media type and base64 data.</summary>
    public static bool TryParseDataUrl(string url, out string mediaType, out string data)
    {
        const string Marker = ";base64,";
        var at = url.IndexOf(Marker, StringComparison.Ordinal);
        if (url.StartsWith("data:", StringComparison.Ordinal) && at > 5)
        {
            (mediaType, data) = (url[5..at], url[(at + Marker.Length)..]);
            return true;
        }
        (mediaType, data) = ("", "");
        return false;
    }
}
