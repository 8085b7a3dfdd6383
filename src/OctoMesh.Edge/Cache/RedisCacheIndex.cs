using System.Text;
using OctoMesh.Edge.Cache.Semantic;
using OctoMesh.Edge.Redis;
using StackExchange.Redis;

namespace OctoMesh.Edge.Cache;

/// <summary>
/// What the cache keeps on Redis beside FusionCache's answers, so replicas share it: which answers each workspace's
/// requests put in (<c>octomesh:exact:workspace:{name}</c>, for access requests and purges), the semantic index's entries
/// (<see cref="SharedQuestion"/>: a vector and guard facts, never text, under <c>octomesh:semantic:{key}</c> for as long as
/// their answers, announced on <c>octomesh:semantic:add</c>, read back by a replica that starts), and purges, announced on
/// <c>octomesh:cache:purge</c> so every replica's semantic index forgets too. Fail-safe: a Redis failure is counted and the
/// cache goes on with what this process has.
/// </summary>
internal sealed class RedisCacheIndex
{
    private static readonly RedisChannel s_purges = RedisChannel.Literal("octomesh:cache:purge");
    private static readonly RedisChannel s_questions = RedisChannel.Literal("octomesh:semantic:add");
    private static readonly TimeSpan s_keysKept = TimeSpan.FromDays(31);
    private readonly RedisConnection _redis;
    private readonly byte[] _instance = Encoding.ASCII.GetBytes(Guid.NewGuid().ToString("N"));
    private long _errors;

    /// <param name="onPurge">Called with a workspace (null: all) when another replica purged.</param>
    /// <param name="onQuestion">Called with each semantic-cache entry another replica adds.</param>
    public RedisCacheIndex(RedisConnection redis, Action<string?> onPurge, Action<SharedQuestion>? onQuestion)
    {
        _redis = redis;
        _ = SubscribeAsync(s_purges, message => onPurge(Encoding.UTF8.GetString(message) is var workspace && workspace == "*" ? null : workspace));
        if (onQuestion is not null)
        {
            _ = SubscribeAsync(s_questions, message => onQuestion(SharedQuestion.Decode(message)));
        }
    }

    /// <summary>Redis calls that failed or timed out (FusionCache's own are counted where it calls Redis).</summary>
    public long Errors => Interlocked.Read(ref _errors);

    /// <summary>Notes that <paramref name="workspace"/>'s request put in the answer under <paramref name="key"/>.</summary>
    public async Task AddAnswerAsync(string workspace, string key)
    {
        var members = WorkspaceSet(workspace);
        var batch = _redis.Database.CreateBatch();
        var added = batch.SetAddAsync(members, key);
        var kept = batch.KeyExpireAsync(members, s_keysKept);
        batch.Execute();
        await Guard(Task.WhenAll(added, kept));
    }

    /// <summary>The keys of the answers a workspace's requests put in (some may have expired since).</summary>
    public async Task<string[]> KeysOfAsync(string workspace)
    {
        var members = await Guard(_redis.WithinTimeout(_redis.Database.SetMembersAsync(WorkspaceSet(workspace))));
        return members is null ? [] : [.. members.Select(m => m.ToString())];
    }

    /// <summary>Keeps a semantic-cache entry beside its answer, and tells the other replicas.</summary>
    public async Task ShareQuestionAsync(SharedQuestion question, TimeSpan ttl)
    {
        var entry = question.Encode();
        await Guard(Task.WhenAll(
            _redis.Database.StringSetAsync("octomesh:semantic:" + question.AnswerKey, entry, ttl),
            _redis.Subscriber.PublishAsync(s_questions, Stamped(entry))));
    }

