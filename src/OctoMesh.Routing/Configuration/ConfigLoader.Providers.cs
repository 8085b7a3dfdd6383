using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Text;
using System.Text.Json;

namespace OctoMesh.Routing.Configuration;

public static partial class ConfigLoader
{
    /// <summary>The <c>providers</c> section: each provider, its base URL, secret and timeouts.</summary>
    private sealed partial class ConfigReader
    {
        private ImmutableDictionary<string, ProviderConfig> ReadProviders(JsonElement element, string path)
        {
            var result = ImmutableDictionary.CreateBuilder<string, ProviderConfig>(StringComparer.Ordinal);
            if (!ExpectObject(element, path, "write providers as { \"name\": { \"kind\": … } }"))
            {
                return result.ToImmutable();
            }
            foreach (var (name, value) in Fields(element, path, known: null))
            {
                var here = $"{path}.{name}";
                if (!IsSimpleName(name))
                {
                    Error(here, $"provider name '{name}' has characters other than a-z, 0-9, '-' and '_'", "rename it, e.g. 'openai' or 'local-vllm'");
                }
                if (ReadProvider(value, here, name) is { } provider)
                {
                    result[name] = provider;
                }
            }
            if (!element.EnumerateObject().Any())
            {
                Error(path, "no providers are configured", "add at least one, e.g. { \"sim\": { \"kind\": \"sim\" } }");
            }
            return result.ToImmutable();
        }

