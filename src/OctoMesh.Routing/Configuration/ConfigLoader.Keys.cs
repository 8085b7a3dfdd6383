using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Text;
using System.Text.Json;

namespace OctoMesh.Routing.Configuration;

public static partial class ConfigLoader
{
    /// <summary>Client and admin keys: hashes, ids, expiry, allowed models and routes.</summary>
    private sealed partial class ConfigReader
    {
        /// <param name="admin">Admin keys have no workspace: they act on the whole gateway.</param>
        private ImmutableArray<ClientKeyConfig> ReadClientKeys(JsonElement element, string path, bool admin = false)
        {
            if (element.ValueKind != JsonValueKind.Array)
            {
                Error(path, $"expected an array, got {Describe(element)}", "write [ { \"name\": …, \"sha256\": …, \"workspace\": … } ]");
                return [];
            }
            var keys = ImmutableArray.CreateBuilder<ClientKeyConfig>();
            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            var i = 0;
            foreach (var item in element.EnumerateArray())
            {
                var here = $"{path}[{i++}]";
                if (!ExpectObject(item, here, "write { \"name\": \"ci\", \"sha256\": \"<64 hex digits>\", \"workspace\": \"team-a\" }"))
                {
                    continue;
                }
                var fields = Fields(item, here, admin ? s_adminKeyFields : s_keyFields);
                var name = RequiredString(fields, "name", here, "a label such as \"ci\"");
                var workspace = admin ? "*" : RequiredString(fields, "workspace", here, "the workspace id, e.g. \"team-a\"");
                var hash = Hex(RequiredString(fields, "sha256", here, "the SHA-256 of the key in hex: printf %s \"$KEY\" | sha256sum"),
                    $"{here}.sha256", 32, "write the SHA-256 of the key in hex: printf %s \"$KEY\" | sha256sum");
                var id = fields.TryGetValue("id", out var idElement) ? KeyId(idElement, $"{here}.id") : null;
                var salt = fields.TryGetValue("salt", out var saltElement)
                    ? Hex(saltElement.ValueKind == JsonValueKind.String ? saltElement.GetString() : null, $"{here}.salt", 16, "write the 32 hex digits `octomesh key new` printed")
                    : null;
                if (id is null != salt is null)
                {
                    Error(here, "an issued key needs both its id and its salt", "copy the entry `octomesh key new` printed whole");
                }
                if (hash is not null && !seen.Add(id ?? Convert.ToHexString(hash)))
                {
                    Error(id is null ? $"{here}.sha256" : $"{here}.id", "the same key appears twice", "remove the duplicate entry");
                }
                if (name is null || workspace is null || hash is null)
                {
                    continue;
                }
                keys.Add(new ClientKeyConfig(name, hash, workspace)
                {
                    Id = id,
                    Salt = salt,
                    Models = fields.TryGetValue("models", out var models) ? Names(models, $"{here}.models", patterns: true) : [],
                    Routes = fields.TryGetValue("routes", out var routes) ? Names(routes, $"{here}.routes", patterns: false) : [],
                    ExpiresAt = fields.TryGetValue("expires", out var expires) ? Instant(expires, $"{here}.expires") : null,
                });
            }
            return keys.ToImmutable();
        }

        /// <summary>Hex of exactly <paramref name="bytes"/> bytes, or null with an error.</summary>
        private byte[]? Hex(string? hex, string path, int bytes, string fix)
        {
            if (hex is null)
            {
                return null;
            }
            if (hex.Length != bytes * 2 || !hex.All(char.IsAsciiHexDigit))
            {
                Error(path, $"expected {bytes * 2} hex digits, got {hex.Length} characters", fix);
                return null;
            }
            return Convert.FromHexString(hex);
        }

        private string? KeyId(JsonElement element, string path)
        {
            if (element.ValueKind == JsonValueKind.String && element.GetString() is { } id && KeyIds.IsValid(id))
            {
                return id;
            }
            Error(path, $"{Describe(element)} is not a key id", $"write the {KeyIds.Length} characters (a-z, 2-7) `octomesh key new` printed");
            return null;
        }

        /// <summary>An array of model names (<c>prefix*</c> patterns allowed when <paramref name="patterns"/>) or route names.</summary>
        private ImmutableArray<string> Names(JsonElement element, string path, bool patterns)
        {
            if (element.ValueKind != JsonValueKind.Array)
            {
                Error(path, $"expected an array of names, got {Describe(element)}", patterns ? "write e.g. [\"gpt-4o-mini\", \"claude-*\"]" : "write e.g. [\"chat\"]");
                return [];
            }
            var names = ImmutableArray.CreateBuilder<string>();
            var i = 0;
            foreach (var item in element.EnumerateArray())
            {
                var text = item.ValueKind == JsonValueKind.String ? item.GetString() : null;
                if (text is null || text.Length == 0 || (patterns ? !IsModelPattern(text) : !IsSimpleName(text)))
                {
                    Error($"{path}[{i}]", $"{Describe(item)} is not a {(patterns ? "model name or pattern" : "route name")}", "write a non-empty name");
                }
                else
                {
                    names.Add(text);
                }
                i++;
            }
            return names.ToImmutable();
        }

        private DateTimeOffset? Instant(JsonElement element, string path)
        {
            if (element.ValueKind == JsonValueKind.String && DateTimeOffset.TryParse(element.GetString(), System.Globalization.CultureInfo.InvariantCulture,
                    System.Globalization.DateTimeStyles.AssumeUniversal, out var instant))
            {
                return instant.ToUniversalTime();
            }
            Error(path, $"{Describe(element)} is not a date and time", "write ISO 8601, e.g. \"2027-01-31T00:00:00Z\"");
            return null;
        }
    }
}
