using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using FASTER.core;
using Microsoft.Extensions.Logging;
using OctoMesh.Edge.Telemetry;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Metering;

/// <summary>A request's trace on its way to the log: the record, the names it will refer to by id, and the request id it keeps a hash of.</summary>
internal struct PendingTrace
{
    public TraceRecord Record;
    public string? RequestId, Workspace, Key, Route, Provider, Model, Task;
}

/// <summary>
/// The trace of every request, appended to a FASTER log (<see cref="FasterLog"/>) on disk. The request
/// path only hands the record to a lock-free queue (<see cref="Append"/>, no allocation, never blocking); one
/// writer drains it, enqueues the 128-byte entries and group-commits every <see cref="TraceConfig.CommitMs"/>.
/// A record is durable once its commit completes; after a crash the log recovers to its last commit, so
/// a record is either there whole or not at all. A failing disk is counted and shown (metrics,
/// <c>/readyz</c>), records wait in the channel up to <see cref="TraceConfig.MaxBacklog"/>, and past that
/// are dropped and counted: the request path never waits and the process never stops for the log.
/// </summary>
internal sealed class TraceLog : IAsyncDisposable
{
    private readonly FasterLogSettings _settings;
    private readonly FasterLog _log;
    private readonly Channel<PendingTrace> _channel;
    private readonly TimeSpan _commitInterval;
    private readonly GatewayMetrics _metrics;
    private readonly ILogger _logger;
    private readonly Task _writer;
    private readonly Task _retention;
    private readonly CancellationTokenSource _stopping = new();
    private readonly TraceNames _names;
    private readonly byte[] _entry = new byte[TraceRecord.Size];
    private readonly long _unixMicrosAtStart = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000;
    private readonly long _timestampAtStart = Stopwatch.GetTimestamp();
    private readonly int _maxBacklog;
    private long _backlog;
    private long _sequence;
    private long _dropped;
    private long _written;
    private long _committed;
    private volatile bool _failing;

