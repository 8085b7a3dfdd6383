using System.Net;
using System.Text;

namespace OctoMesh.EndToEnd.Tests;

/// <summary>SIGTERM on the native binary: /readyz fails at once, a stream in flight finishes, its trace record is committed, exit 0.</summary>
public sealed class NativeDrainTests
{
    [Fact]
    public async Task SigtermDrainsAStreamInFlightAndCommitsItsTrace()
    {
        await using var simulator = await OctoMeshProcess.StartAsync("sim", "--urls", "http://127.0.0.1:0");
        using var work = new WorkDirectory();
        var config = await work.WriteConfigAsync($$"""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{{simulator.Address}}v1" } }, "models": { "*": { "provider": "sim" } },
              "shutdown": { "delayMs": 1500, "timeoutMs": 20000 } }
            """);
        await using var gateway = await OctoMeshProcess.StartInAsync(work.Path, [], "serve", "--config", config, "--urls", "http://127.0.0.1:0");
        using var client = new HttpClient { BaseAddress = gateway.Address };
        // The container's health check: the binary asks /readyz itself (the image has no curl).
        Assert.Equal(0, (await OctoMeshProcess.RunAsync("health", "--url", gateway.Address.ToString())).ExitCode);
        // A stream of 30 tokens, 100 ms apart: about three seconds.
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent("""{"model":"sim-small","stream":true,"messages":[{"role":"user","content":"Tell me a long story"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("x-sim-tokens", "30");
        request.Headers.Add("x-sim-tpot-ms", "100");
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var first = await reader.ReadLineAsync();
        Assert.StartsWith("data: ", first);

        var stopped = gateway.StopAsync();
        // Within the delay: still listening, and saying it is stopping, so a load balancer takes it out.
        using (var probe = new HttpClient { BaseAddress = gateway.Address })
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(1);
            HttpResponseMessage ready;
            do
            {
                ready = await probe.GetAsync("/readyz");
            }
            while (ready.StatusCode == HttpStatusCode.OK && DateTime.UtcNow < deadline);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            Assert.Contains("stopping", await ready.Content.ReadAsStringAsync());
        }
        // The stream in flight goes on to its end.
        var rest = await reader.ReadToEndAsync();
        Assert.EndsWith("data: [DONE]\n\n", rest);
        Assert.Equal(0, await stopped);
        Assert.Equal(1, (await OctoMeshProcess.RunAsync("health", "--url", gateway.Address.ToString())).ExitCode);

        // And its trace record was committed before the exit.
        var (code, export) = await OctoMeshProcess.RunAsync("export", "--trace", work.Trace, "--format", "jsonl");
        Assert.True(code == 0, export);
        var record = Assert.Single(export.Split('\n', StringSplitOptions.RemoveEmptyEntries), line => line.StartsWith('{'));
        Assert.Contains("\"stream\":true", record);
        Assert.Contains("\"status\":200", record);
        Assert.Contains("\"completion_tokens\":30", record);
    }
}
