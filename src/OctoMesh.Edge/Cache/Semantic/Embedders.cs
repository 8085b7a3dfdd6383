using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Cache.Semantic;

/// <summary>Makes the configured embedder, and knows each one's calibrated threshold (docs/semantic-cache.md).</summary>
internal static class Embedders
{
    /// <summary>The least similarity of a hit for each embedder, measured on tests/data/semantic-pairs.tsv.</summary>
    /// <remarks>A provider's model is not measured here: 0.80 is a starting point, to be checked with <c>octomesh semantic-eval --config</c>.</remarks>
    public static float DefaultThreshold(string embedder) => embedder switch
    {
        "vectors" => 0.76f,
        "provider" => 0.80f,
        _ => 0.66f,
    };

    /// <param name="providers">The configured providers, for the <c>provider</c> embedder.</param>
    /// <param name="simulatorUrl">The in-process simulator's OpenAI root, for a <c>sim</c> provider without a base URL.</param>
    public static SemanticCache Create(SemanticCacheConfig config, IReadOnlyDictionary<string, ProviderConfig>? providers = null, Uri? simulatorUrl = null)
    {
        IEmbedder embedder = config.Embedder switch
        {
            "vectors" => WordVectorEmbedder.Load(config.Vectors!),
            "provider" => CreateProviderEmbedder(config, providers![config.Provider!], simulatorUrl),
            _ => new HashEmbedder(),
        };
        return new SemanticCache(embedder, config.Threshold is { } threshold ? (float)threshold : DefaultThreshold(config.Embedder), config.MaxEntries);
    }

    private static ProviderEmbedder CreateProviderEmbedder(SemanticCacheConfig config, ProviderConfig provider, Uri? simulatorUrl) =>
        new(new Providers.UpstreamProvider(provider, provider.BaseUrl ?? simulatorUrl
                ?? throw new InvalidOperationException($"provider '{provider.Name}' has no base URL and no simulator is running")),
            config.Model!, config.Dimensions!.Value, TimeSpan.FromMilliseconds(config.TimeoutMs));
}