        private ProviderConfig? ReadProvider(JsonElement element, string path, string name)
        {
            if (!ExpectObject(element, path, "write { \"kind\": \"openai\", \"baseUrl\": … }"))
            {
                return null;
            }
            var fields = Fields(element, path, s_providerFields);
            var errorsBefore = _errors.Count;

            ProviderKind? kind = null;
            if (!fields.TryGetValue("kind", out var kindElement))
            {
                Error($"{path}.kind", "missing", $"add \"kind\": one of {KindList}");
            }
            else
            {
                kind = kindElement.ValueKind == JsonValueKind.String ? ParseKind(kindElement.GetString()!) : null;
                if (kind is null)
                {
                    Error($"{path}.kind", $"unknown provider kind {Describe(kindElement)}", $"use one of {KindList}");
                }

            }

            Uri? baseUrl = null;
            if (fields.TryGetValue("baseUrl", out var urlElement))
            {
                baseUrl = ReadBaseUrl(urlElement, $"{path}.baseUrl");
            }
            else if (kind is ProviderKind.OpenAI)
            {
                baseUrl = new Uri("https://api.openai.com/v1");
            }
            else if (kind is ProviderKind.Anthropic)
            {
                baseUrl = new Uri("https://api.anthropic.com/v1");
            }
            else if (kind is ProviderKind.Gemini)
            {
                baseUrl = new Uri("https://generativelanguage.googleapis.com/v1beta");
            }
            else if (kind is ProviderKind.OpenAICompatible)
            {
                Error($"{path}.baseUrl", "missing", "add the server's API root, e.g. \"http://127.0.0.1:8000/v1\"");
            }
            else if (kind is ProviderKind.AzureOpenAI)
            {
                Error($"{path}.baseUrl", "missing", "add the resource endpoint, e.g. \"https://my-resource.openai.azure.com\"");
            }

            string? apiKey = null;
            if (fields.TryGetValue("apiKey", out var keyElement))
            {
                apiKey = ReadSecret(keyElement, $"{path}.apiKey");
            }
            else if (kind is ProviderKind.OpenAI)
            {
                Error($"{path}.apiKey", "missing; OpenAI requires a key", "add \"apiKey\": \"${OPENAI_API_KEY}\"");
            }
            else if (kind is ProviderKind.Anthropic)
            {
                Error($"{path}.apiKey", "missing; Anthropic requires a key", "add \"apiKey\": \"${ANTHROPIC_API_KEY}\"");
            }
            else if (kind is ProviderKind.AzureOpenAI)
            {
                Error($"{path}.apiKey", "missing; Azure OpenAI requires a key", "add \"apiKey\": \"${AZURE_OPENAI_API_KEY}\"");
            }
            else if (kind is ProviderKind.Gemini)
            {
                Error($"{path}.apiKey", "missing; Gemini requires a key", "add \"apiKey\": \"${GEMINI_API_KEY}\"");
            }

            var http = UpstreamHttpVersion.Http11;
            if (fields.TryGetValue("http", out var httpElement))
            {
                switch (httpElement.ValueKind == JsonValueKind.String ? httpElement.GetString() : null)
                {
                    case "1.1": break;
                    case "2": http = UpstreamHttpVersion.Http2; break;
                    default:
                        Error($"{path}.http", $"unknown HTTP version {Describe(httpElement)}", "use \"1.1\" or \"2\" (h2c over plain http, ALPN over https)");
                        break;
                }
            }

            var timeouts = fields.TryGetValue("timeouts", out var t) ? ReadTimeouts(t, $"{path}.timeouts") : TimeoutsConfig.Default;
            var maxTokens = fields.TryGetValue("defaultMaxTokens", out var m)
                ? (int)(Integer(m, $"{path}.defaultMaxTokens", 1, 1_000_000, "a whole number of tokens from 1 to 1000000") ?? 0)
                : ProviderConfig.DefaultMaxTokensValue;

            string? apiVersion = kind is ProviderKind.AzureOpenAI ? ProviderConfig.DefaultAzureApiVersion : null;
            if (fields.TryGetValue("apiVersion", out var v))
            {
                if (kind is not ProviderKind.AzureOpenAI)
                {
                    Error($"{path}.apiVersion", "only Azure OpenAI providers take an apiVersion", "remove it");
                }
                else if (v.ValueKind != JsonValueKind.String || v.GetString()!.Length == 0 || !v.GetString()!.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.'))
                {
                    Error($"{path}.apiVersion", $"{Describe(v)} is not an API version", $"write e.g. \"{ProviderConfig.DefaultAzureApiVersion}\"");
                }
                else
                {
                    apiVersion = v.GetString();
                }
            }
            var streamUsage = Flag(fields, "streamUsage", path, "write false for servers that reject stream_options, else leave it out") ?? true;

            string? caFile = null;
            if (fields.TryGetValue("caFile", out var ca))
            {
                if (ca.ValueKind != JsonValueKind.String || ca.GetString() is not { Length: > 0 } file)
                {
                    Error($"{path}.caFile", $"expected a file name, got {Describe(ca)}", "write the path of the PEM file of the CA that signed the provider's certificate");
                }
                else if (baseUrl is { Scheme: not "https" })
                {
                    Error($"{path}.caFile", "a CA is for TLS, and the baseUrl is plain http", "remove it, or write the baseUrl with https://");
                }
                else
                {
                    caFile = file;
                }
            }

            return kind is { } k && _errors.Count == errorsBefore
                ? new ProviderConfig(name, k, baseUrl, apiKey, http, timeouts, maxTokens, apiVersion, streamUsage, caFile)
                : null;
        }

        private static ProviderKind? ParseKind(string value) => value switch
        {
            "openai" => ProviderKind.OpenAI,
            "openai-compatible" => ProviderKind.OpenAICompatible,
            "azure-openai" => ProviderKind.AzureOpenAI,
            "anthropic" => ProviderKind.Anthropic,
            "gemini" => ProviderKind.Gemini,
            "sim" => ProviderKind.Sim,
            _ => null,
        };

        private Uri? ReadBaseUrl(JsonElement element, string path)
        {
            if (element.ValueKind == JsonValueKind.String
                && Uri.TryCreate(element.GetString(), UriKind.Absolute, out var uri)
                && uri.Scheme is "http" or "https"
                && string.IsNullOrEmpty(uri.Query) && string.IsNullOrEmpty(uri.Fragment))
            {
                if (uri.UserInfo.Length > 0)
                {
                    // Credentials in a URL end up in logs and banners; keys belong in apiKey.
                    Error(path, "the URL carries a user name or password", "remove them from the URL and put the key in \"apiKey\": \"${ENV_NAME}\"");
                    return null;
                }
                return new Uri(uri.GetLeftPart(UriPartial.Path).TrimEnd('/'));
            }
            Error(path, $"{Describe(element)} is not an http(s) URL without query or fragment", "write the API root, e.g. \"https://api.openai.com/v1\"");
            return null;
        }

        /// <summary>Secrets live in the environment; the config names them. Values are never echoed.</summary>
        private string? ReadSecret(JsonElement element, string path)
        {
            var text = element.ValueKind == JsonValueKind.String ? element.GetString()! : null;
            if (text is null || !text.StartsWith("${", StringComparison.Ordinal) || !text.EndsWith('}'))
            {
                Error(path, "a key must be a ${ENV_NAME} reference; literal keys are not accepted in config files", "put the key in an environment variable and write \"${ITS_NAME}\"");
                return null;
            }
            var variable = text[2..^1];
            if (variable.Length == 0 || !variable.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
            {
                Error(path, $"'{text}' is not a valid environment variable reference", "use letters, digits and '_', e.g. \"${OPENAI_API_KEY}\"");
                return null;
            }
            var value = environment(variable);
            if (string.IsNullOrEmpty(value))
            {
                Error(path, $"environment variable {variable} is not set", $"export {variable} before starting, or remove this provider");
                return null;
            }
            return value;
        }

        private TimeoutsConfig ReadTimeouts(JsonElement element, string path)
        {
            var d = TimeoutsConfig.Default;
            if (!ExpectObject(element, path, "write { \"connectMs\": 10000, \"firstByteMs\": 120000, \"totalMs\": 600000 }"))
            {
                return d;
            }
            var fields = Fields(element, path, s_timeoutFields);
            var timeouts = new TimeoutsConfig(
                Milliseconds(fields, "connectMs", path, d.Connect),
                Milliseconds(fields, "firstByteMs", path, d.FirstByte),
                Milliseconds(fields, "totalMs", path, d.Total),
                Milliseconds(fields, "idleMs", path, d.Idle));
            if (timeouts.FirstByte > timeouts.Total)
            {
                Error($"{path}.firstByteMs", $"{timeouts.FirstByte.TotalMilliseconds} is longer than totalMs ({timeouts.Total.TotalMilliseconds})",
                    "make firstByteMs at most totalMs: the total deadline includes the wait for the first byte");
            }
            return timeouts;
        }

        private TimeSpan Milliseconds(Dictionary<string, JsonElement> fields, string name, string path, TimeSpan fallback)
        {
            if (!fields.TryGetValue(name, out var element))
            {
                return fallback;
            }
            const long Day = 24 * 3600 * 1000;
            return Integer(element, $"{path}.{name}", 1, Day, "a whole number of milliseconds from 1 to 86400000") is { } ms
                ? TimeSpan.FromMilliseconds(ms)
                : fallback;
        }
    }
}
