using System.Buffers.Binary;
using System.Text;
using OctoMesh.Edge.Cache.Redis;
using OctoMesh.Edge.Cache.Semantic;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Cache;

/// <summary>
/// The cache's shared level on Redis, so replicas answer each other's repeats: an answer is kept under
/// <c>octomesh:exact:{key}</c> for its time to live, each workspace's keys in a set for purging, and purges are
/// announced on <c>octomesh:cache:purge</c> so every replica drops its in-process copies too. The semantic cache's
/// entries (<see cref="SharedQuestion"/>: a vector and guard facts, never text) are kept under
/// <c>octomesh:semantic:{key}</c>, beside their answers and for as long, and announced on
/// <c>octomesh:semantic:add</c>, so every replica's index has them, and one that starts reads them all back. Fail-safe:
/// any Redis failure (down, slow past the soft timeout) is counted and the request goes on with the in-process level alone.
/// </summary>
internal sealed class RedisCacheLevel : IAsyncDisposable
{
    private const string PurgeChannel = "octomesh:cache:purge", QuestionChannel = "octomesh:semantic:add";
    private readonly RespClient _client;
    private readonly RespSubscriber _subscriber;
    private readonly string _instance = Guid.NewGuid().ToString("N");
    private long _errors;

    /// <param name="onPurge">Called with a workspace (null: all) when another replica purged.</param>
    /// <param name="onQuestion">Called with each semantic-cache entry another replica adds.</param>
    public RedisCacheLevel(string host, int port, TimeSpan softTimeout, Action<string?> onPurge, Action<SharedQuestion>? onQuestion = null,
        RedisCredentials? credentials = null)
    {
        _client = new RespClient(host, port, RespOptions.Default with { ConnectTimeout = softTimeout * 4, CommandTimeout = softTimeout, Credentials = credentials });
        _subscriber = new RespSubscriber(host, port, new Dictionary<string, Action<byte[]>>
        {
            [PurgeChannel] = message =>
            {
                var text = Encoding.UTF8.GetString(message);
                var split = text.IndexOf('\n');
                if (split > 0 && text[..split] != _instance)
                {
                    var workspace = text[(split + 1)..];
                    onPurge(workspace == "*" ? null : workspace);
                }
            },
            [QuestionChannel] = message =>
            {
                // The sender's instance id (32 hex digits and a newline), then the entry.
                if (onQuestion is not null && message.Length > 33 && !message.AsSpan(0, 32).SequenceEqual(Encoding.ASCII.GetBytes(_instance)))
                {
                    try
                    {
                        onQuestion(SharedQuestion.Decode(message.AsSpan(33)));
                    }
                    catch (Exception)
                    {
                        // Whatever is wrong with one message (another version, corrupt data) must not end the subscription.
                        Interlocked.Increment(ref _errors);
                    }
                }
            },
        }, credentials);
    }

    /// <summary>Redis calls that failed or timed out; the cache went on without Redis for them.</summary>
    public long Errors => Interlocked.Read(ref _errors);

    /// <summary>The answers under <paramref name="keys"/> (null where none), in one MGET; all null when Redis fails.</summary>
    public async Task<CachedAnswer?[]> GetManyAsync(string[] keys)
    {
        var answers = new CachedAnswer?[keys.Length];
        try
        {
            var values = (await _client.ExecuteAsync(["MGET", .. keys.Select(k => (object)("octomesh:exact:" + k))])).Items;
            for (var i = 0; i < answers.Length && values is not null && i < values.Length; i++)
            {
                answers[i] = values[i].Bytes is { } stored ? Decode(stored) : null;
            }
        }
        catch (Exception e) when (e is RedisUnavailableException or RedisErrorException or InvalidDataException)
        {
            Interlocked.Increment(ref _errors);
        }
        return answers;
    }

    /// <summary>The keys of the answers a workspace's requests put in (some may have expired since).</summary>
    public async Task<string[]> KeysOfAsync(string workspace)
    {
        try
        {
            return (await _client.ExecuteAsync(["SMEMBERS", "octomesh:exact:workspace:" + workspace])).Items?.Select(i => i.Text!).ToArray() ?? [];
        }
        catch (Exception e) when (e is RedisUnavailableException or RedisErrorException)
        {
            Interlocked.Increment(ref _errors);
            return [];
        }
    }

    public async Task SetAsync(string key, CachedAnswer answer, TimeSpan ttl)
    {
        try
        {
            var members = "octomesh:exact:workspace:" + answer.Workspace;
            await Task.WhenAll(
                _client.SetAsync("octomesh:exact:" + key, Encode(answer), ttl),
                _client.ExecuteAsync(["SADD", members, key]),
                _client.ExecuteAsync(["PEXPIRE", members, (long)TimeSpan.FromDays(31).TotalMilliseconds]));
        }
        catch (Exception e) when (e is RedisUnavailableException or RedisErrorException)
        {
            Interlocked.Increment(ref _errors);
        }
    }

