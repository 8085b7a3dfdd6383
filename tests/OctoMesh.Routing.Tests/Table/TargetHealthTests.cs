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

    [Fact]
    public void StartsAvailable()
    {
        var health = new TargetHealth();
        Assert.True(health.IsAvailable);
        health.IsAvailable = false;
        Assert.False(health.IsAvailable);
    }
}
