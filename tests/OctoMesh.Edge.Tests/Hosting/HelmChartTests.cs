using static OctoMesh.Edge.Tests.Hosting.ManifestChecks;

namespace OctoMesh.Edge.Tests.Hosting;

/// <summary>deploy/helm/octomesh, through a real helm: it lints, renders manifests that pass yamllint and the Kubernetes schemas, and refuses settings that cannot work.</summary>
public class HelmChartTests
{
    private static readonly string s_chart = Path.Combine(Deploy, "helm", "octomesh");

    /// <summary>Value sets a user would give: the defaults; no Redis, a ServiceMonitor, no autoscaler, a claim; requireKeys with an admin key.</summary>
    public static TheoryData<string[]> Settings => new()
    {
        new[] { "secrets.OPENAI_API_KEY=sk-test" },
        new[] { "secrets.OPENAI_API_KEY=sk-test", "redis.enabled=false", "metrics.serviceMonitor.enabled=true", "autoscaling.enabled=false", "persistence.existingClaim=edge-data" },
        new[] { "existingSecret=edge-secrets", "config.tenancy.requireKeys=true", "config.adminKeys[0].name=ops", $"config.adminKeys[0].sha256={new string('0', 64)}", "config.shutdown.delayMs=0" },
    };

    [Theory]
    [MemberData(nameof(Settings))]
    public async Task TheChartLintsStrictly(string[] settings)
    {
        var (exitCode, output) = await HelmAsync(["lint", "--strict", s_chart, .. Set(settings)]);
        Assert.True(exitCode == 0, output);
    }

    [Theory]
    [MemberData(nameof(Settings))]
    public async Task TheChartRendersManifestsThatMatchTheSchemasAndAgreeWithTheGateway(string[] settings)
    {
        var rendered = Path.GetTempFileName();
        try
        {
            var (exitCode, output) = await HelmAsync(["template", "edge", s_chart, "--namespace", "octomesh", .. Set(settings)]);
            Assert.True(exitCode == 0, output);
            await File.WriteAllTextAsync(rendered, output);
            var (lintExit, lint) = await Programs.RunAsync("yamllint", ["-s", "-c", Path.Combine(Deploy, ".yamllint"), rendered]);
            Assert.True(lintExit == 0, lint);
            var objects = await CheckAsync(rendered);

            PodInvariants.AssertHold(objects);
            PodInvariants.AssertServicesSelectOnlyTheirPods(objects);
            var config = GatewayConfig(objects);
            var redis = !settings.Contains("redis.enabled=false");
            Assert.Equal(redis, config.Redis is not null);
            Assert.Equal(redis, objects.OfKind("Deployment").Length == 2);
            Assert.Equal(settings.Contains("metrics.serviceMonitor.enabled=true"), objects.OfKind("ServiceMonitor").Length == 1);
            Assert.Equal(!settings.Contains("autoscaling.enabled=false"), objects.OfKind("HorizontalPodAutoscaler").Length == 1);
            // The chart's Secret holds what the configuration reads from the environment, and Redis's password.
            var secret = objects.OfKind("Secret");
            Assert.Equal(settings.Any(s => s.StartsWith("existingSecret=", StringComparison.Ordinal)), secret.Length == 0);
            if (secret.Length == 1 && redis)
            {
                Assert.Equal(32, secret[0].GetProperty("stringData").GetProperty("REDIS_PASSWORD").GetString()!.Length);
            }
            Assert.Equal(settings.Contains("config.tenancy.requireKeys=true"), config.Tenancy.RequireKeys);
            // Every pod that reads the Secret rolls with it: the gateway's and Redis's carry the same checksum.
            var checksums = objects.OfKind("Deployment").Select(d => d.GetProperty("spec").GetProperty("template").GetProperty("metadata")
                .GetProperty("annotations").GetProperty("checksum/secret").GetString()).Distinct();
            Assert.Single(checksums);
        }
        finally
        {
            File.Delete(rendered);
        }
    }

    [Theory]
    [InlineData("config.tenancy.requireKeys=true", "would refuse every request")]
    [InlineData("readiness.periodSeconds=5", "not before config.shutdown.delayMs")]
    [InlineData("replicas=3", "additional properties 'replicas' not allowed")]
    [InlineData("config.urls[0]=http://0.0.0.0:9", "/config/urls")]
    [InlineData("secrets.OPENAI_API_KEY=", "secrets.OPENAI_API_KEY is empty")]
    [InlineData("secrets.bad-name=x", "invalid propertyName 'bad-name'")]
    [InlineData("autoscaling.enabled=false;replicaCount=2", "or no node could ever be drained")]
    public async Task TheChartRefusesSettingsThatCannotWork(string settings, string message)
    {
        var (exitCode, output) = await HelmAsync(["template", "edge", s_chart, .. Set(["secrets.OPENAI_API_KEY=sk-test", .. settings.Split(';')])]);
        Assert.NotEqual(0, exitCode);
        Assert.Contains(message, output);
    }

    private static string[] Set(string[] settings) => [.. settings.SelectMany(s => new[] { "--set", s })];
}
