using System.Collections.Concurrent;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Primitives;

namespace OctoMesh.Edge.Cache;

/// <summary>A miss on its way upstream that identical requests wait on: the answer it keeps, and its bytes as they go when it streams.</summary>
internal sealed record Flight(TaskCompletionSource<CachedAnswer?> Answer, LiveAnswer? Live);

/// <summary>A complete answer as the client got it: the bytes, their content type, whether they are an SSE stream, who answered, and the workspace whose request it was.</summary>
internal sealed record CachedAnswer(byte[] Body, string ContentType, bool Stream, string Provider, string Model, string Workspace);

/// <summary>
/// The exact cache's in-process level: answers by key (<see cref="ExactCacheKey"/>) in a
/// <see cref="MemoryCache"/> bounded in bytes (least recently used first out), each for its time to live; and
/// the misses in flight, so that concurrent identical requests make one upstream call (single-flight). With Redis
/// configured, a shared second level (<see cref="RedisCacheLevel"/>) behind it.
/// </summary>
internal sealed class ExactCache : IAsyncDisposable
{
    private readonly MemoryCache _entries;
    private readonly ConcurrentDictionary<string, Flight> _flights = new(StringComparer.Ordinal);
    /// <summary>Per workspace, the token that evicts all its entries at once when cancelled (<see cref="Purge"/>).</summary>
    private readonly ConcurrentDictionary<string, CancellationTokenSource> _workspaces = new(StringComparer.Ordinal);

    private readonly RedisCacheLevel? _redis;

    /// <param name="redis">Redis as <c>host:port</c> for the shared level, or null for this process alone.</param>
    /// <param name="semantic">The semantic index whose entries point at answers here, or null for the exact cache alone.</param>
    /// <param name="redisAuth">Redis's user and password, when it asks for them.</param>
    public ExactCache(long maxBytes, string? redis = null, TimeSpan? redisTimeout = null, Semantic.SemanticCache? semantic = null,
        OctoMesh.Routing.Configuration.RedisCredentials? redisAuth = null)
    {
        MaxBytes = maxBytes;
        Semantic = semantic;
        _entries = new MemoryCache(new MemoryCacheOptions { SizeLimit = maxBytes, CompactionPercentage = 0.1 });
        if (redis is not null)
        {
            var (host, port) = Redis.RespClient.SplitAddress(redis);
            _redis = new RedisCacheLevel(host, port, redisTimeout ?? TimeSpan.FromMilliseconds(50), PurgeHere,
                semantic is null ? null : question => AddSharedQuestion(question), redisAuth);
        }
    }

    public long MaxBytes { get; }

    /// <summary>The semantic cache's index, when configured: its entries point at answers kept here.</summary>
    public Semantic.SemanticCache? Semantic { get; }

    /// <summary>Redis failures the cache went on without (0 without Redis).</summary>
    public long RedisErrors => _redis?.Errors ?? 0;

    /// <summary>The answer for <paramref name="key"/>: from this process, else from Redis (then kept here too), else null.</summary>
    public ValueTask<CachedAnswer?> GetAsync(string key, TimeSpan ttl) =>
        _entries.TryGetValue(key, out CachedAnswer? answer) ? ValueTask.FromResult<CachedAnswer?>(answer) : GetSharedAsync([key], ttl);

    /// <summary>The answer for <paramref name="key"/> in this process, if any.</summary>
    public bool TryGetHere(string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out CachedAnswer? answer) => _entries.TryGetValue(key, out answer);

    /// <summary>The first of <paramref name="keys"/> (in their order) that Redis has an answer for, asked in one round trip and then kept here too; null without Redis.</summary>
    public async ValueTask<CachedAnswer?> GetSharedAsync(string[] keys, TimeSpan ttl)
    {
        if (_redis is null)
        {
            return null;
        }
        var found = await _redis.GetManyAsync(keys);
        for (var i = 0; i < keys.Length; i++)
        {
            if (found[i] is { } shared)
            {
                SetHere(keys[i], shared, ttl);
                return shared;
            }
        }
        return null;
    }

    /// <summary>Keeps <paramref name="answer"/> here and, with Redis, for the other replicas (without waiting for Redis).</summary>
    public void Set(string key, CachedAnswer answer, TimeSpan ttl)
    {
        SetHere(key, answer, ttl);
        if (_redis is not null)
        {
            _ = _redis.SetAsync(key, answer, ttl);
        }
    }