    /// <summary>Every semantic-cache entry Redis holds (for a replica that starts); none when Redis is unreachable.</summary>
    public async Task<List<SharedQuestion>> LoadQuestionsAsync()
    {
        var questions = new List<SharedQuestion>();
        try
        {
            var page = new List<RedisKey>(1000);
            await foreach (var key in _redis.ScanAsync("octomesh:semantic:*"))
            {
                page.Add(key);
                if (page.Count == 1000)
                {
                    await ReadQuestionsAsync(page, questions);
                }
            }
            await ReadQuestionsAsync(page, questions);
        }
        catch (Exception e) when (RedisConnection.IsFailure(e))
        {
            // Best effort at start: the replica starts with what it has read (or an empty index).
            Interlocked.Increment(ref _errors);
        }
        return questions;
    }

    /// <summary>
    /// Deletes the index's entries for the workspace's answers (null: every workspace's) and tells the other replicas.
    /// </summary>
    /// <returns>The keys of the answers those were (for the caller to delete); as many as were read when Redis failed.</returns>
    public async Task<List<string>> PurgeAsync(string? workspace)
    {
        var answers = new List<string>();
        try
        {
            var sets = new List<RedisKey>();
            if (workspace is null)
            {
                await foreach (var set in _redis.ScanAsync("octomesh:exact:workspace:*"))
                {
                    sets.Add(set);
                }
            }
            else
            {
                sets.Add(WorkspaceSet(workspace));
            }
            foreach (var set in sets)
            {
                var keys = await _redis.Database.SetMembersAsync(set);
                answers.AddRange(keys.Select(k => k.ToString()));
                await _redis.Database.KeyDeleteAsync([.. keys.Select(k => (RedisKey)("octomesh:semantic:" + k)), set]);
            }
            await _redis.Subscriber.PublishAsync(s_purges, Stamped(Encoding.UTF8.GetBytes(workspace ?? "*")));
        }
        catch (Exception e) when (RedisConnection.IsFailure(e))
        {
            Interlocked.Increment(ref _errors);
        }
        return answers;
    }

    private async Task ReadQuestionsAsync(List<RedisKey> keys, List<SharedQuestion> questions)
    {
        if (keys.Count == 0)
        {
            return;
        }
        foreach (var value in await _redis.Database.StringGetAsync([.. keys]))
        {
            try
            {
                if ((byte[]?)value is { } bytes)
                {
                    questions.Add(SharedQuestion.Decode(bytes));
                }
            }
            catch (InvalidDataException)
            {
                Interlocked.Increment(ref _errors);
            }
        }
        keys.Clear();
    }

    /// <summary>Hears a channel; its own messages (this instance's id first) and ones that cannot be read are dropped.</summary>
    private async Task SubscribeAsync(RedisChannel channel, Action<byte[]> handle)
    {
        try
        {
            await _redis.Subscriber.SubscribeAsync(channel, (_, value) =>
            {
                var message = (byte[]?)value;
                if (message is null || message.Length <= _instance.Length || message.AsSpan(0, _instance.Length).SequenceEqual(_instance))
                {
                    return;
                }
                try
                {
                    handle(message[_instance.Length..]);
                }
                catch (InvalidDataException)
                {
                    // Whatever is wrong with one message (another version, corrupt data) must not end the subscription.
                    Interlocked.Increment(ref _errors);
                }
            });
        }
        catch (Exception e) when (RedisConnection.IsFailure(e))
        {
            // The client subscribes again by itself once it connects.
            Interlocked.Increment(ref _errors);
        }
    }

    private byte[] Stamped(byte[] message) => [.. _instance, .. message];

    private static RedisKey WorkspaceSet(string workspace) => "octomesh:exact:workspace:" + workspace;

    private async Task<T?> Guard<T>(Task<T> call)
    {
        try
        {
            return await call;
        }
        catch (Exception e) when (RedisConnection.IsFailure(e))
        {
            Interlocked.Increment(ref _errors);
            return default;
        }
    }

    private async Task Guard(Task call)
    {
        try
        {
            await call;
        }
        catch (Exception e) when (RedisConnection.IsFailure(e))
        {
            Interlocked.Increment(ref _errors);
        }
    }
}
