using Microsoft.Extensions.Logging.Abstractions;
using OctoMesh.Edge.Metering;
using OctoMesh.Edge.Telemetry;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Tests.Metering;

public sealed class TraceLogTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"octomesh-tracelog-{Guid.NewGuid():N}");

    private TraceLog Open() => new(new TraceConfig(Directory: _directory, CommitMs: 1), new GatewayMetrics(), NullLogger.Instance);

    private static PendingTrace Trace(int i, string model) => new()
    {
        Record = new TraceRecord
        {
            Status = 200, StartUnixMicros = 1_700_000_000_000_000 + i, TotalMicros = 1000 + (uint)i, PromptTokens = i, CompletionTokens = 2 * i,
            CachedTokens = 1, CacheWriteTokens = 2, ReasoningTokens = 3, CostMicros = 10L * i, Retries = 1, Fallbacks = 2, Flags = TraceRecord.StreamFlag,
        },
        RequestId = $"req-{i}", Workspace = "team-a", Key = "key-1", Route = "chat", Provider = "sim", Model = model, Task = i % 2 == 0 ? "code" : null,
    };

    [Fact]
    public void ARecordReadsBackAsItWasWritten()
    {
        var record = Trace(7, "sim-small").Record with { Process = 0x0102030405060708, Sequence = 42, RequestIdHash = ulong.MaxValue, Workspace = 9, Model = 11 };
        var bytes = new byte[TraceRecord.Size];
        record.WriteTo(bytes);
        Assert.True(TraceRecord.TryRead(bytes, out var read));
        Assert.Equal(record, read);
        Assert.Equal(new UInt128(0x0102030405060708, 42), read.Id);
        // Little-endian, version first.
        Assert.Equal([1, 0, 1], bytes[..3]);
        Assert.Equal(0x08, bytes[8]);
        bytes[0] = 2;
        Assert.False(TraceRecord.TryRead(bytes, out _));
        Assert.False(TraceRecord.TryRead(bytes.AsSpan(0, 64), out _));
    }

    [Fact]
    public async Task RecordsAreCommittedAndReadBackWithTheirNames()
    {
        {
            await using var log = Open();
            for (var i = 1; i <= 100; i++)
            {
                var trace = Trace(i, i <= 50 ? "sim-small" : "sim-large");
                Assert.True(log.Append(ref trace));
            }
        }

        using var reader = TraceReader.Open(_directory);
        var records = reader.Read().Select(r => r.Record).ToList();
        Assert.Equal(100, records.Count);
        Assert.Equal(Enumerable.Range(1, 100).Select(i => (ulong)i), records.Select(r => r.Sequence));
        Assert.Equal(Enumerable.Range(1, 100).Sum(i => 10L * i), records.Sum(r => r.CostMicros));
        Assert.Equal(["sim-large", "sim-small"], records.Select(r => reader.Names.NameOf(r.Model)).Distinct().Order());
        var first = records[0];
        Assert.Equal(("team-a", "key-1", "chat", "sim", "", 1, 2, 3), (reader.Names.NameOf(first.Workspace), reader.Names.NameOf(first.Key), reader.Names.NameOf(first.Route),
            reader.Names.NameOf(first.Provider), reader.Names.NameOf(first.Task), first.CachedTokens, first.CacheWriteTokens, first.ReasoningTokens));
        Assert.Equal("code", reader.Names.NameOf(records[1].Task));
        Assert.Equal(TraceNames.Hash64("req-1"), first.RequestIdHash);
    }

    [Fact]
    public async Task AReopenedLogGoesOnAfterItsRecordsWithTheSameIds()
    {
        ulong firstProcess;
        {
            await using var log = Open();
            firstProcess = log.Process;
            var trace = Trace(1, "sim-small");
            log.Append(ref trace);
        }
        {
            await using var log = Open();
            Assert.NotEqual(firstProcess, log.Process);
            var trace = Trace(2, "sim-small");
            log.Append(ref trace);
        }
        using var reader = TraceReader.Open(_directory);
        var records = reader.Read().Select(r => r.Record).ToList();
        Assert.Equal(2, records.Count);
        Assert.NotEqual(records[0].Id, records[1].Id);
        Assert.Equal(records[0].Model, records[1].Model);
        Assert.Equal(6, reader.Names.Count);   // team-a, key-1, chat, sim, sim-small, code: each once
    }

    [Fact]
    public void ATornLastNameLineIsCutAndCollidingNamesGetTheirOwnIds()
    {
        Directory.CreateDirectory(_directory);
        var path = Path.Combine(_directory, TraceNames.FileName);
        var taken = TraceNames.Hash("b");
        File.WriteAllText(path, $"{taken}\ta\n{TraceNames.Hash("c")}\tc with a \\t tab\n99\tto");
        using (var names = TraceNames.OpenForWriting(_directory))
        {
            Assert.Equal(taken, names.IdOf("a"));
            Assert.Equal(taken + 1, names.IdOf("b"));   // its hash belongs to "a"
            Assert.Equal("c with a \t tab", names.NameOf(TraceNames.Hash("c")));
            Assert.Equal("#99", names.NameOf(99));
            Assert.Equal(0u, names.IdOf(null));
        }
        Assert.Equal($"{taken}\ta\n{TraceNames.Hash("c")}\tc with a \\t tab\n{taken + 1}\tb\n", File.ReadAllText(path));
    }

    [Fact]
    public async Task RetentionTruncatesTheRecordsStartedBeforeTheCutoff()
    {
        var now = DateTimeOffset.UtcNow;
        long start;
        {
            await using var log = Open();
            for (var i = 0; i < 10; i++)
            {
                var trace = Trace(i, "sim-small");
                trace.Record.StartUnixMicros = now.AddDays(i < 6 ? -500 : -1).ToUnixTimeMilliseconds() * 1000;
                log.Append(ref trace);
            }
        }
        {
            // As the hourly retention pass of the next run does it.
            await using var log = Open();
            var before = log.BeginAddress;
            start = await log.TruncateBeforeAsync(now.AddDays(-400));
            Assert.True(start > before);
        }
        {
            // The new start was committed: the next run recovers it.
            await using var log = Open();
            Assert.Equal(start, log.BeginAddress);
        }
        using var reader = TraceReader.Open(_directory);
        Assert.Equal(start, reader.BeginAddress);
        var records = reader.Read().Select(r => r.Record).ToList();
        Assert.Equal(Enumerable.Range(7, 4).Select(i => (ulong)i), records.Select(r => r.Sequence));
    }

    [Fact]
    public void NoLogIsAClearError() =>
        Assert.Contains("no trace log", Assert.Throws<DirectoryNotFoundException>(() => TraceReader.Open(_directory)).Message);

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}
