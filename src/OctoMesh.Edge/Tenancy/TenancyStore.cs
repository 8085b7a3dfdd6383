using System.Buffers;
using System.Collections.Frozen;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using OctoMesh.Edge.Redis;
using StackExchange.Redis;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Tenancy;

/// <summary>What requests see of tenancy: every key (the file's and the store's) and every workspace's content policy.</summary>
internal sealed class TenantView(ClientKeyTable keys, FrozenDictionary<string, WorkspaceConfig> workspaces)
{
    public ClientKeyTable Keys { get; } = keys;

    public FrozenDictionary<string, WorkspaceConfig> Workspaces { get; } = workspaces;

    /// <summary>A workspace keeps nothing unless it chose to (named in <c>workspaces</c> or made through the admin API).</summary>
    public ContentPolicy ContentOf(string workspace) => Workspaces.TryGetValue(workspace, out var found) ? found.Content : ContentPolicy.None;
}

/// <summary>
/// The workspaces and keys made through the admin API. Kept in one small JSON file replaced atomically on each change
/// (written beside, flushed to disk, renamed over: after a crash the file is the old one or the new one, never half).
/// With Redis, every record is also in the hash <c>octomesh:tenancy</c> and each change is announced on the channel
/// of the same name, so every replica applies it at once (revocations within milliseconds); a replica whose
/// subscription breaks reads the whole hash again when it is back. Work after a Redis call that writes the file moves to
/// the thread pool first (<c>ForceYielding</c>): a reply or a failure may come back on a thread that, with inline I/O,
/// serves requests too.
/// </summary>
internal sealed class TenancyStore : IAsyncDisposable
{
    public const string Channel = "octomesh:tenancy";
    private const string RevisionKey = "octomesh:tenancy:revision";

    /// <summary>
    /// Writes a record unless Redis holds a later revision of it, and never over a revocation with an unrevoked
    /// version (so replicas racing after an outage cannot undo one). 1 written, 0 refused (the caller reads Redis's).
    /// </summary>
    private static readonly RedisScript s_put = new("""
        local old = redis.call('HGET', KEYS[1], ARGV[1])
        if old then
          local was = cjson.decode(old)
          local new = cjson.decode(ARGV[2])
          local revokes = new.revoked ~= nil and was.revoked == nil
          if not revokes and (was.revoked ~= nil and new.revoked == nil or was.revision >= new.revision) then
            return 0
          end
        end
        redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
        redis.call('PUBLISH', KEYS[1], ARGV[1])
        return 1
        """);

    private readonly Lock _gate = new();
    private readonly string _path;
    private readonly RedisConnection? _redis;
    private int _resyncing;
    private Action<string>? _forgotten;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _firstSync = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Dictionary<string, TenancyRecord> _records = new(StringComparer.Ordinal);
    private long _version;
    private long _redisErrors;
    /// <summary>The last view and what it was built from (one reference, so it is read whole).</summary>
    private CachedView? _view;

    private sealed record CachedView(GatewayConfig Config, long Version, TenantView View);

    public TenancyStore(TenancyConfig config, RedisConnection? redis, ILogger logger)
    {
        _path = Path.Combine(config.Directory, "store.json");
        _redis = redis;
        _logger = logger;
        Load();
    }

    /// <summary>
    /// Starts hearing from the other replicas (with Redis). <paramref name="forgotten"/> is called with a workspace's
    /// name when it is forgotten, here or on another replica; it is in place before the first resync can apply anything.
    /// </summary>
    public void Start(Action<string> forgotten)
    {
        if (_forgotten is not null)
        {
            throw new InvalidOperationException("The tenancy store is started once.");
        }
        _forgotten = forgotten;
        if (_redis is not null)
        {
            // The client resubscribes by itself after a reconnect; what was announced meanwhile is read back by a resync.
            _redis.Multiplexer.ConnectionRestored += (_, e) =>
            {
                if (e.ConnectionType == ConnectionType.Subscription)
                {
                    _ = ResyncUntilDoneAsync(subscribe: false);
                }
            };
            _ = ResyncUntilDoneAsync(subscribe: true);
        }
    }

    /// <summary>Completes after the first resync with Redis (at once without Redis).</summary>
    public Task FirstSync => _redis is null ? Task.CompletedTask : _firstSync.Task;

    /// <summary>Redis calls that failed; the change was kept here and reaches the others at their next resync.</summary>
    public long RedisErrors => Interlocked.Read(ref _redisErrors);

    public IReadOnlyCollection<TenancyRecord> Records
    {
        get
        {
            lock (_gate)
            {
                return [.. _records.Values];
            }
        }
    }

