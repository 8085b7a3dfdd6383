using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Cache.Semantic;

/// <summary>Makes the configured embedder, and knows each one's calibrated threshold (docs/semantic-cache.md).</summary>
internal static class Embedders
{
    /// <summary>The least similarity of a hit for each embedder, measured on tests/data/semantic-pairs.tsv.</summary>
    public static float DefaultThreshold(string embedder) => embedder switch
    {
        "vectors" => 0.76f,
        _ => 0.66f,
    };

    public static SemanticCache Create(SemanticCacheConfig config)
    {
        IEmbedder embedder = config.Embedder switch
        {
            "vectors" => WordVectorEmbedder.Load(config.Vectors!),
            _ => new HashEmbedder(),
        };
        return new SemanticCache(embedder, DefaultThreshold(config.Embedder), config.MaxEntries);
    }
}
