using OctoMesh.Routing.Table;

namespace OctoMesh.Routing.Tests.Table;

public class TargetHealthTests
{
    [Fact]
    public void AveragesMoveByAlphaTowardsEachObservation()
    {
        var health = new TargetHealth();
        Assert.Equal(0, health.LatencyScore);
        health.Record(100, succeeded: true);
        Assert.Equal(100, health.TimeToFirstTokenMs);
        Assert.Equal(0, health.ErrorRate);
        health.Record(200, succeeded: true);
        Assert.Equal(100 + TargetHealth.Alpha * 100, health.TimeToFirstTokenMs, 9);
        health.Record(999, succeeded: false);
        // A failure moves the error rate, not the latency.
        Assert.Equal(120, health.TimeToFirstTokenMs, 9);
        Assert.Equal(TargetHealth.Alpha, health.ErrorRate, 9);
        Assert.Equal(120 * (1 + 4 * TargetHealth.Alpha), health.LatencyScore, 9);
        Assert.Equal(3, health.Observations);
    }

    /// <summary>A clock the test moves by hand.</summary>
    private sealed class ManualClock : TimeProvider
    {
        public long Now { get; set; } = 1;

        public override long GetTimestamp() => Now;

        public override long TimestampFrequency => 1000;
    }

    [Fact]
    public void BreakerOpensAfterFailuresInARowAndAHalfOpenTryDecides()
    {
        var clock = new ManualClock();
        var health = new TargetHealth(new BreakerPolicy(Failures: 3, OpenMs: 1000), clock);
        health.Record(10, succeeded: false);
        health.Record(10, succeeded: false);
        health.Record(10, succeeded: true);   // a success in between resets the count
        health.Record(10, succeeded: false);
        health.Record(10, succeeded: false);
        Assert.True(health.IsAvailable);
        health.Record(10, succeeded: false);
        Assert.False(health.IsAvailable);

        clock.Now += 999;
        Assert.False(health.IsAvailable);
        clock.Now += 1;
        Assert.True(health.IsAvailable);      // half-open: one try decides
        health.Record(10, succeeded: false);
        Assert.False(health.IsAvailable);     // failed: open again at once

        clock.Now += 1000;
        health.Record(10, succeeded: true);
        Assert.True(health.IsAvailable);
        Assert.Equal(0, health.ConsecutiveFailures);
    }

    [Fact]
    public void AnOutlierIsEjectedByItsErrorRateThoughItNeverFailsTwiceInARow()
    {
        var clock = new ManualClock();
        var health = new TargetHealth(new BreakerPolicy(Failures: 3, OpenMs: 1000, ErrorRate: 0.5), clock);
        // Alternating failures: never three in a row, but the smoothed error rate climbs towards 0.56.
        var ejectedAt = 0;
        for (var i = 1; i <= 40 && ejectedAt == 0; i++)
        {
            health.Record(10, succeeded: i % 2 == 1);
            if (!health.IsAvailable)
            {
                ejectedAt = i;
            }
        }
        Assert.True(ejectedAt >= TargetHealth.MinObservations, $"ejected at {ejectedAt}");
        Assert.True(health.ErrorRate >= 0.5);

        // The same traffic without an error-rate threshold keeps the target in.
        var plain = new TargetHealth(new BreakerPolicy(Failures: 3, OpenMs: 1000), clock);
        for (var i = 1; i <= 40; i++)
        {
            plain.Record(10, succeeded: i % 2 == 1);
        }
        Assert.True(plain.IsAvailable);
    }
}
