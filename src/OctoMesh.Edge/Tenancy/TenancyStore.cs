using System.Buffers;
using System.Collections.Frozen;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using OctoMesh.Edge.Cache.Redis;
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
/// subscription breaks reads the whole hash again when it is back.
/// </summary>
internal sealed class TenancyStore : IAsyncDisposable
{
    public const string Channel = "octomesh:tenancy";
    private const string RevisionKey = "octomesh:tenancy:revision";
    private const string ForgetPrefix = "forget:";

    /// <summary>
    /// Writes a record unless Redis holds a later revision of it, and never over a revocation with an unrevoked
    /// version (so replicas racing after an outage cannot undo one). 1 written, 0 refused (the caller reads Redis's).
    /// </summary>
    private static readonly RespScript s_put = new("""
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
    private readonly RespClient? _redis;
    private readonly RespSubscriber? _subscriber;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private Dictionary<string, TenancyRecord> _records = new(StringComparer.Ordinal);
    private long _version;
    private long _redisErrors;
    /// <summary>The last view and what it was built from (one reference, so it is read whole).</summary>
    private CachedView? _view;

    private sealed record CachedView(GatewayConfig Config, long Version, TenantView View);

    public TenancyStore(TenancyConfig config, RespClient? redis, RedisConfig? redisConfig, ILogger logger)
    {
        _path = Path.Combine(config.Directory, "store.json");
        _redis = redis;
        _logger = logger;
        Load();
        if (redis is not null && redisConfig is not null)
        {
            var (host, port) = RespClient.SplitAddress(redisConfig.Address);
            _subscriber = new RespSubscriber(host, port, new Dictionary<string, Action<byte[]>> { [Channel] = OnMessage }, redisConfig.Auth,
                onSubscribed: () => _ = ResyncUntilDoneAsync());
        }
    }

    /// <summary>Called with a workspace's name when it is forgotten, here or on another replica.</summary>
    public event Action<string>? Forgotten;

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

    /// <summary>Keeps a new or changed record: here (on disk before this returns), then on Redis for the other replicas.</summary>
    public async Task PutAsync(WorkspaceConfig? workspace, ClientKeyConfig? key)
    {
        var revision = 0L;
        if (_redis is not null)
        {
            try
            {
                revision = (await _redis.ExecuteAsync(["INCR", RevisionKey])).Integer;
            }
            catch (RedisUnavailableException)
            {
                Interlocked.Increment(ref _redisErrors);
            }
        }
        TenancyRecord record;
        lock (_gate)
        {
            // Without Redis (or while it is away) the revision is this replica's next; a clock-free order is enough here.
            revision = Math.Max(revision, _records.Values.Select(r => r.Revision).DefaultIfEmpty(0).Max() + 1);
            record = new TenancyRecord(revision, workspace, key);
            record = TenancyRecord.Merge(_records.GetValueOrDefault(record.Field), record) ?? record;
            ApplyLocked(record);
        }
        await PublishAsync(record);
    }

    /// <summary>Tells every replica (and this one) that <paramref name="workspace"/> is forgotten.</summary>
    public async Task AnnounceForgetAsync(string workspace)
    {
        Forgotten?.Invoke(workspace);
        if (_redis is null)
        {
            return;
        }
        try
        {
            await _redis.PublishAsync(Channel, Encoding.UTF8.GetBytes(ForgetPrefix + workspace));
        }
        catch (Exception e) when (e is RedisUnavailableException or RedisErrorException)
        {
            Interlocked.Increment(ref _redisErrors);
            throw;
        }
    }

    private async Task PublishAsync(TenancyRecord record)
    {
        if (_redis is null)
        {
            return;
        }
        try
        {
            await PushAsync(record);
        }
        catch (Exception e) when (e is RedisUnavailableException or RedisErrorException)
        {
            Interlocked.Increment(ref _redisErrors);
            Telemetry.Log.TenancySyncFailed(_logger, record.Field);
        }
    }

    private void OnMessage(byte[] message)
    {
        var text = Encoding.UTF8.GetString(message);
        if (text.StartsWith(ForgetPrefix, StringComparison.Ordinal))
        {
            Forgotten?.Invoke(text[ForgetPrefix.Length..]);
            return;
        }
        _ = FetchAsync(text);
    }

    private async Task FetchAsync(string field)
    {
        try
        {
            var reply = await _redis!.ExecuteAsync(["HGET", Channel, field]);
            if (reply.Bytes is { } bytes && Parse(bytes) is { } record)
            {
                Apply(record);
            }
        }
        catch (Exception e) when (e is RedisUnavailableException or RedisErrorException)
        {
            Interlocked.Increment(ref _redisErrors);
        }
    }

    /// <summary>Resyncs, trying again (250 ms, doubling to 5 s) while Redis is not yet taking commands after a (re)connect.</summary>
    private async Task ResyncUntilDoneAsync()
    {
        var backoff = TimeSpan.FromMilliseconds(250);
        while (!await ResyncAsync() && !_stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(backoff, _stopping.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
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
            var reply = await _redis.ExecuteAsync(["HGETALL", Channel]);
            var remote = new Dictionary<string, TenancyRecord>(StringComparer.Ordinal);
            for (var i = 0; reply.Items is { } items && i + 1 < items.Length; i += 2)
            {
                if (Parse(items[i + 1].Bytes!) is { } record)
                {
                    remote[record.Field] = record;
                    Apply(record);
                }
            }
            foreach (var record in Records.Where(r => !remote.TryGetValue(r.Field, out var there) || TenancyRecord.Merge(there, r) is not null))
            {
                await PushAsync(record);
            }
            return true;
        }
        catch (Exception e) when (e is RedisUnavailableException or RedisErrorException)
        {
            Interlocked.Increment(ref _redisErrors);
            return false;
        }
    }

    /// <summary>Writes and announces the record (<see cref="s_put"/>); when Redis has a later one, takes that instead.</summary>
    private async Task PushAsync(TenancyRecord record)
    {
        if ((await _redis!.EvalAsync(s_put, [Channel], [record.Field, Serialize(record)])).Integer == 0)
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
        lock (_gate)
        {
            if (TenancyRecord.Merge(_records.GetValueOrDefault(incoming.Field), incoming) is { } merged)
            {
                ApplyLocked(merged);
            }
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
        using var document = JsonDocument.Parse(File.ReadAllBytes(_path));
        foreach (var element in document.RootElement.GetProperty("records").EnumerateArray())
        {
            if (TenancyRecord.Read(element) is { } record)
            {
                _records[record.Field] = record;
            }
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
        if (_subscriber is not null)
        {
            await _subscriber.DisposeAsync();
        }
    }
}
