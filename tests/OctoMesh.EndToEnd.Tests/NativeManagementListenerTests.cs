using System.Net;
using System.Text;
using OctoMesh.Edge.Tests;

namespace OctoMesh.EndToEnd.Tests;

/// <summary>The sidecar's shape on the native binary: the API on one port, a management port for the kubelet and Prometheus.</summary>
public sealed class NativeManagementListenerTests
{
    [Fact]
    public async Task ProbesAndScrapesUseTheManagementPortWhichServesNoApi()
    {
        await using var simulator = await OctoMeshProcess.StartAsync("sim", "--urls", "http://127.0.0.1:0");
        using var work = new WorkDirectory();
        var (started, management) = await Programs.OnFreePortAsync(async port =>
        {
            var config = await work.WriteConfigAsync($$"""
                { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{{simulator.Address}}v1" } }, "models": { "*": { "provider": "sim" } },
                  "metrics": { "urls": ["http://127.0.0.1:{{port}}"] } }
                """);
            return await OctoMeshProcess.StartInAsync(work.Path, [], "serve", "--config", config, "--urls", "http://127.0.0.1:0");
        });
        await using var gateway = started;
        Assert.NotEqual(management, gateway.Address.Port);
        using var api = new HttpClient { BaseAddress = gateway.Address };
        using var probes = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{management}") };

        using var answer = await api.PostAsync("/v1/chat/completions",
            new StringContent("""{"model":"sim-small","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Equal(0, (await OctoMeshProcess.RunAsync("health", "--url", probes.BaseAddress!.ToString())).ExitCode);
        // The gateway's first scrape: the request answered before it is counted in it.
        Assert.Contains((await probes.GetStringAsync("/metrics")).Split('\n'), line => line.StartsWith("octomesh_requests_total{", StringComparison.Ordinal)
            && line.Contains("octomesh_status_class=\"2xx\"", StringComparison.Ordinal) && line.EndsWith(" 1", StringComparison.Ordinal));
        using var refused = await probes.PostAsync("/v1/chat/completions",
            new StringContent("""{"model":"sim-small","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
        Assert.Contains("\"unknown_url\"", await refused.Content.ReadAsStringAsync());
        Assert.Contains($"/metrics, /healthz and /readyz only on http://127.0.0.1:{management}", gateway.Output);
    }
}
