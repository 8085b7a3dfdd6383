using System.Collections.Concurrent;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Caching.StackExchangeRedis;
using OctoMesh.Edge.Redis;
using StackExchange.Redis;
using ZiggyCreatures.Caching.Fusion;
using ZiggyCreatures.Caching.Fusion.Backplane.StackExchangeRedis;

namespace OctoMesh.Edge.Cache;

/// <summary>A miss on its way upstream that identical requests wait on: the answer it keeps, and its bytes as they go when it streams.</summary>
internal sealed record Flight(TaskCompletionSource<CachedAnswer?> Answer, LiveAnswer? Live);

/// <summary>A complete answer as the client got it: the bytes, their content type, whether they are an SSE stream, who answered, and the workspace whose request it was.</summary>
internal sealed record CachedAnswer(byte[] Body, string ContentType, bool Stream, string Provider, string Model, string Workspace);

/// <summary>
/// The exact cache: answers by key (<see cref="ExactCacheKey"/>) in FusionCache, each for its time to live and tagged with
/// its workspace, in this process's memory (bounded in bytes, least recently used first out) and, with Redis, on Redis
/// too, with FusionCache's backplane telling the other replicas of removals. On top of it, what FusionCache does not do:
/// the misses in flight, so that concurrent identical requests make one upstream call (single-flight) and followers of a
/// stream get its bytes as they come; and the index Redis keeps beside the answers (<see cref="RedisCacheIndex"/>).
/// Fail-safe: Redis down or slow never fails a request; its failures are counted and the cache goes on in memory.
/// </summary>
internal sealed class ExactCache : IAsyncDisposable
{
    /// <summary>What an answer takes in memory beyond its body (the entry, its key and texts).</summary>
    private const int EntryOverhead = 256;
    private readonly MemoryCache _memory;
    private readonly FusionCache _answers;
    private readonly FusionCacheEntryOptions _read;
    private readonly FusionCacheEntryOptions _readHere;
    private readonly ConcurrentDictionary<string, Flight> _flights = new(StringComparer.Ordinal);
    private readonly CountingDistributedCache? _shared;
    private readonly RedisCacheIndex? _index;

    /// <param name="redis">The shared Redis for a second level and its index, or null for this process alone.</param>
    /// <param name="semantic">The semantic index whose entries point at answers here, or null for the exact cache alone.</param>
    public ExactCache(long maxBytes, RedisConnection? redis = null, Semantic.SemanticCache? semantic = null)
    {
        MaxBytes = maxBytes;
        Semantic = semantic;
        _memory = new MemoryCache(new MemoryCacheOptions { SizeLimit = maxBytes, CompactionPercentage = 0.1 });
        var timeout = redis?.Timeout ?? TimeSpan.FromMilliseconds(100);
        var options = new FusionCacheOptions
        {
            CacheName = "answers",
            // A purged answer is gone, never served again as a fail-safe fallback.
            RemoveByTagBehavior = RemoveByTagBehavior.Remove,
            // It would try System.Text.Json's reflection at start, which a native binary does not have.
            EnableBestPracticesAdvisor = false,
            // After a Redis failure, memory alone for a moment instead of a timeout per request.
            DistributedCacheCircuitBreakerDuration = TimeSpan.FromSeconds(2),
            DefaultEntryOptions = new FusionCacheEntryOptions
            {
                IsFailSafeEnabled = false,
                DistributedCacheHardTimeout = timeout,
                AllowBackgroundDistributedCacheOperations = true,
                AllowBackgroundBackplaneOperations = true,
                ReThrowSerializationExceptions = false,
                ReThrowDistributedCacheExceptions = false,
                ReThrowBackplaneExceptions = false,
            },
        };
        // Tag timestamps live in the same bounded memory, so they need a size too.
        options.TagsDefaultEntryOptions.Size = EntryOverhead;
        options.TagsDefaultEntryOptions.DistributedCacheHardTimeout = timeout;
        options.TagsDefaultEntryOptions.AllowBackgroundDistributedCacheOperations = true;
        options.TagsDefaultEntryOptions.ReThrowDistributedCacheExceptions = false;
        _answers = new FusionCache(options, _memory);
        _read = _answers.CreateEntryOptions();
        _readHere = _answers.CreateEntryOptions(entry => entry.SkipDistributedCacheRead = true);
        if (redis is not null)
        {
            var multiplexer = Task.FromResult(redis.Multiplexer);
            _shared = new CountingDistributedCache(new RedisCache(new RedisCacheOptions
            {
                ConnectionMultiplexerFactory = () => multiplexer,
                InstanceName = "octomesh:answer:",
            }));
            _answers.SetupDistributedCache(_shared, new AnswerSerializer());
            // The backplane closes the connection it uses when the cache is disposed: a connection of its own.
            _answers.SetupBackplane(new RedisBackplane(new RedisBackplaneOptions { ConfigurationOptions = redis.Settings }));
            _index = new RedisCacheIndex(redis, PurgeHere, semantic is null ? null : question => AddSharedQuestion(question));
        }
    }

    public long MaxBytes { get; }

    /// <summary>The semantic cache's index, when configured: its entries point at answers kept here.</summary>
    public Semantic.SemanticCache? Semantic { get; }

    /// <summary>Redis failures the cache went on without (0 without Redis).</summary>
    public long RedisErrors => (_shared?.Errors ?? 0) + (_index?.Errors ?? 0);

    /// <summary>The answer for <paramref name="key"/>: from this process, else from Redis (then kept here too), else null.</summary>
    public async ValueTask<CachedAnswer?> GetAsync(string key) =>
        await _answers.TryGetAsync<CachedAnswer>(key, _read) is { HasValue: true } found ? found.Value : null;

