using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace OctoMesh.Edge.Optimizer;

internal enum CheckerKind
{
    /// <summary>The answer equals the reference, case, surrounding space and a final period aside.</summary>
    Exact,

    /// <summary>The answer matches the pattern (the reference is not needed).</summary>
    Regex,

    /// <summary>The first number in the answer is within the tolerance of the reference number.</summary>
    Numeric,

    /// <summary>The answer is a JSON object with the schema's required properties of their types, and, given a reference object, the same values.</summary>
    Json,

    /// <summary>An open task: a judge model compares the answer with the reference model's, both ways round (<see cref="EvalRunner"/>).</summary>
    Judge,

    /// <summary>The answer's JavaScript (its first fenced block, else the whole answer) passes the item's tests (<see cref="CodeTest"/>).</summary>
    Code,
}

/// <summary>How a closed task's answer is scored: 1 right, 0 wrong.</summary>
/// <param name="Pattern">The <see cref="CheckerKind.Regex"/> pattern.</param>
/// <param name="Tolerance">The <see cref="CheckerKind.Numeric"/> tolerance (absolute).</param>
/// <param name="Schema">The <see cref="CheckerKind.Json"/> schema (JSON Schema's <c>required</c> and <c>properties.*.type</c>), raw.</param>
/// <param name="Tests">The <see cref="CheckerKind.Code"/> tests: JavaScript run after the answer's code; they throw when it is wrong.</param>
/// <param name="TimeoutMs">How long the <see cref="CheckerKind.Code"/> tests may run.</param>
internal sealed partial record Checker(CheckerKind Kind, string? Pattern = null, double Tolerance = 0, string? Schema = null, string? Tests = null,
    int TimeoutMs = 5000)
{
    private static readonly TimeSpan s_regexTimeout = TimeSpan.FromMilliseconds(100);

    public static Checker Read(JsonElement element)
    {
        var kind = element.GetProperty("kind").GetString() switch
        {
            "exact" => CheckerKind.Exact,
            "regex" => CheckerKind.Regex,
            "numeric" => CheckerKind.Numeric,
            "json" or "json_schema" => CheckerKind.Json,
            "judge" => CheckerKind.Judge,
            "code" => CheckerKind.Code,
            var other => throw new FormatException($"'{other}' is not a checker: write exact, regex, numeric, json, judge or code"),
        };
        var checker = new Checker(kind,
            element.TryGetProperty("pattern", out var p) ? p.GetString() : null,
            element.TryGetProperty("tolerance", out var t) ? t.GetDouble() : 0,
            element.TryGetProperty("schema", out var s) ? s.GetRawText() : null,
            element.TryGetProperty("tests", out var tests) ? tests.GetString() : null,
            element.TryGetProperty("timeoutMs", out var ms) ? ms.GetInt32() : 5000);
        if (kind == CheckerKind.Code && checker.Tests is null)
        {
            throw new FormatException("a code checker needs its tests");
        }
        if (kind == CheckerKind.Regex)
        {
            _ = new Regex(checker.Pattern ?? throw new FormatException("a regex checker needs a pattern"), RegexOptions.None, s_regexTimeout);
        }
        return checker;
    }

    public void Write(Utf8JsonWriter json)
    {
        json.WriteStartObject();
        json.WriteString("kind", Kind switch
        {
            CheckerKind.Regex => "regex", CheckerKind.Numeric => "numeric", CheckerKind.Json => "json", CheckerKind.Judge => "judge",
            CheckerKind.Code => "code", _ => "exact",
        });
        if (Pattern is not null)
        {
            json.WriteString("pattern", Pattern);
        }
        if (Tolerance != 0)
        {
            json.WriteNumber("tolerance", Tolerance);
        }
        if (Schema is not null)
        {
            json.WritePropertyName("schema");
            json.WriteRawValue(Schema);
        }
        if (Tests is not null)
        {
            json.WriteString("tests", Tests);
            json.WriteNumber("timeoutMs", TimeoutMs);
        }
        json.WriteEndObject();
    }

    /// <summary>1 when <paramref name="answer"/> is right, else 0 (a judged task is scored by <see cref="JudgedScore"/>).</summary>
    public double Score(string answer, string? reference) => Kind switch
    {
        CheckerKind.Judge => throw new InvalidOperationException("a judged task is scored by its judge"),
        CheckerKind.Code => CodeTest.Passes(answer, Tests!, TimeSpan.FromMilliseconds(TimeoutMs)) ? 1 : 0,
        CheckerKind.Exact => Normalize(answer) == Normalize(reference ?? "") ? 1 : 0,
        CheckerKind.Regex => Matches(answer) ? 1 : 0,
        CheckerKind.Numeric => FirstNumber(answer) is { } value && FirstNumber(reference ?? "") is { } expected && Math.Abs(value - expected) <= Tolerance ? 1 : 0,
        _ => JsonRight(answer, reference) ? 1 : 0,
    };

    /// <summary>
    /// A judge's verdict: its whole reply, once quotes, markdown emphasis, a final period and an "Answer" before it are
    /// set aside, must be A, B or tie; anything longer ("A tie.", "A: wrong. B: right") is no verdict (null).
    /// </summary>
    public static string? Verdict(string text)
    {
        var reply = text.Trim().Trim('*', '"', '\'', '`', '.', ' ', '\n');
        if (reply.StartsWith("Answer ", StringComparison.OrdinalIgnoreCase))
        {
            reply = reply[7..].Trim();
        }
        return reply.ToUpperInvariant() switch
        {
            "A" => "A",
            "B" => "B",
            "TIE" => "tie",
            _ => null,
        };
    }

    /// <summary>
    /// The candidate against the reference, judged twice with the answers' places swapped (so a judge that prefers a
    /// place cannot decide): 1 when it is not worse either way, 0 when it is worse both ways, ½ when the two verdicts
    /// disagree.
    /// </summary>
    /// <param name="candidateFirst">The verdict with the candidate as answer A.</param>
    /// <param name="candidateSecond">The verdict with the candidate as answer B.</param>
    public static double JudgedScore(string candidateFirst, string candidateSecond)
    {
        var first = candidateFirst is "A" or "tie";
        var second = candidateSecond is "B" or "tie";
        return first && second ? 1 : first || second ? 0.5 : 0;
    }

    private bool Matches(string answer)
    {
        try
        {
            return System.Text.RegularExpressions.Regex.IsMatch(answer, Pattern!, RegexOptions.None, s_regexTimeout);
        }
        catch (RegexMatchTimeoutException)
        {
            return false;
        }
    }

    private static string Normalize(string text) => text.Trim().TrimEnd('.').Trim().ToLowerInvariant();

    private static double? FirstNumber(string text) =>
        Number().Match(text) is { Success: true } match && double.TryParse(match.Value.Replace(",", "", StringComparison.Ordinal), NumberStyles.Float,
            CultureInfo.InvariantCulture, out var value) ? value : null;

    private bool JsonRight(string answer, string? reference)
    {
        try
        {
            using var given = JsonDocument.Parse(answer.Trim());
            var root = given.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return false;
            }
            if (Schema is not null)
            {
                using var schema = JsonDocument.Parse(Schema);
                if (!Conforms(root, schema.RootElement))
                {
                    return false;
                }
            }
            if (reference is null)
            {
                return true;
            }
            using var expected = JsonDocument.Parse(reference);
            return expected.RootElement.EnumerateObject().All(p => root.TryGetProperty(p.Name, out var value) && JsonElement.DeepEquals(value, p.Value));
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // Not JSON, or a reference or schema of another shape than an object: not right.
            return false;
        }
    }

    /// <summary>JSON Schema's <c>required</c> and each property's <c>type</c>: the part closed tasks need.</summary>
    private static bool Conforms(JsonElement value, JsonElement schema)
    {
        if (schema.TryGetProperty("required", out var required)
            && required.EnumerateArray().Any(name => !value.TryGetProperty(name.GetString()!, out _)))
        {
            return false;
        }
        if (!schema.TryGetProperty("properties", out var properties))
        {
            return true;
        }
        foreach (var property in properties.EnumerateObject())
        {
            if (value.TryGetProperty(property.Name, out var given) && property.Value.TryGetProperty("type", out var type)
                && !IsType(given, type.GetString()))
            {
                return false;
            }
        }
        return true;
    }

    private static bool IsType(JsonElement value, string? type) => type switch
    {
        "string" => value.ValueKind == JsonValueKind.String,
        "integer" => value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out _),
        "number" => value.ValueKind == JsonValueKind.Number,
        "boolean" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "array" => value.ValueKind == JsonValueKind.Array,
        "object" => value.ValueKind == JsonValueKind.Object,
        "null" => value.ValueKind == JsonValueKind.Null,
        _ => true,
    };

    [GeneratedRegex(@"-?\d[\d,]*(\.\d+)?")]
    private static partial Regex Number();
}