    /// <summary>The file's keys and workspaces with the store's, rebuilt only when either changed.</summary>
    public TenantView View(GatewayConfig config)
    {
        var cached = Volatile.Read(ref _view);
        var version = Volatile.Read(ref _version);
        if (cached is not null && ReferenceEquals(cached.Config, config) && cached.Version == version)
        {
            return cached.View;
        }
        TenancyRecord[] records;
        lock (_gate)
        {
            records = [.. _records.Values];
            version = _version;
        }
        var workspaces = new Dictionary<string, WorkspaceConfig>(StringComparer.Ordinal);
        foreach (var record in records)
        {
            if (record.Workspace is { } workspace)
            {
                workspaces[workspace.Name] = workspace;
            }
        }
        foreach (var workspace in config.Workspaces)
        {
            workspaces[workspace.Name] = workspace;
        }
        var view = new TenantView(new ClientKeyTable(config.ClientKeys.Concat(records.Where(r => r.Key is not null).Select(r => r.Key!))),
            workspaces.ToFrozenDictionary(StringComparer.Ordinal));
        Volatile.Write(ref _view, new CachedView(config, version, view));
        return view;
    }

    /// <summary>
    /// Keeps a new or changed workspace or key: here (on disk before this returns), then on Redis for the other
    /// replicas. Returns the record as it stands after (a revocation made elsewhere stays, whatever this change says).
    /// </summary>
    public async Task<TenancyRecord> PutAsync(WorkspaceConfig? workspace, ClientKeyConfig? key) => (await WriteAsync(workspace, key, null)).Record;

    /// <summary>
    /// Makes a workspace unless one of that name is in the store already (null then); the check and the write are one step.
    /// </summary>
    public async Task<TenancyRecord?> CreateAsync(WorkspaceConfig workspace)
    {
        lock (_gate)
        {
            if (_records.ContainsKey("w:" + workspace.Name))
            {
                return null;
            }
        }
        var (record, _) = await WriteAsync(workspace, null, null, createOnly: true);
        return record.Workspace == workspace ? record : null;
    }

    /// <summary>
    /// Records that <paramref name="workspace"/>'s content is forgotten: this replica forgets it at once, and every other
    /// one when it hears of it (at once on the channel, or at its next resync if it was away). True when the record is
    /// in Redis for the others; false without Redis, or when Redis failed (the record reaches it at the next resync).
    /// </summary>
    public async Task<bool> ForgetAsync(string workspace) => (await WriteAsync(null, null, workspace)).Shared;

    /// <returns>The record as it stands after, and whether Redis has it (for the other replicas).</returns>
    private async Task<(TenancyRecord Record, bool Shared)> WriteAsync(WorkspaceConfig? workspace, ClientKeyConfig? key, string? forgotten,
        bool createOnly = false)
    {
        var counter = 0L;
        if (_redis is not null)
        {
            try
            {
                counter = await _redis.WithinTimeout(_redis.Database.StringIncrementAsync(RevisionKey)).ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
            }
            catch (Exception e) when (RedisConnection.IsFailure(e))
            {
                Interlocked.Increment(ref _redisErrors);
            }
        }
        TenancyRecord record;
        lock (_gate)
        {
            var field = new TenancyRecord(0, workspace, key, forgotten).Field;
            if (createOnly && _records.TryGetValue(field, out var existing))
            {
                return (existing, false);
            }
            // Without Redis (or while it is away) the counter is this replica's next.
            counter = Math.Max(counter, (_records.Values.Select(r => r.Revision).DefaultIfEmpty(0).Max() >> 16) + 1);
            record = new TenancyRecord((counter << 16) | s_tag, workspace, key, forgotten);
            record = TenancyRecord.Merge(_records.GetValueOrDefault(field), record) ?? record;
            ApplyLocked(record);
        }
        Announce(record);
        var shared = false;
        if (_redis is not null)
        {
            try
            {
                await PushAsync(record);
                shared = true;
            }
            catch (Exception e) when (RedisConnection.IsFailure(e) || e is IOException or UnauthorizedAccessException)
            {
                Interlocked.Increment(ref _redisErrors);
                Telemetry.Log.TenancySyncFailed(_logger, record.Field);
            }
        }
        lock (_gate)
        {
            return (_records[record.Field], shared);
        }
    }

    /// <summary>This process's tag in the low 16 bits of the revisions it writes.</summary>
    private static readonly long s_tag = BitConverter.ToUInt16(Guid.NewGuid().ToByteArray());

    private async Task FetchAsync(string field)
    {
        try
        {
            var value = await _redis!.WithinTimeout(_redis.Database.HashGetAsync(Channel, field)).ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
            if ((byte[]?)value is { } bytes && Parse(bytes) is { } record)
            {
                Apply(record);
            }
        }
        catch (Exception e) when (RedisConnection.IsFailure(e) || e is IOException or UnauthorizedAccessException)
        {
            // Redis failed, or the store could not be written here: the next resync tries again.
            Interlocked.Increment(ref _redisErrors);
        }
    }

