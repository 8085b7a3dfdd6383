using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Text;
using System.Text.Json;

namespace OctoMesh.Routing.Configuration;

public static partial class ConfigLoader
{
    /// <summary>The readers every section shares: flags, integers, strings, objects and their fields, and the error list.</summary>
    private sealed partial class ConfigReader
    {
        /// <summary>The field as true or false; null when it is absent, or (the error reported with <paramref name="fix"/>) not a boolean.</summary>
        private bool? Flag(Dictionary<string, JsonElement> fields, string name, string path, string fix)
        {
            if (!fields.TryGetValue(name, out var value))
            {
                return null;
            }
            if (value.ValueKind is JsonValueKind.True or JsonValueKind.False)
            {
                return value.GetBoolean();
            }
            Error($"{path}.{name}", $"expected true or false, got {Describe(value)}", fix);
            return null;
        }

        /// <summary>The field when it is a non-empty string; null otherwise (a caller that must have one says so).</summary>
        private static string? OptionalText(Dictionary<string, JsonElement> fields, string name) =>
            fields.TryGetValue(name, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } text ? text : null;

        private string? RequiredString(Dictionary<string, JsonElement> fields, string name, string path, string what)
        {
            if (fields.TryGetValue(name, out var element) && element.ValueKind == JsonValueKind.String && element.GetString()!.Length > 0)
            {
                return element.GetString();
            }
            Error($"{path}.{name}", element.ValueKind == JsonValueKind.Undefined ? "missing" : $"expected a non-empty string, got {Describe(element)}", $"write {what}");
            return null;
        }

        private long? Integer(JsonElement element, string path, long min, long max, string what)
        {
            if (element.ValueKind == JsonValueKind.Number && element.TryGetInt64(out var value) && value >= min && value <= max)
            {
                return value;
            }
            Error(path, $"{Describe(element)} is out of range", $"write {what}");
            return null;
        }

        private bool ExpectObject(JsonElement element, string path, string fix)
        {
            if (element.ValueKind == JsonValueKind.Object)
            {
                return true;
            }
            Error(path, $"expected an object, got {Describe(element)}", fix);
            return false;
        }

        /// <summary>The object's fields by name; reports duplicates, and unknown names when <paramref name="known"/> is given.</summary>
        /// <param name="replaced">Fields of an earlier version, reported by the caller with what replaced them.</param>
        private Dictionary<string, JsonElement> Fields(JsonElement element, string path, string[]? known, string[]? replaced = null)
        {
            var fields = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
            foreach (var property in element.EnumerateObject())
            {
                var name = property.Name;
                var here = path == "$" ? $"$.{name}" : $"{path}.{name}";
                if (!fields.TryAdd(name, property.Value))
                {
                    Error(here, "appears twice", "keep one of the two");
                    continue;
                }
                if (known is not null && Array.IndexOf(known, name) < 0 && (replaced is null || Array.IndexOf(replaced, name) < 0))
                {
                    fields.Remove(name);
                    var near = known.FirstOrDefault(k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase));
                    Error(here, "unknown field", near is not null ? $"write it as '{near}'" : $"remove it; the fields here are {string.Join(", ", known)}");
                }
            }
            return fields;
        }

        /// <summary>An exact model name, a prefix ending in <c>*</c>, or <c>*</c> alone.</summary>
        private static bool IsModelPattern(string pattern)
        {
            var star = pattern.IndexOf('*');
            return pattern.Length > 0 && (star < 0 || star == pattern.Length - 1) && !pattern.Any(char.IsWhiteSpace);
        }

        private static bool IsSimpleName(string name) =>
            name.Length > 0 && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '_');

        private static string Describe(JsonElement element) => element.ValueKind switch
        {
            JsonValueKind.String => Quote(element.GetString()!),
            JsonValueKind.Number => element.GetRawText(),
            JsonValueKind.True => "true",
            JsonValueKind.False => "false",
            JsonValueKind.Null => "null",
            JsonValueKind.Object => "an object",
            JsonValueKind.Array => "an array",
            _ => "nothing",
        };

        private static string Quote(string value)
        {
            var builder = new StringBuilder("'");
            builder.Append(value.Length > 60 ? value[..57] + "…" : value);
            return builder.Append('\'').ToString();
        }

        private void Error(string path, string problem, string fix) => _errors.Add(new ConfigError(path, problem, fix));
    }
}
