using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace OctoMesh.Edge.Privacy;

/// <summary>
/// Takes common secrets and personal data out of text before anything is kept: API keys and tokens (OpenAI,
/// Anthropic, Google, AWS, GitHub, Slack, OctoMesh, bearer tokens, <c>password=…</c>-style assignments), email
/// addresses, payment card numbers (13–19 digits passing the Luhn check) and phone numbers (international or
/// grouped national forms). Each is replaced by <c>[REDACTED:kind]</c>, which holds no quote or backslash, so JSON
/// stays JSON. Patterns, not understanding: a secret in an unusual shape can pass, which is why nothing is kept
/// unless a workspace chose <c>full</c>.
/// </summary>
internal static partial class Redactor
{
    public static string Redact(string text)
    {
        text = Secret().Replace(text, "[REDACTED:secret]");
        text = Assignment().Replace(text, match => match.Groups["name"].Value + match.Groups["sep"].Value + "[REDACTED:secret]");
        text = Email().Replace(text, "[REDACTED:email]");
        text = Card().Replace(text, match => Luhn(match.ValueSpan) ? "[REDACTED:card]" : match.Value);
        return Phone().Replace(text, "[REDACTED:phone]");
    }

    /// <summary>
    /// A JSON document with every string value redacted and its structure (names, numbers, nesting) untouched, so a
    /// digit run that is a number field is never taken for a card; text that is not JSON is redacted whole.
    /// </summary>
    public static string RedactJson(string text)
    {
        var output = new ArrayBufferWriter<byte>(text.Length + 64);
        try
        {
            var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(text));
            // The value of a property named like a secret ("password", "api_key", …) goes whole, whatever it looks like.
            var secretProperty = false;
            using var writer = new Utf8JsonWriter(output, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.String:
                        writer.WriteStringValue(secretProperty ? "[REDACTED:secret]" : Redact(reader.GetString()!));
                        break;
                    case JsonTokenType.PropertyName:
                        var name = reader.GetString()!;
                        secretProperty = SecretName().IsMatch(name);
                        writer.WritePropertyName(name);
                        continue;
                    case JsonTokenType.StartObject:
                        writer.WriteStartObject();
                        break;
                    case JsonTokenType.EndObject:
                        writer.WriteEndObject();
                        break;
                    case JsonTokenType.StartArray:
                        writer.WriteStartArray();
                        break;
                    case JsonTokenType.EndArray:
                        writer.WriteEndArray();
                        break;
                    default:
                        writer.WriteRawValue(reader.ValueSpan, skipInputValidation: true);
                        break;
                }
                secretProperty = false;
            }
            writer.Flush();
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return Redact(text);
        }
        return Encoding.UTF8.GetString(output.WrittenSpan);
    }

    /// <summary>Whether the digits of <paramref name="number"/> (spaces and dashes aside) pass the Luhn check.</summary>
    public static bool Luhn(ReadOnlySpan<char> number)
    {
        var sum = 0;
        var digits = 0;
        for (var i = number.Length - 1; i >= 0; i--)
        {
            if (!char.IsAsciiDigit(number[i]))
            {
                continue;
            }
            var digit = number[i] - '0';
            if (digits++ % 2 == 1)
            {
                digit = digit * 2 > 9 ? digit * 2 - 9 : digit * 2;
            }
            sum += digit;
        }
        return digits is >= 13 and <= 19 && sum % 10 == 0;
    }

    [GeneratedRegex(@"\b(?:sk-(?:ant-|proj-)?[A-Za-z0-9_\-]{16,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_\-]{35}|gh[pousr]_[A-Za-z0-9]{30,}|xox[abprs]-[A-Za-z0-9\-]{10,}|om-[a-z2-7]{12}-[A-Za-z0-9_\-]{20,})|(?<=\bBearer\s+)[A-Za-z0-9._~+/\-]{16,}=*",
        RegexOptions.CultureInvariant)]
    private static partial Regex Secret();

    /// <summary><c>password: x</c>, <c>api_key="x"</c>, <c>secret=x</c>, … (the value, up to a quote, space or separator).</summary>
    [GeneratedRegex("""(?<name>\b(?:api[_-]?key|secret|token|password|passwd|pwd|access[_-]?key)\b(?:\\?["'])?)(?<sep>\s*[:=]\s*(?:\\?["'])?)[^\s"'\\,;&]{4,}""",
        RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex Assignment();

    [GeneratedRegex(@"^(?:api[_-]?key|secret|client[_-]?secret|token|access[_-]?token|refresh[_-]?token|password|passwd|pwd|access[_-]?key|authorization)$",
        RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex SecretName();

    [GeneratedRegex(@"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b", RegexOptions.CultureInvariant)]
    private static partial Regex Email();

    [GeneratedRegex(@"(?<![\d\-])\d(?:[ \-]?\d){12,18}(?![\d\-])", RegexOptions.CultureInvariant)]
    private static partial Regex Card();

    /// <summary><c>+44 20 7946 0958</c>, <c>(555) 123-4567</c>, <c>555-123-4567</c>, <c>030 1234 5678</c>: grouped or international.</summary>
    [GeneratedRegex(@"(?<![\w+])(?<!\d[ .\-])(?:\+\d{1,3}[ .\-]?(?:\(?\d{1,4}\)?[ .\-]?){1,4}\d{2,4}|\(\d{2,5}\)[ .\-]?\d{3,4}[ .\-]?\d{3,4}|\d{2,5}[ .\-]\d{3,4}[ .\-]\d{3,4})(?![ .\-]?\d)(?!\w)",
        RegexOptions.CultureInvariant)]
    private static partial Regex Phone();
}
