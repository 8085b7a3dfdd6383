using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using OctoMesh.Edge.Tests.Hosting;

namespace OctoMesh.Edge.Tests.Telemetry;

/// <summary>deploy/prometheus and deploy/grafana: valid for Prometheus, and about metrics the gateway really exports.</summary>
public partial class DeployFilesTests
{
    private static readonly string s_deploy = Path.Combine(Programs.RepositoryRoot(), "deploy");

    [Theory]
    [InlineData("check", "rules", "alerts.yml")]
    [InlineData("check", "config", "prometheus.yml")]
    [InlineData("test", "rules", "alerts.test.yml")]
    public async Task PromtoolAcceptsTheRulesTheConfigAndTheRuleTests(string verb, string what, string file)
    {
        var (exitCode, output) = await Programs.RunAsync("promtool", [verb, what, file], Path.Combine(s_deploy, "prometheus"));
        Assert.True(exitCode == 0, output);
    }

    [Fact]
    public async Task EveryMetricAndLabelTheAlertsAndTheDashboardUseIsExported()
    {
        var dashboard = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(s_deploy, "grafana", "octomesh-edge.json"))).RootElement;
        var expressions = dashboard.GetProperty("panels").EnumerateArray()
            .SelectMany(p => p.GetProperty("targets").EnumerateArray())
            .Select(t => t.GetProperty("expr").GetString()!)
            .Append(await File.ReadAllTextAsync(Path.Combine(s_deploy, "prometheus", "alerts.yml")))
            .ToList();
        var used = expressions.SelectMany(e => MetricName().Matches(e).Select(m => m.Value))
            .Select(name => Regex.Replace(name, "_(bucket|sum|count)$", ""))
            .ToHashSet();
        Assert.True(used.Count >= 15, string.Join(", ", used));

        await using var test = await TestGateway.StartAsync();
        using (var response = await test.Client.PostAsync("/v1/chat/completions",
            new StringContent("""{"model":"sim-small","messages":[{"role":"user","content":"Hi"}]}""", Encoding.UTF8, "application/json")))
        {
            await response.Content.ReadAsStringAsync();
        }
        var scrape = (await Scrape.OfAsync(test)).Text;
        // Each name is a metric the gateway exports, or one of its labels.
        Assert.All(used, name => Assert.True(scrape.Contains($"# TYPE {name} ") || scrape.Contains($"{name}=\""), $"{name} is neither a metric nor a label on /metrics"));
    }

    [GeneratedRegex(@"\b(octomesh|gen_ai)_[a-z_]+")]
    private static partial Regex MetricName();
}
