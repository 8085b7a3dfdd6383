using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using OctoMesh.Edge.Metering;
using OctoMesh.Edge.Wire;
using OctoMesh.Edge.Telemetry;
using OctoMesh.Routing.Configuration;
using OctoMesh.Routing.Pricing;

namespace OctoMesh.Bench.Metering;

/// <summary>
/// Step 8 on the hot path (aim: ≤ 1.5 µs, 0 B): accounting a finished streamed request, priced, into every
/// metric (on prometheus-net, as in the gateway) and handed to the trace log, whose
/// writer runs as in the gateway (its records go to FASTER's null device, so the run does not fill the disk).
/// </summary>
public class MeteringBenchmarks
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"octomesh-bench-{Guid.NewGuid():N}");
    private GatewayMetrics _metrics = null!;
    private TraceLog _log = null!;
    private RequestMeter _meter = null!;
    private RequestMeter _metricsOnly = null!;
    private Exchange _exchange = null!;
    private readonly PriceTable _prices = PriceTable.Defaults;

    [GlobalSetup]
    public void Setup()
    {
        _metrics = new GatewayMetrics();
        _log = new TraceLog(new TraceConfig(Directory: _directory, MaxBacklog: 1_000_000), _metrics, NullLogger.Instance, discardRecords: true);
        _meter = new RequestMeter(_metrics, _log);
        _metricsOnly = new RequestMeter(_metrics, null);
        var started = Stopwatch.GetTimestamp();
        _exchange = new Exchange(ApiOperation.ChatCompletions, "req-0123456789abcdef", started)
        {
            Stream = true,
            Workspace = "team-a",
            KeyName = "key-1",
            Route = "chat-default",
            Task = "code",
            Provider = "openai",
            Model = "gpt-4o-mini",
            FirstByte = started + Stopwatch.Frequency / 5,
            Ended = started + Stopwatch.Frequency,
            UpstreamTicks = Stopwatch.Frequency / 6,
            Usage = new TokenUsage(1200, 300, 1500, 400, 0),
            Outcome = ProxyOutcome.Completed,
        };
    }

    [Benchmark(Baseline = true)]
    public long MetricsOnly() => _metricsOnly.Record(_exchange, 200, _prices);

    [Benchmark]
    public long MetricsAndTrace() => _meter.Record(_exchange, 200, _prices);

    [GlobalCleanup]
    public void Cleanup()
    {
        _log.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Directory.Delete(_directory, recursive: true);
    }
}
