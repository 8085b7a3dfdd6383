using System.Buffers;
using System.Diagnostics;
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
/// a record is either there whole or not at all.
/// <para>
/// A failing disk is counted and shown (metrics, <c>/readyz</c>) and loses nothing: the writer keeps the
/// entries of the group it has not yet committed, and when a commit fails it stops, waits until the directory
/// takes writes again (a probe once a second), reopens the log at its last good commit and writes the group
/// again. Meanwhile new records wait in memory up to <see cref="TraceConfig.MaxBacklog"/>; past that they are
/// dropped and counted. The request path never waits and the process never stops for the log.
/// </para>
/// </summary>
internal sealed class TraceLog : IAsyncDisposable
{
    private static readonly TimeSpan s_retentionEvery = TimeSpan.FromHours(1);

    private readonly bool _discardRecords;
    private readonly Channel<PendingTrace> _channel;
    private readonly TimeSpan _commitInterval;
    private readonly TimeSpan _retentionWindow;
    private readonly GatewayMetrics _metrics;
    private readonly ILogger _logger;
    private readonly Task _writer;
    private readonly CancellationTokenSource _stopping = new();
    /// <summary>Held by the writer while it uses the log, and by a truncation.</summary>
    private readonly SemaphoreSlim _exclusive = new(1, 1);
    private readonly TraceNames _names;
    private readonly byte[] _entry = new byte[TraceRecord.Size];
    /// <summary>The entries written since the last successful commit, kept to be written again if that commit fails.</summary>
    private readonly ArrayBufferWriter<byte> _group = new(64 * TraceRecord.Size);
    private readonly long _unixMicrosAtStart = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000;
    private readonly long _timestampAtStart = Stopwatch.GetTimestamp();
    private readonly int _maxBacklog;
    /// <summary>Set by the writer (<see cref="OpenThenWriteAsync"/>) before anything uses them; <see cref="_opened"/> says when.</summary>
    private FasterLogSettings _settings = null!;
    private FasterLog _log = null!;
    private readonly TaskCompletionSource _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _nextRetention;
    private long _nextCommitCleanup;
    /// <summary>FASTER's commit files: <c>log-commits/commit.{number}.0</c>.</summary>
    private readonly string _commits;
    /// <summary>The number of the newest commit file seen (-1: not yet looked).</summary>
    private long _newestCommit = -1;
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
        _commits = Path.Combine(Directory, "log-commits");
        System.IO.Directory.CreateDirectory(Directory);
        _names = TraceNames.OpenForWriting(Directory);
        _discardRecords = discardRecords;
        // Unbounded and lock-free for one reader; the bound is the backlog count, checked before each write.
        _channel = Channel.CreateUnbounded<PendingTrace>(new UnboundedChannelOptions { SingleReader = true });
        _maxBacklog = config.MaxBacklog;
        _commitInterval = TimeSpan.FromMilliseconds(config.CommitMs);
        _retentionWindow = TimeSpan.FromDays(config.RetentionDays);
        _nextRetention = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 60;
        _metrics = metrics;
        _logger = logger;
        // Random, from the kernel through Guid (RandomNumberGenerator would load OpenSSL, 10 ms of the start).
        Process = BitConverter.ToUInt64(Guid.NewGuid().ToByteArray());
        metrics.ObserveGauge("octomesh_trace_backlog", "Trace records waiting to be written to the log.", () => Backlog);
        metrics.ObserveCounter("octomesh_trace_records_total", "Trace records written to the log (durable at the next commit).", () => Volatile.Read(ref _written));
        metrics.ObserveCounter("octomesh_trace_committed_records_total", "Trace records durable on disk (their group commit completed).",
            () => Volatile.Read(ref _committed));
        metrics.ObserveCounter("octomesh_trace_dropped_total", "Trace records dropped because the backlog was full (the disk too slow or failing).", () => Dropped);
        _writer = Task.Run(OpenThenWriteAsync);
    }

    /// <summary>
    /// Opens the log (recovering it to its last commit) on the writer, so that the gateway does not wait for it to start
    /// serving (about 17 ms of the 100 ms from launch to the first answer); records that come first wait in the queue.
    /// A log that cannot be opened is a failing log: counted, shown, and opened again once the directory takes writes.
    /// </summary>
    private async Task OpenThenWriteAsync()
    {
        try
        {
            (_settings, _log) = Open();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FasterException or CommitFailureException)
        {
            Failed(e);
        }
        finally
        {
            _opened.TrySetResult();
        }
        await WriteAsync().ConfigureAwait(false);
    }

    /// <summary>The log, once the writer has opened it.</summary>
    private FasterLog OpenedLog
    {
        get
        {
            _opened.Task.GetAwaiter().GetResult();
            return _log ?? throw new IOException($"the trace log in {Directory} could not be opened");
        }
    }

    /// <summary>The log's settings: 1 MiB pages (fixed: the page size is part of the format on disk), 2 MiB in memory, 64 MiB segment files, a checksum per entry.</summary>
    internal static FasterLogSettings Settings(string directory, bool readOnly) => new(directory)
    {
        PageSizeBits = 20,
        MemorySizeBits = 21,
        SegmentSizeBits = 26,
        LogChecksum = LogChecksumType.PerEntry,
        ReadOnlyMode = readOnly,
        // FASTER would delete the previous commit file as it starts the next; when that next one fails on a full disk,
        // no good commit is left to recover from. The writer removes old commit files itself, once one after them is whole.
        RemoveOutdatedCommits = false,
    };

    /// <summary>Opens (and recovers to its last commit) the log in <see cref="Directory"/>.</summary>
    private (FasterLogSettings, FasterLog) Open()
    {
        var settings = Settings(Directory, readOnly: false);
        if (_discardRecords)
        {
            settings.LogDevice.Dispose();
            settings.LogDevice = new NullDevice();
        }
        return (settings, new FasterLog(settings));
    }

    public string Directory { get; }

    /// <summary>This process's half of every record id (random per start), so ids stay unique across restarts.</summary>
    public ulong Process { get; }

    public long Backlog => Interlocked.Read(ref _backlog);
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>The last commit failed (and none has succeeded since).</summary>
    public bool Failing => _failing;

    /// <summary>The oldest address still in the log.</summary>
    public long BeginAddress => OpenedLog.BeginAddress;

    /// <summary>Log address up to which records are durable.</summary>
    public long CommittedUntil => OpenedLog.CommittedUntilAddress;

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
        // After a failure the writer does not wait for new records: the uncommitted group is written again as soon as it can be.
        while (_failing || await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            await _exclusive.WaitAsync().ConfigureAwait(false);
            try
            {
                if (_failing && !await RecoverAsync().ConfigureAwait(false))
                {
                    // Closing while the disk still fails: what is not committed is lost, and counted (records - committed).
                    return;
                }
                // Once an append fails, the rest wait in the queue (within the backlog bound) for the recovery.
                while (!_failing && reader.TryRead(out var trace))
                {
                    Interlocked.Decrement(ref _backlog);
                    Encode(ref trace);
                    _group.Write(_entry);
                    await EnqueueAsync(_entry).ConfigureAwait(false);
                    Volatile.Write(ref _written, _written + 1);
                }
                await CommitAsync().ConfigureAwait(false);
            }
            finally
            {
                _exclusive.Release();
            }
            if (!_failing && _retentionWindow > TimeSpan.Zero && Stopwatch.GetTimestamp() >= _nextRetention)
            {
                _nextRetention = Stopwatch.GetTimestamp() + (long)(s_retentionEvery.TotalSeconds * Stopwatch.Frequency);
                await TruncateBeforeAsync(DateTimeOffset.UtcNow - _retentionWindow).ConfigureAwait(false);
            }
            if (!reader.Completion.IsCompleted && !_failing)
            {
                // Group commit: let the next records gather.
                await Task.Delay(_commitInterval).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Turns names into ids (written to disk first when new) and the record into its 128 bytes in <see cref="_entry"/>.</summary>
    private void Encode(ref PendingTrace trace)
    {
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
            Failed(e);
        }
        trace.Record.WriteTo(_entry);
    }

    private async ValueTask EnqueueAsync(ReadOnlyMemory<byte> entry)
    {
        if (_failing)
        {
            return;
        }
        try
        {
            // False while the in-memory pages are all waiting for the disk: wait for a flush.
            while (!_log.TryEnqueue(entry.Span, out _))
            {
                await Task.Delay(1).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is CommitFailureException or IOException or FasterException)
        {
            // A flush failed under this append; the commit fails too, and the group is written again after recovery.
            Failed(e);
        }
    }

    private async Task CommitAsync()
    {
        var started = Stopwatch.GetTimestamp();
        var written = Volatile.Read(ref _written);
        if (_failing)
        {
            // An append already failed: this group is written again after recovery.
            return;
        }
        try
        {
            await _log.CommitAsync().ConfigureAwait(false);
            if (!_discardRecords && !NewestCommitIsWhole())
            {
                // FASTER can report a commit whose metadata the full disk did not take: the group is not durable.
                Failed(new IOException("the commit's metadata was not written"));
                return;
            }
            _group.ResetWrittenCount();
            if (Stopwatch.GetTimestamp() >= _nextCommitCleanup)
            {
                _nextCommitCleanup = Stopwatch.GetTimestamp() + Stopwatch.Frequency;
                RemoveOldCommits();
            }
            Volatile.Write(ref _committed, written);
            _metrics.TraceCommitted(Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
        catch (Exception e) when (e is CommitFailureException or IOException or FasterException)
        {
            Failed(e);
        }
    }

    private void Failed(Exception e)
    {
        _metrics.TraceCommitFailed();
        if (!_failing)
        {
            Log.TraceCommitFailed(_logger, Directory, e.Message);
        }
        _failing = true;
    }

    /// <summary>
    /// After a failure: waits until the directory takes writes again, reopens the log at its last good commit and
    /// writes the uncommitted group again. False when the log is closing first (the group stays unwritten).
    /// </summary>
    private async Task<bool> RecoverAsync()
    {
        var probe = Path.Combine(Directory, ".probe");
        var block = new byte[4096];
        while (true)
        {
            try
            {
                // A second apart at least, so a disk that takes the probe but fails the log is not retried in a spin.
                await Task.Delay(TimeSpan.FromSeconds(1), _stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
            try
            {
                using (var file = new FileStream(probe, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.WriteThrough))
                {
                    file.Write(block);
                    file.Flush(flushToDisk: true);
                }
                File.Delete(probe);
                break;
            }
            catch (IOException)
            {
                // Still full, or still failing.
                TryDelete(probe);
            }
        }
        try
        {
            _log?.Dispose();
            _settings?.Dispose();
        }
        catch (Exception e) when (e is IOException or FasterException or CommitFailureException)
        {
            // A log in its failed state may fail to close; it is replaced either way.
        }
        // A commit that failed on a full disk can leave an empty commit file, which FASTER's recovery would take for the
        // latest commit (and start the log afresh from). Only whole commit files stay.
        foreach (var commit in new DirectoryInfo(_commits).EnumerateFiles())
        {
            if (commit.Length == 0)
            {
                TryDelete(commit.FullName);
            }
        }
        (_settings, _log) = Open();
        _failing = false;
        for (var offset = 0; offset < _group.WrittenCount; offset += TraceRecord.Size)
        {
            await EnqueueAsync(_group.WrittenMemory.Slice(offset, TraceRecord.Size)).ConfigureAwait(false);
        }
        return true;
    }

    /// <summary>The newest commit file (FASTER's <c>log-commits/commit.{number}.0</c>) has content.</summary>
    /// <remarks>
    /// FASTER numbers commit files one after another, so this looks at the files after the newest one seen (a stat or
    /// two per commit) and lists the directory only when none is there. Listing it at every commit cost a stat per
    /// file kept (up to a second's worth, before <see cref="RemoveOldCommits"/>): 5% of the gateway's CPU at a steady
    /// 3,000 requests/s, and one <c>lstat</c> per request.
    /// </remarks>
    private bool NewestCommitIsWhole()
    {
        var newest = _newestCommit;
        while (newest >= 0 && File.Exists(CommitPath(newest + 1)))
        {
            newest++;
        }
        if (newest == _newestCommit)
        {
            newest = Commits().Select(c => c.Number).DefaultIfEmpty(-1).Max();
        }
        _newestCommit = newest;
        return newest >= 0 && new FileInfo(CommitPath(newest)) is { Exists: true, Length: > 0 };
    }

    private string CommitPath(long number) => Path.Combine(_commits, $"commit.{number}.0");

    private IEnumerable<(FileInfo File, long Number)> Commits()
    {
        var commits = new DirectoryInfo(_commits);
        return commits.Exists
            ? commits.EnumerateFiles("commit.*")
                .Select(f => (File: f, Number: long.TryParse(f.Name.Split('.')[1], System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : -1))
                .Where(c => c.Number >= 0)
                .ToList()
            : [];
    }

    /// <summary>Deletes every commit file but the newest whole one (FASTER names them <c>commit.{number}.0</c>), at most once a second.</summary>
    private void RemoveOldCommits()
    {
        var files = Commits().ToList();
        var newest = files.Where(c => c.File.Length > 0).DefaultIfEmpty((File: null!, Number: -1)).Max(c => c.Number);
        foreach (var (file, number) in files)
        {
            if (number < newest)
            {
                TryDelete(file.FullName);
            }
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>
    /// Removes the committed records from the start of the log up to the first one that started at or after
    /// <paramref name="cutoff"/> (records finish out of start order, so a few older ones may stay), and commits
    /// that. Whole segment files below the new start are deleted. Returns the log's new start address. The writer
    /// runs it hourly for <see cref="TraceConfig.RetentionDays"/>.
    /// </summary>
    public async Task<long> TruncateBeforeAsync(DateTimeOffset cutoff)
    {
        await _opened.Task.ConfigureAwait(false);
        await _exclusive.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_log is null)
            {
                // Not opened (the directory failed): nothing to truncate yet.
                return 0;
            }
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
                await _log.CommitAsync().ConfigureAwait(false);
            }
            return _log.BeginAddress;
        }
        catch (Exception e) when (e is IOException or FasterException or CommitFailureException)
        {
            Failed(e);
            return _log.BeginAddress;
        }
        finally
        {
            _exclusive.Release();
        }
    }

    /// <summary>Writes and commits everything appended so far (unless the disk is failing still), then closes the log.</summary>
    public async ValueTask DisposeAsync()
    {
        _channel.Writer.TryComplete();
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _writer.ConfigureAwait(false);
        _log?.Dispose();
        _settings?.Dispose();
        _names.Dispose();
        _stopping.Dispose();
        _exclusive.Dispose();
    }
}
