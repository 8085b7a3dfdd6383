using FASTER.core;

namespace OctoMesh.Edge.Metering;

/// <summary>
/// Reads a trace log's committed records, from another process than the gateway's if need be (FASTER's
/// read-only mode: it sees what the writer has committed, up to the moment it was opened).
/// </summary>
internal sealed class TraceReader : IDisposable
{
    private readonly FasterLogSettings _settings;
    private readonly FasterLog _log;

    private TraceReader(FasterLogSettings settings, FasterLog log, TraceNames names)
    {
        _settings = settings;
        _log = log;
        Names = names;
    }

    /// <exception cref="DirectoryNotFoundException">No log is there.</exception>
    public static TraceReader Open(string directory)
    {
        directory = Path.GetFullPath(directory);
        if (!File.Exists(Path.Combine(directory, TraceNames.FileName)))
        {
            throw new DirectoryNotFoundException($"no trace log in '{directory}' (the gateway's trace.directory)");
        }
        var settings = TraceLog.Settings(directory, readOnly: true);
        var log = new FasterLog(settings);
        log.RecoverReadOnly();
        // Names after the records: a name is on disk before any committed record uses it.
        return new TraceReader(settings, log, TraceNames.Read(directory));
    }

    public TraceNames Names { get; }

    /// <summary>The oldest address still in the log (older records were truncated by retention).</summary>
    public long BeginAddress => Math.Max(_log.BeginAddress, _log.CommittedBeginAddress);

    /// <summary>The address after the last committed record.</summary>
    public long EndAddress => _log.CommittedUntilAddress;

    /// <summary>
    /// Every committed record of <paramref name="kind"/> (requests unless asked: billing never sees audit records) from
    /// <paramref name="from"/> (or the log's start, if later) on, with its address and the next one's.
    /// </summary>
    public IEnumerable<(long Address, long Next, TraceRecord Record)> Read(long from = 0, TraceKind kind = TraceKind.Request)
    {
        using var iterator = _log.Scan(Math.Max(from, BeginAddress), _log.CommittedUntilAddress);
        while (true)
        {
            bool read;
            TraceRecord record;
            long address, next;
            unsafe
            {
                // The entry is read where FASTER holds it, under its epoch protection, which ends with UnsafeRelease.
                if (!iterator.UnsafeGetNext(out var entry, out var length, out address, out next))
                {
                    break;
                }
                read = TraceRecord.TryRead(new ReadOnlySpan<byte>(entry, length), out record, kind);
                iterator.UnsafeRelease();
            }
            if (read)
            {
                yield return (address, next, record);
            }
        }
    }

    public void Dispose()
    {
        _log.Dispose();
        _settings.Dispose();
    }
}
