using System.Net;
using System.Text;
using System.Text.Json;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Tests.Hosting;

/// <summary><c>metrics.urls</c>: a listener for Prometheus and the kubelet that serves /metrics, /healthz and /readyz, and no API.</summary>
public class ManagementListenerTests
{
    [Fact]
    public async Task TheManagementListenerServesMetricsAndHealthAndNothingElse()
    {
        var port = Programs.FreePort();
        await using var gateway = await TestGateway.StartAsync($$"""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}" } }, "models": { "*": { "provider": "sim" } },
              "metrics": { "urls": ["http://127.0.0.1:{{port}}"] } }
            """);
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
    public void AManagementListenerNeedsAPortOfItsOwn()
    {
        var loaded = ConfigLoader.Load(Encoding.UTF8.GetBytes("""
            { "urls": ["http://0.0.0.0:8080"], "providers": { "sim": { "kind": "sim" } }, "models": { "*": { "provider": "sim" } },
              "metrics": { "urls": ["http://0.0.0.0:8080", "http://127.0.0.1:0", "ftp://x"] } }
            """), _ => null);
        Assert.Equal(
        [
            "$.metrics.urls[2]: 'ftp://x' is not an http(s) listen URL. Fix: write e.g. \"http://127.0.0.1:8080\" or \"http://0.0.0.0:8080\".",
            "$.metrics.urls: a management listener needs a fixed port (it is told apart from the API's by its port). Fix: write e.g. \"http://0.0.0.0:9464\".",
            "$.metrics.urls: port 8080 is also one of the API's (urls). Fix: give the management listener a port of its own, e.g. 9464.",
        ], loaded.Errors.Select(e => e.ToString()));
    }
}
