using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Text;
using System.Text.Json;

namespace OctoMesh.Routing.Configuration;

public static partial class ConfigLoader
{
    /// <summary>The <c>models</c> section: aliases and patterns to providers.</summary>
    private sealed partial class ConfigReader
    {
        private ImmutableArray<ModelConfig> ReadModels(JsonElement element, string path, ImmutableDictionary<string, ProviderConfig> providers)
        {
            if (!ExpectObject(element, path, "write models as { \"alias\": { \"provider\": …, \"model\": … } }"))
            {
                return [];
            }
            var models = ImmutableArray.CreateBuilder<ModelConfig>();
            if (!element.EnumerateObject().Any())
            {
                Error(path, "no models are configured", "add at least one, e.g. { \"*\": { \"provider\": \"sim\" } }");
            }
            foreach (var (pattern, value) in Fields(element, path, known: null))
            {
                var here = $"{path}['{pattern}']";
                if (!IsModelPattern(pattern))
                {
                    Error(here, $"'{pattern}' is not a model name or pattern", "write an exact name, a prefix ending in '*' such as 'gpt-*', or '*' alone");
                    continue;
                }
                if (!ExpectObject(value, here, "write { \"provider\": \"name\", \"model\": \"upstream-model\" }"))
                {
                    continue;
                }
                var fields = Fields(value, here, s_modelFields);
                string? provider = null;
                if (!fields.TryGetValue("provider", out var providerElement) || providerElement.ValueKind != JsonValueKind.String)
                {
                    Error($"{here}.provider", providerElement.ValueKind == JsonValueKind.Undefined ? "missing" : $"expected a provider name, got {Describe(providerElement)}",
                        $"name one of the providers: {string.Join(", ", providers.Keys.Order(StringComparer.Ordinal))}");
                }
                else
                {
                    provider = providerElement.GetString()!;
                    var providerPath = $"$.providers.{provider}";
                    var alreadyReported = _errors.Any(e => e.Path == providerPath || e.Path.StartsWith(providerPath + ".", StringComparison.Ordinal));
                    if (!providers.ContainsKey(provider) && !alreadyReported)
                    {
                        Error($"{here}.provider", $"no provider is named '{provider}'", $"name one of the providers: {string.Join(", ", providers.Keys.Order(StringComparer.Ordinal))}");
                    }
                }
                string? upstream = null;
                if (fields.TryGetValue("model", out var modelElement))
                {
                    upstream = modelElement.ValueKind == JsonValueKind.String ? modelElement.GetString() : null;
                    if (string.IsNullOrWhiteSpace(upstream))
                    {
                        Error($"{here}.model", $"expected the upstream model name, got {Describe(modelElement)}", "write the provider's model name, e.g. \"gpt-4o-mini\", or omit it to send the client's name unchanged");
                        upstream = null;
                    }
                }
                if (provider is not null)
                {
                    models.Add(new ModelConfig(pattern, provider, upstream));
                }
            }
            return models.ToImmutable();
        }
    }
}
