using OctoMesh.Edge.Telemetry;

namespace OctoMesh.Edge.Tests.Telemetry;

public class BoundedSeriesTests
{
    [Fact]
    public async Task LabelSetsPastTheLimitAreCountedTogether()
    {
        var metrics = new GatewayMetrics(maxSeries: 10);
        for (var i = 0; i < 13; i++)
        {
            metrics.UpstreamError($"client-chosen-{i}", "timeout");
        }
        metrics.UpstreamError("client-chosen-0", "timeout");
        var series = (await GatewayMetricsTests.TextOf(metrics)).Split('\n').Where(l => l.StartsWith("octomesh_upstream_errors_total{", StringComparison.Ordinal)).ToList();
        Assert.Equal(11, series.Count);
        Assert.Contains("octomesh_upstream_errors_total{gen_ai_provider_name=\"_other_\",error_type=\"_other_\"} 3", series);
        Assert.Contains("octomesh_upstream_errors_total{gen_ai_provider_name=\"client-chosen-0\",error_type=\"timeout\"} 2", series);
    }
}
