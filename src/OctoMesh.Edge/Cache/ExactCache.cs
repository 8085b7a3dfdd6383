using System.Collections.Concurrent;
using Microsoft.Extensions.Caching.Memory;

namespace OctoMesh.Edge.Cache;

/// <summary>A complete answer as the client got it: the bytes, their content type, and whether they are an SSE stream.</summary>
internal sealed record CachedAnswer(byte[] Body, string ContentType, bool Stream, string Provider, string Model);

/// <summary>
/// The exact cache's in-process level: answers by key (<see cref="ExactCacheKey"/>) in a
/// <see cref="MemoryCache"/> bounded in bytes (least recently used first out), each for its time to live; and
/// the misses in flight, so that concurrent identical requests make one upstream call (single-flight).
/// </summary>
internal sealed class ExactCache : IDisposable
{
    private readonly MemoryCache _entries;
    private readonly ConcurrentDictionary<string, TaskCompletionSource<CachedAnswer?>> _flights = new(StringComparer.Ordinal);

    public ExactCache(long maxBytes)
    {
        MaxBytes = maxBytes;
        _entries = new MemoryCache(new MemoryCacheOptions { SizeLimit = maxBytes, CompactionPercentage = 0.1 });
    }

    public long MaxBytes { get; }

    public bool TryGet(string key, out CachedAnswer answer) => _entries.TryGetValue(key, out answer!);

    public void Set(string key, CachedAnswer answer, TimeSpan ttl) =>
        _entries.Set(key, answer, new MemoryCacheEntryOptions { Size = answer.Body.Length + 256, AbsoluteExpirationRelativeToNow = ttl });

    /// <summary>
    /// The first request to miss <paramref name="key"/> leads (true): it goes upstream and must <see cref="Land"/>.
    /// Others arriving meanwhile follow (false): <paramref name="answer"/> gives them the leader's answer, or null when
    /// it kept none.
    /// </summary>
    public bool TryLead(string key, out Task<CachedAnswer?> answer)
    {
        var mine = new TaskCompletionSource<CachedAnswer?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var flight = _flights.GetOrAdd(key, mine);
        answer = flight.Task;
        return flight == mine;
    }

    /// <summary>Ends the leader's flight, handing its answer (null: none kept) to the requests that followed it.</summary>
    public void Land(string key, CachedAnswer? answer)
    {
        if (_flights.TryRemove(key, out var flight))
        {
            flight.TrySetResult(answer);
        }
    }

    public void Dispose() => _entries.Dispose();
}