    /// <summary>The answer for <paramref name="key"/> in this process, if any.</summary>
    public bool TryGetHere(string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out CachedAnswer? answer)
    {
        answer = _answers.TryGet<CachedAnswer>(key, _readHere) is { HasValue: true } found ? found.Value : null;
        return answer is not null;
    }

    /// <summary>The first of <paramref name="keys"/> (in their order) that Redis has an answer for, all asked at once, then kept here too; null without Redis.</summary>
    public async ValueTask<CachedAnswer?> GetSharedAsync(string[] keys)
    {
        if (_shared is null)
        {
            return null;
        }
        var lookups = new Task<ZiggyCreatures.Caching.Fusion.MaybeValue<CachedAnswer>>[keys.Length];
        for (var i = 0; i < keys.Length; i++)
        {
            lookups[i] = _answers.TryGetAsync<CachedAnswer>(keys[i], _read).AsTask();
        }
        foreach (var lookup in lookups)
        {
            if (await lookup is { HasValue: true } found)
            {
                return found.Value;
            }
        }
        return null;
    }

    /// <summary>Keeps <paramref name="answer"/> here and, with Redis, for the other replicas (without waiting for Redis).</summary>
    public void Set(string key, CachedAnswer answer, TimeSpan ttl)
    {
        _answers.Set(key, answer, _answers.CreateEntryOptions(entry => entry.Size = answer.Body.Length + EntryOverhead, ttl), [Tag(answer.Workspace)]);
        if (_index is not null)
        {
            _ = _index.AddAnswerAsync(answer.Workspace, key);
        }
    }

    /// <summary>Adds a question whose answer was just kept under <paramref name="answerKey"/> to the semantic index, here and on the other replicas.</summary>
    public void AddQuestion(string partition, string workspace, Semantic.SemanticQuery query, string answerKey, TimeSpan ttl)
    {
        Semantic!.Add(partition, workspace, query, answerKey, ttl);
        if (_index is not null)
        {
            var expires = DateTimeOffset.UtcNow.Add(ttl).ToUnixTimeMilliseconds();
            _ = _index.ShareQuestionAsync(new Semantic.SharedQuestion(Semantic.Embedder.Name, partition, workspace, answerKey, expires, query.Guards, query.Vector), ttl);
        }
    }

    /// <summary>Reads back the semantic index's entries other replicas left in Redis (at start); returns how many were added.</summary>
    public async Task<int> LoadSharedQuestionsAsync()
    {
        if (_index is null || Semantic is null)
        {
            return 0;
        }
        var added = 0;
        foreach (var question in await _index.LoadQuestionsAsync())
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

    /// <summary>
    /// Removes every answer a request of <paramref name="workspace"/> put in (null: every answer): here, from Redis, and on
    /// the other replicas (FusionCache's backplane marks them removed at once; the purge notice frees their memory).
    /// </summary>
    public async Task PurgeAsync(string? workspace)
    {
        PurgeHere(workspace);
        if (_index is null)
        {
            return;
        }
        if (workspace is null)
        {
            await _answers.ClearAsync(allowFailSafe: false);
        }
        else
        {
            await _answers.RemoveByTagAsync(Tag(workspace));
        }
        // The entries themselves leave Redis now, not when they would have expired.
        var removeShared = _answers.CreateEntryOptions(entry => entry.SkipBackplaneNotifications = true);
        foreach (var key in await _index.PurgeAsync(workspace))
        {
            await _answers.RemoveAsync(key, removeShared);
        }
    }

    /// <summary>Every answer a request of <paramref name="workspace"/> put in that is still kept, here or on Redis (for an access request).</summary>
    public async Task<IReadOnlyList<CachedAnswer>> HeldForAsync(string workspace)
    {
        var keys = new HashSet<string>(KeysHere(workspace), StringComparer.Ordinal);
        if (_index is not null)
        {
            keys.UnionWith(await _index.KeysOfAsync(workspace));
        }
        var held = new List<CachedAnswer>();
        foreach (var key in keys)
        {
            if (await GetAsync(key) is { } answer && answer.Workspace == workspace)
            {
                held.Add(answer);
            }
        }
        return held;
    }

    /// <summary>
    /// Removes the workspace's answers (null: all) and its semantic entries from this process only (another replica
    /// purged, or forgot the workspace: Redis is done already).
    /// </summary>
    public void PurgeHere(string? workspace)
    {
        Semantic?.Purge(workspace);
        var removeHere = _answers.CreateEntryOptions(entry =>
        {
            entry.SkipDistributedCacheWrite = true;
            entry.SkipBackplaneNotifications = true;
        });
        foreach (var key in KeysHere(workspace))
        {
            _answers.Remove(key, removeHere);
        }
    }

    /// <summary>The keys of the answers in this process's memory that <paramref name="workspace"/> put in (null: all).</summary>
    private List<string> KeysHere(string? workspace)
    {
        var keys = new List<string>();
        foreach (var entry in _memory.Keys)
        {
            // FusionCache's own entries (tags, clears) start with its prefix.
            if (entry is string key && !key.StartsWith("__fc:", StringComparison.Ordinal) && TryGetHere(key, out var answer)
                && (workspace is null || answer.Workspace == workspace))
            {
                keys.Add(key);
            }
        }
        return keys;
    }

    private static string Tag(string workspace) => "workspace:" + workspace;

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

    public ValueTask DisposeAsync()
    {
        _answers.Dispose();
        _memory.Dispose();
        (Semantic?.Embedder as IDisposable)?.Dispose();
        return ValueTask.CompletedTask;
    }
}