    /// <param name="discardRecords">Benchmarks only: records go to FASTER's null device (commits and names still to the directory).</param>
    public TraceLog(TraceConfig config, GatewayMetrics metrics, ILogger logger, bool discardRecords = false)
    {
        Directory = Path.GetFullPath(config.Directory);
        System.IO.Directory.CreateDirectory(Directory);
        _names = TraceNames.OpenForWriting(Directory);
        _settings = Settings(Directory, readOnly: false);
        if (discardRecords)
        {
            _settings.LogDevice.Dispose();
            _settings.LogDevice = new NullDevice();
        }
        _log = new FasterLog(_settings);
        // Unbounded and lock-free for one reader; the bound is the backlog count, checked before each write.
        _channel = Channel.CreateUnbounded<PendingTrace>(new UnboundedChannelOptions { SingleReader = true });
        _maxBacklog = config.MaxBacklog;
        _commitInterval = TimeSpan.FromMilliseconds(config.CommitMs);
        _metrics = metrics;
        _logger = logger;
        Process = BitConverter.ToUInt64(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));
        metrics.Observe<long>("octomesh.trace.backlog", "{record}", "Trace records waiting to be written to the log.", () => [new Measurement<long>(Backlog)]);
        metrics.Observe<long>("octomesh.trace.records", "{record}", "Trace records written to the log (durable at the next commit).",
            () => [new Measurement<long>(Volatile.Read(ref _written))], counter: true);
        metrics.Observe<long>("octomesh.trace.committed_records", "{record}", "Trace records durable on disk (their group commit completed).",
            () => [new Measurement<long>(Volatile.Read(ref _committed))], counter: true);
        metrics.Observe<long>("octomesh.trace.dropped", "{record}", "Trace records dropped because the backlog was full (the disk too slow or failing).",
            () => [new Measurement<long>(Dropped)], counter: true);
        _writer = Task.Run(WriteAsync);
        _retention = config.RetentionDays > 0 ? Task.Run(() => RetainAsync(TimeSpan.FromDays(config.RetentionDays))) : Task.CompletedTask;
    }

    /// <summary>The log's settings: 1 MiB pages, 4 MiB in memory, 64 MiB segment files, a checksum per entry.</summary>
    internal static FasterLogSettings Settings(string directory, bool readOnly) => new(directory)
    {
        PageSizeBits = 20,
        MemorySizeBits = 22,
        SegmentSizeBits = 26,
        LogChecksum = LogChecksumType.PerEntry,
        ReadOnlyMode = readOnly,
        // A failed write is counted and reported; the log goes on rather than refusing every later append.
        TolerateDeviceFailure = true,
    };

    public string Directory { get; }

    /// <summary>This process's half of every record id (random per start), so ids stay unique across restarts.</summary>
    public ulong Process { get; }

    public long Backlog => Interlocked.Read(ref _backlog);
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>The last commit failed (and none has succeeded since).</summary>
    public bool Failing => _failing;

    /// <summary>The oldest address still in the log.</summary>
    public long BeginAddress => _log.BeginAddress;

    /// <summary>Log address up to which records are durable.</summary>
    public long CommittedUntil => _log.CommittedUntilAddress;

    /// <summary>Unix microseconds for a <see cref="Stopwatch"/> timestamp taken in this process.</summary>
    public long UnixMicros(long timestamp) => _unixMicrosAtStart + (long)((timestamp - _timestampAtStart) * (1_000_000.0 / Stopwatch.Frequency));

    /// <summary>Hands a request's trace to the writer: never blocks, never allocates. False (and counted) when the backlog is full.</summary>
    public bool Append(ref PendingTrace trace)
    {
        trace.Record.Process = Process;
        trace.Record.Sequence = (ulong)Interlocked.Increment(ref _sequence);
        if (Interlocked.Increment(ref _backlog) <= _maxBacklog && _channel.Writer.TryWrite(trace))
        {
            return true;
        }
        Interlocked.Decrement(ref _backlog);
        Interlocked.Increment(ref _dropped);
        return false;
    }

    private async Task WriteAsync()
    {
        var reader = _channel.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var trace))
            {
                Interlocked.Decrement(ref _backlog);
                // The writer does what need not be done on the request path.
                trace.Record.RequestIdHash = trace.RequestId is null ? 0 : TraceNames.Hash64(trace.RequestId);
                try
                {
                    trace.Record.Workspace = _names.IdOf(trace.Workspace);
                    trace.Record.Key = _names.IdOf(trace.Key);
                    trace.Record.Route = _names.IdOf(trace.Route);
                    trace.Record.Provider = _names.IdOf(trace.Provider);
                    trace.Record.Model = _names.IdOf(trace.Model);
                    trace.Record.Task = _names.IdOf(trace.Task);
                }
                catch (IOException e)
                {
                    // The names file could not take a new name (disk full): the record keeps its numbers, the name reads as its id.
                    _metrics.TraceCommitFailed();
                    Log.TraceCommitFailed(_logger, Directory, e.Message);
                }
                trace.Record.WriteTo(_entry);
                await EnqueueAsync().ConfigureAwait(false);
                Volatile.Write(ref _written, _written + 1);
            }
            await CommitAsync().ConfigureAwait(false);
            if (!reader.Completion.IsCompleted)
            {
                // Group commit: let the next records gather.
                await Task.Delay(_commitInterval).ConfigureAwait(false);
            }
        }
    }

    private async ValueTask EnqueueAsync()
    {
        // False while the in-memory pages are all waiting for the disk: wait for a flush.
        while (!_log.TryEnqueue(_entry, out _))
        {
            await Task.Delay(1).ConfigureAwait(false);
        }
    }

    private async Task CommitAsync()
    {
        var started = Stopwatch.GetTimestamp();
        var written = Volatile.Read(ref _written);
        try
        {
            await _log.CommitAsync().ConfigureAwait(false);
            Volatile.Write(ref _committed, written);
            _metrics.TraceCommitted(Stopwatch.GetElapsedTime(started).TotalSeconds);
            _failing = false;
        }
        catch (Exception e) when (e is CommitFailureException or IOException or FasterException)
        {
            _metrics.TraceCommitFailed();
            if (!_failing)
            {
                Log.TraceCommitFailed(_logger, Directory, e.Message);
            }
            _failing = true;
        }
    }

    /// <summary>Every hour (the first time a minute after start), truncates the records older than <paramref name="window"/>.</summary>
    private async Task RetainAsync(TimeSpan window)
    {
        var wait = TimeSpan.FromMinutes(1);
        while (true)
        {
            try
            {
                await Task.Delay(wait, _stopping.Token).ConfigureAwait(false);
                await TruncateBeforeAsync(DateTimeOffset.UtcNow - window).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception e) when (e is IOException or FasterException or CommitFailureException)
            {
                Log.TraceCommitFailed(_logger, Directory, e.Message);
            }
            wait = TimeSpan.FromHours(1);
        }
    }

    /// <summary>
    /// Removes the committed records from the start of the log up to the first one that started at or after
    /// <paramref name="cutoff"/> (records finish out of start order, so a few older ones may stay), and commits
    /// that. Whole segment files below the new start are deleted. Returns the log's new start address.
    /// </summary>
    public async Task<long> TruncateBeforeAsync(DateTimeOffset cutoff)
    {
        var cutoffMicros = cutoff.ToUnixTimeMilliseconds() * 1000;
        var until = _log.BeginAddress;
        using (var iterator = _log.Scan(_log.BeginAddress, _log.CommittedUntilAddress))
        {
            while (iterator.GetNext(out var entry, out var length, out var address, out var next))
            {
                if (TraceRecord.TryRead(entry.AsSpan(0, length), out var record) && record.StartUnixMicros >= cutoffMicros)
                {
                    until = address;
                    break;
                }
                until = next;
            }
        }
        if (until > _log.BeginAddress)
        {
            _log.TruncateUntil(until);
            await _log.CommitAsync(_stopping.Token).ConfigureAwait(false);
        }
        return _log.BeginAddress;
    }

    /// <summary>Writes and commits everything appended so far, then closes the log.</summary>
    public async ValueTask DisposeAsync()
    {
        _channel.Writer.TryComplete();
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _writer.ConfigureAwait(false);
        await _retention.ConfigureAwait(false);
        _log.Dispose();
        _settings.Dispose();
        _names.Dispose();
        _stopping.Dispose();
    }
}