    /// <summary>Keeps a semantic-cache entry beside its answer, and tells the other replicas.</summary>
    public async Task ShareQuestionAsync(SharedQuestion question, TimeSpan ttl)
    {
        try
        {
            var entry = question.Encode();
            var message = new byte[33 + entry.Length];
            Encoding.ASCII.GetBytes(_instance, message);
            message[32] = (byte)'\n';
            entry.CopyTo(message, 33);
            await Task.WhenAll(
                _client.SetAsync("octomesh:semantic:" + question.AnswerKey, entry, ttl),
                _client.PublishAsync(QuestionChannel, message));
        }
        catch (Exception e) when (e is RedisUnavailableException or RedisErrorException)
        {
            Interlocked.Increment(ref _errors);
        }
    }

    /// <summary>Every semantic-cache entry Redis holds (for a replica that starts); none when Redis is unreachable.</summary>
    public async Task<List<SharedQuestion>> LoadQuestionsAsync()
    {
        var questions = new List<SharedQuestion>();
        try
        {
            var cursor = "0";
            do
            {
                var page = await _client.ExecuteAsync(["SCAN", cursor, "MATCH", "octomesh:semantic:*", "COUNT", 1000L]);
                if (page.Items is not [{ Text: { } next }, { Items: { } found }])
                {
                    // An error reply (NOAUTH, NOPERM, …): no index from Redis this time.
                    throw new RedisErrorException(page.Text ?? "SCAN failed");
                }
                cursor = next;
                var keys = found.Select(k => (object)k.Text!).ToArray();
                if (keys.Length == 0)
                {
                    continue;
                }
                foreach (var value in (await _client.ExecuteAsync(["MGET", .. keys])).Items ?? [])
                {
                    if (value.Bytes is { } bytes)
                    {
                        try
                        {
                            questions.Add(SharedQuestion.Decode(bytes));
                        }
                        catch (InvalidDataException)
                        {
                            Interlocked.Increment(ref _errors);
                        }
                    }
                }
            }
            while (cursor != "0");
        }
        catch (Exception)
        {
            // Best effort at start: whatever fails, the replica starts with what it has read (or an empty index).
            Interlocked.Increment(ref _errors);
        }
        return questions;
    }

    /// <summary>Deletes the workspace's answers (null: every workspace's) from Redis and tells the other replicas.</summary>
    public async Task PurgeAsync(string? workspace)
    {
        try
        {
            var sets = workspace is null
                ? (await _client.ExecuteAsync(["KEYS", "octomesh:exact:workspace:*"])).Items?.Select(i => i.Text!).ToArray() ?? []
                : ["octomesh:exact:workspace:" + workspace];
            foreach (var set in sets)
            {
                var keys = (await _client.ExecuteAsync(["SMEMBERS", set])).Items?
                    .SelectMany(i => new[] { "octomesh:exact:" + i.Text, "octomesh:semantic:" + i.Text }).ToArray() ?? [];
                await _client.DelAsync([.. keys, set]);
            }
            await _client.PublishAsync(PurgeChannel, Encoding.UTF8.GetBytes($"{_instance}\n{workspace ?? "*"}"));
        }
        catch (Exception e) when (e is RedisUnavailableException or RedisErrorException)
        {
            Interlocked.Increment(ref _errors);
        }
    }

    /// <summary>An answer as Redis keeps it: version, stream flag, four length-prefixed texts, then the body.</summary>
    internal static byte[] Encode(CachedAnswer answer)
    {
        string[] texts = [answer.ContentType, answer.Provider, answer.Model, answer.Workspace];
        var sizes = texts.Select(Encoding.UTF8.GetByteCount).ToArray();
        var bytes = new byte[2 + sizes.Sum(s => 2 + s) + answer.Body.Length];
        bytes[0] = 1;
        bytes[1] = answer.Stream ? (byte)1 : (byte)0;
        var at = 2;
        for (var i = 0; i < texts.Length; i++)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(at), (ushort)sizes[i]);
            at += 2 + Encoding.UTF8.GetBytes(texts[i], bytes.AsSpan(at + 2));
        }
        answer.Body.CopyTo(bytes.AsSpan(at));
        return bytes;
    }

    internal static CachedAnswer Decode(byte[] bytes)
    {
        if (bytes.Length < 10 || bytes[0] != 1)
        {
            throw new InvalidDataException("not a cached answer of this version");
        }
        var at = 2;
        var texts = new string[4];
        for (var i = 0; i < texts.Length; i++)
        {
            var size = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(at));
            texts[i] = Encoding.UTF8.GetString(bytes, at + 2, size);
            at += 2 + size;
        }
        return new CachedAnswer(bytes[at..], texts[0], bytes[1] == 1, texts[1], texts[2], texts[3]);
    }

    public async ValueTask DisposeAsync()
    {
        await _subscriber.DisposeAsync();
        await _client.DisposeAsync();
    }
}
