using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using OctoMesh.Edge.Metering;
using OctoMesh.Edge.Telemetry;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Bench.Metering;

/// <summary>
/// Billing export throughput (aim: ≥ 1M records/s): a real trace log of <see cref="Records"/> records, written
/// once by the gateway's writer, read back and written as CSV or JSON lines (to a null stream). Each
/// operation is one record.
/// </summary>
public class ExportBenchmarks
{
    private const int Records = 200_000;
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"octomesh-bench-export-{Guid.NewGuid():N}");

    [GlobalSetup]
    public void Setup()
    {
        var metrics = new GatewayMetrics();
        var log = new TraceLog(new TraceConfig(Directory: _directory, MaxBacklog: Records), metrics, NullLogger.Instance);
        string[] models = ["gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-flash", "sim-small"];
        var start = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000;
        for (var i = 0; i < Records; i++)
        {
            var trace = new PendingTrace
            {
                Record = new TraceRecord
                {
                    Status = 200, StartUnixMicros = start + i * 1000, TotalMicros = 850_000, FirstByteMicros = 120_000, OverheadMicros = 60,
                    PromptTokens = 1200 + i % 100, CompletionTokens = 300, CachedTokens = 400, CostMicros = 1234 + i % 7,
                },
                Workspace = $"team-{i % 20}", Key = $"key-{i % 50}", Route = "chat-default", Provider = "openai", Model = models[i % models.Length],
            };
            while (!log.Append(ref trace))
            {
                Thread.Sleep(1);
            }
        }
        log.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(OperationsPerInvoke = Records)]
    public long ReadOnly()
    {
        using var reader = TraceReader.Open(_directory);
        long cost = 0;
        foreach (var (_, _, record) in reader.Read())
        {
            cost += record.CostMicros;
        }
        return cost;
    }

    [Benchmark(OperationsPerInvoke = Records)]
    public long Csv() => Export(ExportFormat.Csv, []);

    [Benchmark(OperationsPerInvoke = Records)]
    public long Jsonl() => Export(ExportFormat.Jsonl, []);

    [Benchmark(OperationsPerInvoke = Records)]
    public long GroupByWorkspaceModelDay() => Export(ExportFormat.Csv, ["workspace", "model", "day"]);

    private long Export(ExportFormat format, string[] groupBy)
    {
        using var reader = TraceReader.Open(_directory);
        return BillingExport.Export(reader, Stream.Null, format, null, null, groupBy);
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_directory, recursive: true);
}
