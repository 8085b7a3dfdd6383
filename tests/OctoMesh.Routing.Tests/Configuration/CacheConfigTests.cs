using System.Text;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Routing.Tests.Configuration;

public class CacheConfigTests
{
    private static ConfigLoadResult Load(string cache) => ConfigLoader.Load(Encoding.UTF8.GetBytes(
        $$"""{ "providers": { "a": { "kind": "sim" } }, "models": { "*": { "provider": "a" } }, "cache": {{cache}} }"""), _ => null);

    [Fact]
    public void TheCacheIsOffUnlessAsked()
    {
        Assert.Equal(new CacheConfig(), Load("{}").Config!.Cache);
        Assert.False(new CacheConfig().Exact);
        Assert.Equal(new CacheConfig(true, 120, 16, true, Shared: false),
            Load("""{ "exact": true, "ttlSeconds": 120, "maxMegabytes": 16, "sharedAcrossWorkspaces": true, "shared": false }""").Config!.Cache);
        Assert.True(new CacheConfig().Shared);
    }

    [Fact]
    public void BadSettingsAreReportedWithTheirFixes() => Assert.Equal(
    [
        "$.cache.exact: expected true or false, got 'yes'. Fix: write true to answer repeated requests from the cache.",
        "$.cache.ttlSeconds: 0 is out of range. Fix: write a whole number of seconds from 1 to 2592000.",
        "$.cache.size: unknown field. Fix: remove it; the fields here are exact, ttlSeconds, maxMegabytes, sharedAcrossWorkspaces, shared, semantic.",
    ], Load("""{ "exact": "yes", "ttlSeconds": 0, "size": 1 }""").Errors.Select(e => e.ToString()).OrderBy(e => e.Contains("size")));

    [Fact]
    public void TheSemanticCacheSitsOnTheExactOne()
    {
        Assert.Equal(new SemanticCacheConfig("vectors", 0.8, 5000, "/v/wink.omv"), Load(
            """{ "exact": true, "semantic": { "embedder": "vectors", "threshold": 0.8, "maxEntries": 5000, "vectors": "/v/wink.omv" } }""").Config!.Cache.Semantic);
        Assert.Equal(new SemanticCacheConfig(), Load("""{ "exact": true, "semantic": {} }""").Config!.Cache.Semantic);
        Assert.Null(Load("""{ "exact": true }""").Config!.Cache.Semantic);
        Assert.Equal(
        [
            "$.cache.semantic: the semantic cache keeps its answers in the exact cache. Fix: write \"exact\": true as well.",
            "$.cache.semantic.embedder: 'onnx' is not an embedder. Fix: write \"hash\", \"vectors\" or \"provider\".",
            "$.cache.semantic.threshold: expected a similarity above 0 and at most 1, got 2. Fix: write e.g. 0.9.",
        ], Load("""{ "semantic": { "embedder": "onnx", "threshold": 2 } }""").Errors.Select(e => e.ToString()));
        Assert.Equal("$.cache.semantic.vectors: the vectors embedder needs its word-vector file. Fix: write \"vectors\": \"/path/to/wink-100d.omv\".",
            Load("""{ "exact": true, "semantic": { "embedder": "vectors" } }""").Errors.Single().ToString());
    }

    [Fact]
    public void TheProviderEmbedderNamesAnOpenAIFormatProviderModelAndDimensions()
    {
        static ConfigLoadResult With(string semantic) => ConfigLoader.Load(Encoding.UTF8.GetBytes($$"""
            { "providers": { "a": { "kind": "sim" }, "c": { "kind": "anthropic", "apiKey": "${K}" } }, "models": { "*": { "provider": "a" } },
              "cache": { "exact": true, "semantic": {{semantic}} } }
            """), name => name == "K" ? "key" : null);
        var loaded = With("""{ "embedder": "provider", "provider": "a", "model": "text-embedding-3-small", "dimensions": 1536, "timeoutMs": 200 }""");
        Assert.Empty(loaded.Errors);
        Assert.Equal(new SemanticCacheConfig("provider", Provider: "a", Model: "text-embedding-3-small", Dimensions: 1536, TimeoutMs: 200), loaded.Config!.Cache.Semantic);
        Assert.Equal(
        [
            "$.cache.semantic.provider: 'c' is not a configured provider with an OpenAI-format embeddings endpoint. Fix: name a provider of kind openai, openai-compatible or sim.",
            "$.cache.semantic.embedder: the provider embedder needs provider, model and dimensions. Fix: write e.g. \"provider\": \"openai\", \"model\": \"text-embedding-3-small\", \"dimensions\": 1536.",
        ], With("""{ "embedder": "provider", "provider": "c", "model": "m" }""").Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void TheCachesOwnRedisFieldsAreRefusedWithTheSectionThatReplacedThem()
    {
        const string Fix = "Fix: remove it and write \"redis\": { \"connection\": \"127.0.0.1:6379\", \"password\": \"${REDIS_PASSWORD}\", \"timeoutMs\": 50 } at the top level.";
        Assert.Equal(
        [
            $"$.cache.redis: the cache now uses the top-level redis section. {Fix}",
            $"$.cache.redisTimeoutMs: the cache now uses the top-level redis section. {Fix}",
            $"$.cache.redisUser: the cache now uses the top-level redis section. {Fix}",
            $"$.cache.redisPassword: the cache now uses the top-level redis section. {Fix}",
        ], Load("""{ "exact": true, "redis": "127.0.0.1:6379", "redisTimeoutMs": 20, "redisUser": "u", "redisPassword": "${P}" }""").Errors.Select(e => e.ToString()));
    }
}
