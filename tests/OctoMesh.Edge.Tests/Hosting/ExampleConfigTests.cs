using System.Net;
using System.Text;
using Microsoft.Extensions.Logging;
using OctoMesh.Edge.Hosting;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Tests.Hosting;

/// <summary>The configuration the repository ships for new users (deploy/config/octomesh.json) loads and serves as it says.</summary>
public class ExampleConfigTests
{
    [Fact]
    public async Task TheShippedConfigurationServesFromTheSimulatorWithNoKey()
    {
        var path = Path.Combine(Programs.RepositoryRoot(), "deploy", "config", "octomesh.json");
        var loaded = ConfigLoader.LoadFile(path, _ => null);
        Assert.True(loaded.Succeeded, string.Join("\n", loaded.Errors));
        var trace = Path.Combine(Path.GetTempPath(), $"octomesh-example-{Guid.NewGuid():N}");
        try
        {
            await using var gateway = await GatewayServer.StartAsync(loaded.Config!, ["http://127.0.0.1:0"], LogLevel.Warning, embedded: true,
                traceDirectory: trace, tenancyDirectory: Path.Combine(trace, "tenancy"));
            using var client = new HttpClient { BaseAddress = gateway.Addresses[0] };
            using var answer = await client.PostAsync("/v1/chat/completions",
                new StringContent("""{"model":"fast","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            Assert.Equal("sim-small", answer.Headers.GetValues("x-octomesh-model").Single());
        }
        finally
        {
            if (Directory.Exists(trace))
            {
                Directory.Delete(trace, recursive: true);
            }
        }
    }
}
