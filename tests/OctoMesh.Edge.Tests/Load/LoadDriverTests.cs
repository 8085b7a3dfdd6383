using OctoMesh.Edge.Tests.Hosting;
using OctoMesh.Load;

namespace OctoMesh.Edge.Tests.Load;

public class LoadDriverTests
{
    [Fact]
    public void TheHistogramIsExactBelow2048MicrosecondsAndWithinOnePerMilleAbove()
    {
        var histogram = new Histogram();
        var values = Enumerable.Range(1, 100_000).Select(i => (long)i * 37 % 5_000_000 + 1).ToArray();
        foreach (var value in values)
        {
            histogram.Record(value);
        }
        Array.Sort(values);
        foreach (var p in new[] { 50.0, 90, 99, 99.9 })
        {
            var exact = values[(int)Math.Ceiling(p / 100 * values.Length) - 1];
            var measured = histogram.Percentile(p);
            Assert.InRange(measured, exact, exact * 1.001 + 1);
        }
        Assert.Equal(100_000L, histogram.Count);
        Assert.InRange(histogram.Max, values[^1], values[^1] * 1.001 + 1);
        var small = new Histogram();
        small.Record(200);
        small.Record(100);
        Assert.Equal((100L, 200L), (small.Percentile(50), small.Percentile(100)));
        Assert.Equal(0, new Histogram().Percentile(99));
    }

    [Fact]
    public void SlosAreReadAndChecked()
    {
        var result = new LoadResult { Requests = 100, Errors = 2, Elapsed = TimeSpan.FromSeconds(1) };
        for (var i = 1; i <= 100; i++)
        {
            result.Latency.Record(i * 1000);
        }
        Assert.Equal(new Slo("p99", 50_000), Slo.Parse("p99=50ms"));
        Assert.False(Slo.Parse("p99=50ms").Check(result).Met);
        // Percentiles are their bucket's highest equivalent value (never under the true value, at most 0.1% over).
        Assert.True(Slo.Parse("p50=51ms").Check(result).Met);
        Assert.Equal((0.02, false), Slo.Parse("errors=1%").Check(result));
        Assert.True(Slo.Parse("rps=100").Check(result).Met);
        Assert.Throws<FormatException>(() => Slo.Parse("p99<50ms"));
        Assert.Throws<FormatException>(() => Slo.Parse("latency=5ms").Check(result));
    }

    [Fact]
    public async Task ADriverRunMeasuresStreamsAndFailuresThroughTheGateway()
    {
        await using var test = await TestGateway.StartAsync();
        // A count, not a duration, so a busy machine sends the same mix (the minute is a bound, never reached).
        var options = new LoadOptions(test.BaseUrl, TimeSpan.FromMinutes(1), Users: 4, StreamShare: 0.5, FaultShare: 0.2, Tokens: 8, MaxRequests: 40);
        var result = await LoadRun.RunAsync(options);
        Assert.Equal(40, result.Requests);
        // The simulator's faults are the gateway's failure path, not the driver's errors.
        Assert.Equal(0, result.Errors);
        Assert.True(result.TimeToFirstToken.Count > 0 && result.InterToken.Count > 0);
        Assert.Equal(result.Requests, result.Latency.Count);
        Assert.Contains("\"ttft_us\"", Report.Json("mix", result));

        var open = await LoadRun.RunAsync(options with { Duration = TimeSpan.FromMilliseconds(600), Rate = 50, StreamShare = 0, FaultShare = 0, MaxRequests = null });
        // The open model sends on its schedule whatever the answers: arrivals due every 20 ms for 0.6 s.
        Assert.Equal(30, open.Requests);
    }
}
