using System.Text.Json;
using static OctoMesh.Edge.Tests.Hosting.DeployTools;

namespace OctoMesh.Edge.Tests.Hosting;

/// <summary>
/// deploy/k8s: lint-clean YAML that matches the Kubernetes schemas, whose gateway configuration loads and whose
/// drain settings agree with the pod's (<see cref="Drain"/>, shared with the Helm chart's tests).
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
        Drain.AssertAgrees(objects);
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
        Drain.AssertServicesSelectOnlyTheirPods(objects);
    }
}

/// <summary>What every manifest that runs the gateway must agree on, whoever wrote or rendered it.</summary>
internal static class Drain
{
    public static void AssertAgrees(JsonElement[] objects)
    {
        var config = GatewayConfig(objects);
        var pod = GatewayPod(objects);
        var container = GatewayContainer(pod);
        // The pod is given longer than the drain: the delay, then the streams in flight.
        var grace = pod.GetProperty("spec").TryGetProperty("terminationGracePeriodSeconds", out var g) ? g.GetInt32() : 30;
        Assert.True(grace * 1000 > config.Shutdown.DelayMs + config.Shutdown.TimeoutMs, $"terminationGracePeriodSeconds {grace} is shorter than the drain");
        // The readiness probe notices the drain before its delay ends (when there is a load balancer to tell).
        var readiness = container.GetProperty("readinessProbe");
        Assert.True(IsReadyz(readiness), "the readiness probe does not ask /readyz (or `octomesh health`, which does)");
        // The kubelet probes from the node: a host of its own would be the node's, not the pod's.
        Assert.All(container.EnumerateObject().Where(p => p.Name.EndsWith("Probe", StringComparison.Ordinal)),
            probe => Assert.False(probe.Value.TryGetProperty("httpGet", out var get) && get.TryGetProperty("host", out _), $"{probe.Name} names a host"));
        if (config.Shutdown.DelayMs > 0)
        {
            var noticed = Int(readiness, "periodSeconds", 10) * Int(readiness, "failureThreshold", 3) * 1000;
            Assert.True(noticed < config.Shutdown.DelayMs, $"readiness fails within {noticed} ms, not before the {config.Shutdown.DelayMs} ms delay ends");
        }
        Assert.True(container.GetProperty("securityContext").GetProperty("readOnlyRootFilesystem").GetBoolean());
        // Everything the gateway writes is under the data volume (the root file system is read-only).
        var data = container.GetProperty("volumeMounts").EnumerateArray().Single(m => m.GetProperty("mountPath").GetString() == "/data");
        Assert.Contains(pod.GetProperty("spec").GetProperty("volumes").EnumerateArray(), v => v.GetProperty("name").GetString() == data.GetProperty("name").GetString());
        Assert.All(new[] { config.Trace.Directory, config.Tenancy.Directory }, directory => Assert.StartsWith("/data/", directory));
    }

    /// <summary>Each Service's selector matches the pods of exactly one Deployment (the gateway's must not take in Redis).</summary>
    public static void AssertServicesSelectOnlyTheirPods(JsonElement[] objects)
    {
        var pods = objects.OfKind("Deployment").Select(d => Labels(d.GetProperty("spec").GetProperty("template"))).ToArray();
        foreach (var service in objects.OfKind("Service"))
        {
            var selector = service.GetProperty("spec").GetProperty("selector").EnumerateObject().ToArray();
            Assert.Single(pods, labels => selector.All(s => labels.GetValueOrDefault(s.Name) == s.Value.GetString()));
        }
    }

    private static Dictionary<string, string?> Labels(JsonElement template) =>
        template.GetProperty("metadata").GetProperty("labels").EnumerateObject().ToDictionary(l => l.Name, l => l.Value.GetString());

    private static bool IsReadyz(JsonElement probe) =>
        probe.TryGetProperty("httpGet", out var get) ? get.GetProperty("path").GetString() == "/readyz"
        : probe.TryGetProperty("exec", out var exec) && exec.GetProperty("command").EnumerateArray().Select(c => c.GetString()).SequenceEqual(["/usr/local/bin/octomesh", "health"]);

    private static int Int(JsonElement probe, string name, int kubernetesDefault) => probe.TryGetProperty(name, out var value) ? value.GetInt32() : kubernetesDefault;
}