    /// <summary>Adds a question whose answer was just kept under <paramref name="answerKey"/> to the semantic index, here and on the other replicas.</summary>
    public void AddQuestion(string partition, string workspace, Semantic.SemanticQuery query, string answerKey, TimeSpan ttl)
    {
        Semantic!.Add(partition, workspace, query, answerKey, ttl);
        if (_redis is not null)
        {
            var expires = DateTimeOffset.UtcNow.Add(ttl).ToUnixTimeMilliseconds();
            _ = _redis.ShareQuestionAsync(new Semantic.SharedQuestion(Semantic.Embedder.Name, partition, workspace, answerKey, expires, query.Guards, query.Vector), ttl);
        }
    }

    /// <summary>Reads back the semantic index's entries other replicas left in Redis (at start); returns how many were added.</summary>
    public async Task<int> LoadSharedQuestionsAsync()
    {
        if (_redis is null || Semantic is null)
        {
            return 0;
        }
        var added = 0;
        foreach (var question in await _redis.LoadQuestionsAsync())
        {
            added += AddSharedQuestion(question) ? 1 : 0;
        }
        return added;
    }

    /// <summary>An entry from another replica: taken when the same embedder made it and it is still alive.</summary>
    private bool AddSharedQuestion(Semantic.SharedQuestion question)
    {
        // Clamped: an entry never outlives the longest time to live (30 days), whatever a corrupt one says.
        var left = TimeSpan.FromMilliseconds(Math.Clamp(question.ExpiresAtUnixMs - DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), 0, 30L * 86_400_000));
        if (question.Embedder != Semantic!.Embedder.Name || question.Vector.Length != Semantic.Embedder.Dimensions || left <= TimeSpan.Zero)
        {
            return false;
        }
        Semantic.Add(question.Partition, question.Workspace, new Semantic.SemanticQuery(question.Vector, question.Guards), question.AnswerKey, left);
        return true;
    }

    private void SetHere(string key, CachedAnswer answer, TimeSpan ttl)
    {
        var options = new MemoryCacheEntryOptions { Size = answer.Body.Length + 256, AbsoluteExpirationRelativeToNow = ttl };
        options.ExpirationTokens.Add(new CancellationChangeToken(_workspaces.GetOrAdd(answer.Workspace, _ => new CancellationTokenSource()).Token));
        _entries.Set(key, answer, options);
    }

    /// <summary>Removes every answer a request of <paramref name="workspace"/> put in (null: every answer), here, in Redis and on the other replicas.</summary>
    public async Task PurgeAsync(string? workspace)
    {
        PurgeHere(workspace);
        if (_redis is not null)
        {
            await _redis.PurgeAsync(workspace);
        }
    }

    /// <summary>Every answer a request of <paramref name="workspace"/> put in that is still kept, here or on Redis (for an access request).</summary>
    public async Task<IReadOnlyList<CachedAnswer>> HeldForAsync(string workspace)
    {
        var held = new Dictionary<string, CachedAnswer>(StringComparer.Ordinal);
        foreach (var key in _entries.Keys)
        {
            if (key is string text && _entries.TryGetValue(text, out CachedAnswer? answer) && answer!.Workspace == workspace)
            {
                held[text] = answer;
            }
        }
        if (_redis is not null && await _redis.KeysOfAsync(workspace) is { Length: > 0 } keys)
        {
            var shared = await _redis.GetManyAsync(keys);
            for (var i = 0; i < keys.Length; i++)
            {
                if (shared[i] is { } answer && answer.Workspace == workspace)
                {
                    held.TryAdd(keys[i], answer);
                }
            }
        }
        return [.. held.Values];
    }

    /// <summary>Removes the workspace's answers (null: all) from this process only: another replica purged Redis already.</summary>
    public void PurgeHere(string? workspace)
    {
        Semantic?.Purge(workspace);
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
    /// Others arriving meanwhile follow (false): <paramref name="flight"/> gives them the leader's answer once kept
    /// (null when it kept none) and, when the leader streams (<paramref name="live"/>), its bytes as they come.
    /// </summary>
    public bool TryLead(string key, LiveAnswer? live, out Flight flight)
    {
        var mine = new Flight(new TaskCompletionSource<CachedAnswer?>(TaskCreationOptions.RunContinuationsAsynchronously), live);
        flight = _flights.GetOrAdd(key, mine);
        return flight == mine;
    }

    /// <summary>
    /// Ends the leader's flight, handing its answer (null: none kept) to the requests that followed it, and telling
    /// stream followers whether the answer they were sent went out <paramref name="whole"/>.
    /// </summary>
    public void Land(string key, CachedAnswer? answer, bool whole)
    {
        if (_flights.TryRemove(key, out var flight))
        {
            flight.Live?.Finish(whole);
            flight.Answer.TrySetResult(answer);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
        _entries.Dispose();
        (Semantic?.Embedder as IDisposable)?.Dispose();
        foreach (var evict in _workspaces.Values)
        {
            evict.Dispose();
        }
    }
}
