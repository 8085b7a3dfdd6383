using System.Collections.Concurrent;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Primitives;

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
    /// <summary>Per workspace, the token that evicts all its entries at once when cancelled (<see cref="Purge"/>).</summary>
    private readonly ConcurrentDictionary<string, CancellationTokenSource> _workspaces = new(StringComparer.Ordinal);

    public ExactCache(long maxBytes)
    {
        MaxBytes = maxBytes;
        _entries = new MemoryCache(new MemoryCacheOptions { SizeLimit = maxBytes, CompactionPercentage = 0.1 });
    }

    public long MaxBytes { get; }

    public bool TryGet(string key, out CachedAnswer answer) => _entries.TryGetValue(key, out answer!);

    /// <param name="workspace">The workspace whose request produced the answer ("" for none): purging it removes the entry.</param>
    public void Set(string key, CachedAnswer answer, TimeSpan ttl, string workspace)
    {
        var options = new MemoryCacheEntryOptions { Size = answer.Body.Length + 256, AbsoluteExpirationRelativeToNow = ttl };
        options.ExpirationTokens.Add(new CancellationChangeToken(_workspaces.GetOrAdd(workspace, _ => new CancellationTokenSource()).Token));
        _entries.Set(key, answer, options);
    }

    /// <summary>Removes every answer a request of <paramref name="workspace"/> put in (null: every answer).</summary>
    public void Purge(string? workspace)
    {
        foreach (var name in workspace is null ? _workspaces.Keys.ToArray() : [workspace])
        {
            if (_workspaces.TryRemove(name, out var evict))
            {
                evict.Cancel();
                evict.Dispose();
            }
        }
        // Entries whose token was cancelled leave on their next access; compact now so the memory is free now.
        _entries.Compact(0);
    }

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

    public void Dispose()
    {
        _entries.Dispose();
        foreach (var evict in _workspaces.Values)
        {
            evict.Dispose();
        }
    }
}
