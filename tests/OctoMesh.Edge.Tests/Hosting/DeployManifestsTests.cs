using static OctoMesh.Edge.Tests.Hosting.ManifestChecks;

namespace OctoMesh.Edge.Tests.Hosting;

/// <summary>
/// deploy/k8s: lint-clean YAML that matches the Kubernetes schemas, whose gateway configuration loads and whose
/// drain settings agree with the pod's (<see cref="PodInvariants"/>, shared with the Helm chart's tests).
/// </summary>
public class DeployManifestsTests
{
    [Fact]
    public async Task YamllintAcceptsEveryDeploymentFile()
    {
        var (exitCode, output) = await Programs.RunAsync("yamllint", ["-s", "-c", Path.Combine(Deploy, ".yamllint"), Deploy]);
        Assert.True(exitCode == 0, output);
    }

    [Theory]
    [InlineData("edge.yaml")]
    [InlineData("sidecar.yaml")]
    public async Task TheManifestMatchesTheSchemasItsConfigurationLoadsAndThePodOutlastsTheDrain(string file)
    {
        var objects = await CheckAsync(Path.Combine(Deploy, "k8s", file));
        PodInvariants.AssertHold(objects);
    }

    [Fact]
    public async Task TheEdgeDeploymentHasEveryPart()
    {
        var objects = await CheckAsync(Path.Combine(Deploy, "k8s", "edge.yaml"));
        foreach (var kind in new[] { "Namespace", "Secret", "ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget" })
        {
            Assert.NotEmpty(objects.OfKind(kind));
        }
        var pod = GatewayPod(objects);
        Assert.Equal("/healthz", GatewayContainer(pod).GetProperty("livenessProbe").GetProperty("httpGet").GetProperty("path").GetString());
        Assert.Equal("true", pod.GetProperty("metadata").GetProperty("annotations").GetProperty("prometheus.io/scrape").GetString());
        Assert.NotNull(GatewayConfig(objects).Redis);
        PodInvariants.AssertServicesSelectOnlyTheirPods(objects);
    }
}