    /// <summary>
    /// Subscribes to the channel (at start) and resyncs, trying again (250 ms, doubling to 5 s) while Redis is not taking
    /// commands; one such loop at a time (a reconnect during the first one is covered by it).
    /// </summary>
    private async Task ResyncUntilDoneAsync(bool subscribe)
    {
        if (Interlocked.Exchange(ref _resyncing, 1) == 1)
        {
            return;
        }
        var backoff = TimeSpan.FromMilliseconds(250);
        try
        {
            while (!_stopping.IsCancellationRequested)
            {
                if (subscribe && await SubscribeAsync())
                {
                    subscribe = false;
                }
                if (!subscribe && await ResyncAsync())
                {
                    return;
                }
                await Task.Delay(backoff, _stopping.Token);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
        finally
        {
            Volatile.Write(ref _resyncing, 0);
        }
    }

    /// <returns>False when Redis failed.</returns>
    private async Task<bool> SubscribeAsync()
    {
        try
        {
            await _redis!.WithinTimeout(SubscribeCoreAsync()).ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
            return true;
        }
        catch (Exception e) when (RedisConnection.IsFailure(e))
        {
            Interlocked.Increment(ref _redisErrors);
            return false;
        }

        async Task<bool> SubscribeCoreAsync()
        {
            await _redis.Subscriber.SubscribeAsync(RedisChannel.Literal(Channel), (channel, field) => _ = FetchAsync(field.ToString()));
            return true;
        }
    }

    /// <summary>
    /// Reads every record from Redis (newer ones win here), then gives Redis, and announces, what only this replica
    /// knows: records it never had, and changes made here while Redis was away (a revocation among them).
    /// </summary>
    /// <returns>False when Redis failed on the way.</returns>
    public async Task<bool> ResyncAsync()
    {
        if (_redis is null)
        {
            return true;
        }
        try
        {
            var entries = await _redis.WithinTimeout(_redis.Database.HashGetAllAsync(Channel)).ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
            var remote = new Dictionary<string, TenancyRecord>(StringComparer.Ordinal);
            foreach (var entry in entries)
            {
                if (Parse((byte[])entry.Value!) is { } record)
                {
                    remote[record.Field] = record;
                    Apply(record);
                }
            }
            foreach (var record in Records.Where(r => !remote.TryGetValue(r.Field, out var there) || TenancyRecord.Merge(there, r) is not null))
            {
                await PushAsync(record);
            }
            _firstSync.TrySetResult();
            return true;
        }
        catch (Exception e) when (RedisConnection.IsFailure(e) || e is IOException or UnauthorizedAccessException)
        {
            Interlocked.Increment(ref _redisErrors);
            return false;
        }
    }

    /// <summary>Writes and announces the record (<see cref="s_put"/>); when Redis has a later one, takes that instead.</summary>
    private async Task PushAsync(TenancyRecord record)
    {
        if ((long)await s_put.EvaluateAsync(_redis!, [Channel], [record.Field, Serialize(record)]) == 0)
        {
            await FetchAsync(record.Field);
        }
    }

    private static TenancyRecord? Parse(byte[] bytes)
    {
        try
        {
            using var document = JsonDocument.Parse(bytes);
            return TenancyRecord.Read(document.RootElement);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private void Apply(TenancyRecord incoming)
    {
        TenancyRecord? merged;
        lock (_gate)
        {
            merged = TenancyRecord.Merge(_records.GetValueOrDefault(incoming.Field), incoming);
            if (merged is not null)
            {
                ApplyLocked(merged);
            }
        }
        if (merged is not null)
        {
            Announce(merged);
        }
    }

    /// <summary>A forget newly applied here (made here, or heard of) is carried out here.</summary>
    private void Announce(TenancyRecord record)
    {
        if (record.Forgotten is { } workspace)
        {
            _forgotten?.Invoke(workspace);
        }
    }

    private void ApplyLocked(TenancyRecord record)
    {
        var next = new Dictionary<string, TenancyRecord>(_records, StringComparer.Ordinal) { [record.Field] = record };
        Save(next.Values);
        _records = next;
        Volatile.Write(ref _version, _version + 1);
    }

    private void Load()
    {
        if (!File.Exists(_path))
        {
            return;
        }
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(_path));
            foreach (var element in document.RootElement.GetProperty("records").EnumerateArray())
            {
                if (TenancyRecord.Read(element) is { } record)
                {
                    _records[record.Field] = record;
                }
            }
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            // Without its store the gateway would not know which keys were revoked: it does not start.
            throw new InvalidDataException($"{_path} is damaged ({e.Message}). Restore it from a backup; the gateway does not start without it.", e);
        }
    }

    private void Save(IEnumerable<TenancyRecord> records) => AtomicFile.WriteJson(_path, json =>
    {
        json.WriteStartObject();
        json.WriteNumber("version", 1);
        json.WriteStartArray("records");
        foreach (var record in records.OrderBy(r => r.Field, StringComparer.Ordinal))
        {
            record.Write(json, secrets: true);
        }
        json.WriteEndArray();
        json.WriteEndObject();
    });

    private static byte[] Serialize(TenancyRecord record)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var json = new Utf8JsonWriter(buffer))
        {
            record.Write(json, secrets: true);
        }
        return buffer.WrittenSpan.ToArray();
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        if (_redis is not null)
        {
            try
            {
                await _redis.Subscriber.UnsubscribeAsync(RedisChannel.Literal(Channel));
            }
            catch (Exception e) when (RedisConnection.IsFailure(e))
            {
                // Going away anyway: the connection's end drops the subscription.
            }
        }
    }
}
