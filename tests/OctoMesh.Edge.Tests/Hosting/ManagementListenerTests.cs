using System.Net;
using System.Text;
using System.Text.Json;
using OctoMesh.Edge.Hosting;

namespace OctoMesh.Edge.Tests.Hosting;

/// <summary><c>metrics.urls</c>: a listener for Prometheus and the kubelet that serves /metrics, /healthz and /readyz, and no API.</summary>
public class ManagementListenerTests
{
    [Fact]
    public async Task TheManagementListenerServesMetricsAndHealthAndNothingElse()
    {
        var (gateway, port) = await Programs.OnFreePortAsync(free => TestGateway.StartAsync($$"""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}" } }, "models": { "*": { "provider": "sim" } },
              "metrics": { "urls": ["http://127.0.0.1:{{free}}"] } }
            """));
        await using var running = gateway;
        using var management = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };

        // The API answers on its own listener, and is counted.
        using var chat = await gateway.Client.PostAsync("/v1/chat/completions",
            new StringContent("""{"model":"sim-small","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        Assert.Contains("octomesh_requests_total", await management.GetStringAsync("/metrics"));
        Assert.Equal("""{"status":"ready"}""", await management.GetStringAsync("/readyz"));
        Assert.Equal(HttpStatusCode.OK, (await management.GetAsync("/healthz")).StatusCode);

        // Nothing else: not the API, not the admin API.
        foreach (var (method, path) in new[] { ("POST", "/v1/chat/completions"), ("GET", "/v1/models"), ("GET", "/admin/routes") })
        {
            using var refused = await management.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));
            Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
            using var error = JsonDocument.Parse(await refused.Content.ReadAsStringAsync());
            Assert.Equal("unknown_url", error.RootElement.GetProperty("error").GetProperty("code").GetString());
        }
        // The API's listener still serves /metrics too.
        Assert.Equal(HttpStatusCode.OK, (await gateway.Client.GetAsync("/metrics")).StatusCode);
    }

    [Fact]
    public void PortsAreReadFromEveryFormKestrelTakesAndAnApiUrlCannotShareOne()
    {
        var management = new ManagementListener(["http://+:8080"], ["http://*:9464"]);
        Assert.True(management.Owns("http://[::]:9464"));
        Assert.True(management.Owns("http://localhost:9464"));
        Assert.False(management.Owns("http://+:8080"));
        Assert.False(new ManagementListener(["http://+:8080"], []).IsEnabled);
        var clash = Assert.Throws<InvalidOperationException>(() => new ManagementListener(["http://*:9464"], ["http://0.0.0.0:9464"]));
        Assert.Contains("http://*:9464 has the port of a management listener", clash.Message);
    }
}
