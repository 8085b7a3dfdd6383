using System.Text.Json;
using static OctoMesh.Edge.Tests.Hosting.ManifestChecks;

namespace OctoMesh.Edge.Tests.Hosting;

/// <summary>
/// What every manifest that runs the gateway must hold, whoever wrote or rendered it: the drain fits the pod, the
/// probes reach the gateway, the root file system is read-only and everything written is on the data volume.
/// </summary>
internal static class PodInvariants
{
    public static void AssertHold(JsonElement[] objects)
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
