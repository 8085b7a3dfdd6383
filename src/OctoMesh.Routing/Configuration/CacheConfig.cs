namespace OctoMesh.Routing.Configuration;

/// <summary>The <c>cache</c> section: the response cache. Off by default; its size is fixed at start, the rest reloadable.</summary>
/// <param name="Exact">Answer a request that repeats an earlier one (same scope, resolved model and body, spacing and
/// <c>stream</c>, <c>user</c>, <c>metadata</c> aside) from the cache.</param>
/// <param name="TtlSeconds">How long an answer stays.</param>
/// <param name="MaxMegabytes">Memory the cached answers may take; the least recently used go first.</param>
/// <param name="SharedAcrossWorkspaces">Let workspaces hit each other's answers (off: each workspace has its own cache).</param>
/// <param name="Redis">Redis as <c>host:port</c>, for a second level shared by replicas; null for in-process only.</param>
/// <param name="RedisTimeoutMs">How long a lookup waits for Redis before going on without it.</param>
public sealed record CacheConfig(bool Exact = false, int TtlSeconds = 3600, int MaxMegabytes = 64, bool SharedAcrossWorkspaces = false,
    string? Redis = null, int RedisTimeoutMs = 50);
