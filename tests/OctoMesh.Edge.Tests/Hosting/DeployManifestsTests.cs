using System.Text;
using System.Text.RegularExpressions;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Tests.Hosting;

/// <summary>deploy/k8s: lint-clean YAML whose gateway configuration loads and whose drain settings agree with the pod's.</summary>
public partial class DeployManifestsTests
{
    private static readonly string s_deploy = Path.Combine(Programs.RepositoryRoot(), "deploy");

    [Fact]
    public async Task YamllintAcceptsEveryDeploymentFile()
    {
        var (exitCode, output) = await Programs.RunAsync("yamllint", ["-s", "-c", Path.Combine(s_deploy, ".yamllint"), s_deploy]);
        Assert.True(exitCode == 0, output);
    }

    [Theory]
    [InlineData("edge.yaml")]
    [InlineData("sidecar.yaml")]
    public async Task TheConfigurationInTheManifestLoadsAndThePodOutlastsTheDrain(string file)
    {
        var text = await File.ReadAllTextAsync(Path.Combine(s_deploy, "k8s", file));
        var loaded = ConfigLoader.Load(Encoding.UTF8.GetBytes(EmbeddedConfig(text)), _ => "from-the-secret");
        Assert.True(loaded.Succeeded, string.Join("\n", loaded.Errors));
        var config = loaded.Config!;
        // The pod is given longer than the drain: the delay, then the streams in flight.
        var grace = int.Parse(GracePeriod().Match(text).Groups[1].Value);
        Assert.True(grace * 1000 > config.Shutdown.DelayMs + config.Shutdown.TimeoutMs, $"terminationGracePeriodSeconds {grace} is shorter than the drain");
        Assert.Contains("path: /readyz", text);
        Assert.Contains("readOnlyRootFilesystem: true", text);
        // Everything the gateway writes is under the data volume (the root file system is read-only).
        Assert.All(new[] { config.Trace.Directory, config.Tenancy.Directory }, directory => Assert.StartsWith("/data/", directory));
    }

    [Fact]
    public async Task TheEdgeDeploymentHasEveryPartAndTheLoadBalancerSeesTheDrainBeforeTheListenerCloses()
    {
        var text = await File.ReadAllTextAsync(Path.Combine(s_deploy, "k8s", "edge.yaml"));
        foreach (var kind in new[] { "Namespace", "Secret", "ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget" })
        {
            Assert.Contains($"kind: {kind}\n", text);
        }
        Assert.Contains("path: /healthz", text);
        Assert.Contains("prometheus.io/scrape: \"true\"", text);
        var config = ConfigLoader.Load(Encoding.UTF8.GetBytes(EmbeddedConfig(text)), _ => "from-the-secret").Config!;
        var readiness = Readiness().Match(text);
        var noticed = int.Parse(readiness.Groups[1].Value) * int.Parse(readiness.Groups[2].Value) * 1000;
        Assert.True(noticed < config.Shutdown.DelayMs, $"readiness fails within {noticed} ms, not before the {config.Shutdown.DelayMs} ms delay ends");
        Assert.NotNull(config.Redis);
    }

    /// <summary>The <c>octomesh.json: |</c> block of the ConfigMap, dedented.</summary>
    private static string EmbeddedConfig(string manifest)
    {
        var lines = manifest.Split('\n');
        var start = Array.FindIndex(lines, l => l.TrimEnd() == "  octomesh.json: |") + 1;
        Assert.True(start > 0, "no octomesh.json in the ConfigMap");
        return string.Join('\n', lines.Skip(start).TakeWhile(l => l.StartsWith("    ", StringComparison.Ordinal) || l.Length == 0).Select(l => l.Length >= 4 ? l[4..] : l));
    }

    [GeneratedRegex(@"terminationGracePeriodSeconds: (\d+)")]
    private static partial Regex GracePeriod();

    [GeneratedRegex(@"readinessProbe:\s+httpGet:\s+path: /readyz\s+port: \w+\s+periodSeconds: (\d+)\s+failureThreshold: (\d+)")]
    private static partial Regex Readiness();
}
