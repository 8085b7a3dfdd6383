using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using OctoMesh.Edge.Tests.Hosting;

namespace OctoMesh.Edge.Tests.Admin;

public class RoutesEndpointTests
{
    [Fact]
    public async Task ShowsRoutesAndLiveHealthToAdminsOnly()
    {
        var hash = Convert.ToHexString(SHA256.HashData("admin-secret"u8)).ToLowerInvariant();
        await using var test = await TestGateway.StartAsync($$"""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}" } },
              "adminKeys": [ { "name": "ops", "sha256": "{{hash}}" } ],
              "routes": [ { "name": "r", "match": { "model": "chat", "stream": false }, "breaker": { "failures": 1, "openMs": 600000 },
                            "targets": [ { "provider": "sim", "model": "fail-500" }, { "provider": "sim", "model": "sim-small" } ] } ] }
            """);
        using (var chat = await test.Client.PostAsync("/v1/chat/completions",
            new StringContent("""{"model":"chat","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        }

        using var anonymous = await test.Client.GetAsync("/admin/routes");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);

        var request = new HttpRequestMessage(HttpMethod.Get, "/admin/routes");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "admin-secret");
        using var response = await test.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var route = document.RootElement.GetProperty("routes")[0];
        Assert.Equal("r", route.GetProperty("name").GetString());
        Assert.Equal("priority", route.GetProperty("strategy").GetString());
        Assert.False(route.GetProperty("match").GetProperty("stream").GetBoolean());
        var failing = route.GetProperty("targets")[0];
        Assert.False(failing.GetProperty("available").GetBoolean());
        Assert.Equal(1, failing.GetProperty("consecutiveFailures").GetInt32());
        Assert.Equal(1.0, failing.GetProperty("errorRate").GetDouble());
        Assert.Equal(0, failing.GetProperty("inFlight").GetInt32());
        Assert.True(route.GetProperty("targets")[1].GetProperty("available").GetBoolean());
    }

    [Fact]
    public async Task ClosedWithoutAdminKeys()
    {
        await using var test = await TestGateway.StartAsync();
        using var response = await test.Client.GetAsync("/admin/routes");
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("admin_closed", await response.Content.ReadAsStringAsync());
    }
}
