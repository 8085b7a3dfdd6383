using Microsoft.Extensions.Caching.Memory;

namespace OctoMesh.Edge.Cache;

/// <summary>A complete answer as the client got it: the bytes, their content type, and whether they are an SSE stream.</summary>
internal sealed record CachedAnswer(byte[] Body, string ContentType, bool Stream, string Provider, string Model);

/// <summary>
/// The exact cache's in-process level: answers by key (<see cref="ExactCacheKey"/>) in a
/// <see cref="MemoryCache"/> bounded in bytes (least recently used first out), each for its time to live.
/// </summary>
internal sealed class ExactCache : IDisposable
{
    private readonly MemoryCache _entries;

    public ExactCache(long maxBytes)
    {
        MaxBytes = maxBytes;
        _entries = new MemoryCache(new MemoryCacheOptions { SizeLimit = maxBytes, CompactionPercentage = 0.1 });
    }

    public long MaxBytes { get; }

    public bool TryGet(string key, out CachedAnswer answer) => _entries.TryGetValue(key, out answer!);

    public void Set(string key, CachedAnswer answer, TimeSpan ttl) =>
        _entries.Set(key, answer, new MemoryCacheEntryOptions { Size = answer.Body.Length + 256, AbsoluteExpirationRelativeToNow = ttl });

    public void Dispose() => _entries.Dispose();
}
