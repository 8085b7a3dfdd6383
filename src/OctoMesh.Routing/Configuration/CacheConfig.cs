using System.Collections.Immutable;

namespace OctoMesh.Routing.Configuration;

/// <summary>How much of the cache a route or workspace uses: none, repeats only, or repeats and questions that mean the same.</summary>
public enum CachePolicy
{
    Off,
    Exact,
    Semantic,
}

/// <summary>The <c>cache</c> section: the response cache. Off by default; its size is fixed at start, the rest reloadable.</summary>
/// <param name="Exact">Answer a request that repeats an earlier one (same scope, resolved model and body, spacing and
/// <c>stream</c>, <c>user</c>, <c>metadata</c> aside) from the cache.</param>
/// <param name="TtlSeconds">How long an answer stays.</param>
/// <param name="MaxMegabytes">Memory the cached answers may take; the least recently used go first.</param>
/// <param name="SharedAcrossWorkspaces">Let workspaces hit each other's answers (off: each workspace has its own cache).</param>
/// <param name="Shared">With a <c>redis</c> section, keep answers on it too, so replicas answer each other's repeats.</param>
/// <param name="Semantic">The semantic cache on top of the exact one, or null for none.</param>
public sealed record CacheConfig(bool Exact = false, int TtlSeconds = 3600, int MaxMegabytes = 64, bool SharedAcrossWorkspaces = false,
    bool Shared = true, SemanticCacheConfig? Semantic = null);

/// <summary>What Redis's <c>AUTH</c> is sent: the password resolved from the environment, and the ACL user (null: <c>default</c>).</summary>
public sealed record RedisCredentials(string? User, string Password)
{
    /// <summary>Never prints the password.</summary>
    public override string ToString() => $"RedisCredentials {{ User = {User ?? "default"}, Password = *** }}";
}

/// <summary>The <c>cache.semantic</c> section: answer a question that means the same as an earlier one.</summary>
/// <param name="Embedder"><c>hash</c> (built in), <c>vectors</c> (static word vectors from <paramref name="Vectors"/>), or
/// <c>provider</c> (the embeddings endpoint of <paramref name="Provider"/>).</param>
/// <param name="Threshold">The least cosine similarity of a hit; null for the embedder's calibrated default.</param>
/// <param name="MaxEntries">Questions the index holds at most; the oldest leave first (about 2.6 KB each with <c>hash</c>).</param>
/// <param name="Vectors">The word-vector file of the <c>vectors</c> embedder.</param>
/// <param name="Provider">The provider whose OpenAI-format embeddings endpoint the <c>provider</c> embedder calls.</param>
/// <param name="Model">The embedding model it asks for.</param>
/// <param name="Dimensions">The length of that model's vectors.</param>
/// <param name="TimeoutMs">How long a lookup waits for an embedding before going on as a miss.</param>
public sealed record SemanticCacheConfig(string Embedder = "hash", double? Threshold = null, int MaxEntries = 10_000, string? Vectors = null,
    string? Provider = null, string? Model = null, int? Dimensions = null, int TimeoutMs = 500);
