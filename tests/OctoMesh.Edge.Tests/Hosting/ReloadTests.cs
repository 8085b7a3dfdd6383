using System.Net;
using System.Text;
using OctoMesh.Edge.Simulator;

namespace OctoMesh.Edge.Tests.Hosting;

/// <summary>Configuration reloads: swapped whole, refused whole, never under a request in flight.</summary>
public class ReloadTests
{
    private static string Config(SimulatorServer simulator, string model) => $$"""
        { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{{simulator.OpenAIBaseUrl}}" } },
          "routes": [ { "name": "chat", "match": { "model": "chat" }, "targets": [ { "provider": "sim", "model": "{{model}}" } ] } ] }
        """;

    private static async Task<(HttpStatusCode Status, string? Model)> Ask(TestGateway test, string model = "chat", int ttftMs = 0)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent($$"""{"model":"{{model}}","messages":[{"role":"user","content":"Hello"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.TryAddWithoutValidation("x-sim-ttft-ms", ttftMs.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var response = await test.Client.SendAsync(request);
        await response.Content.ReadAsStringAsync();
        return (response.StatusCode, response.Headers.TryGetValues("x-octomesh-model", out var values) ? values.Single() : null);
    }

    [Fact]
    public async Task ReloadSwapsTheRuntimeAndKeepsPoolsAndHealth()
    {
        await using var test = await TestGateway.StartFromFileAsync(s => Config(s, "sim-small"));
        Assert.Equal((HttpStatusCode.OK, "sim-small"), await Ask(test));
        var before = test.Gateway.Runtimes.Current;

        await File.WriteAllTextAsync(test.ConfigPath!, Config(test.Simulator, "sim-large"));
        Assert.Empty(test.Gateway.Runtimes.Reload(test.ConfigPath!, TestGateway.Environment));

        Assert.Equal((HttpStatusCode.OK, "sim-large"), await Ask(test));
        var after = test.Gateway.Runtimes.Current;
        Assert.NotSame(before, after);
        Assert.Same(before.Providers[0], after.Providers[0]);
        // The file watch may reload the same file once more: at least one.
        Assert.True(test.Gateway.Runtimes.Reloads >= 1);
    }

    [Fact]
    public async Task ABadFileKeepsTheRunningConfiguration()
    {
        await using var test = await TestGateway.StartFromFileAsync(s => Config(s, "sim-small"));
        await File.WriteAllTextAsync(test.ConfigPath!, """{ "providers": { "sim": { "kind": "nope" } }, "routes": "x" }""");
        var errors = test.Gateway.Runtimes.Reload(test.ConfigPath!, TestGateway.Environment);

        Assert.Equal(
        [
            "$.providers.sim.kind: unknown provider kind 'nope'. Fix: use one of openai, openai-compatible, azure-openai, anthropic, gemini, sim.",
            "$.routes: expected an array, got 'x'. Fix: write [ { \"name\": …, \"match\": { … }, \"targets\": [ … ] } ].",
        ], errors.Select(e => e.ToString()));
        Assert.True(test.Gateway.Runtimes.ReloadFailures >= 1);
        Assert.Equal((HttpStatusCode.OK, "sim-small"), await Ask(test));
    }

    [Fact]
    public async Task ListenersAreFixedAtStart()
    {
        await using var test = await TestGateway.StartFromFileAsync(s => Config(s, "sim-small"));
        await File.WriteAllTextAsync(test.ConfigPath!, Config(test.Simulator, "sim-large")
            .Replace("\"routes\"", "\"metrics\": { \"urls\": [\"http://127.0.0.1:9464\"] }, \"routes\"", StringComparison.Ordinal));
        var errors = test.Gateway.Runtimes.Reload(test.ConfigPath!, TestGateway.Environment);

        Assert.Equal(["$.metrics.urls: the management listener cannot change while the gateway runs. Fix: restart the gateway to listen elsewhere."],
            errors.Select(e => e.ToString()));
        Assert.Equal((HttpStatusCode.OK, "sim-small"), await Ask(test));
    }

    [Fact]
    public async Task AChangedFileIsPickedUp()
    {
        await using var test = await TestGateway.StartFromFileAsync(s => Config(s, "sim-small"));
        await File.WriteAllTextAsync(test.ConfigPath!, Config(test.Simulator, "sim-medium"));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (test.Gateway.Runtimes.Reloads == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(25);
        }
        Assert.Equal((HttpStatusCode.OK, "sim-medium"), await Ask(test));
    }

    [Fact]
    public async Task RequestsInFlightFinishOnTheirRuntime()
    {
        await using var test = await TestGateway.StartFromFileAsync(s => Config(s, "sim-small"));
        var slow = Ask(test, ttftMs: 500);
        // Let the slow request get routed, then take its route away.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (test.Simulator.Stats.ChatCompletions == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(5);
        }
        await File.WriteAllTextAsync(test.ConfigPath!, $$"""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{{test.Simulator.OpenAIBaseUrl}}" } }, "models": { "other": { "provider": "sim" } } }
            """);
        Assert.Empty(test.Gateway.Runtimes.Reload(test.ConfigPath!, TestGateway.Environment));

        Assert.Equal((HttpStatusCode.OK, "sim-small"), await slow);
        Assert.Equal(HttpStatusCode.NotFound, (await Ask(test)).Status);
    }

    [Fact]
    public async Task ReloadUnderLoadFailsNoRequest()
    {
        await using var test = await TestGateway.StartFromFileAsync(s => Config(s, "sim-small"));
        var failures = 0;
        var load = Enumerable.Range(0, 4).Select(async _ =>
        {
            for (var i = 0; i < 40; i++)
            {
                if ((await Ask(test)).Status != HttpStatusCode.OK)
                {
                    Interlocked.Increment(ref failures);
                }
            }
        }).ToArray();
        for (var i = 0; i < 10; i++)
        {
            await File.WriteAllTextAsync(test.ConfigPath!, Config(test.Simulator, i % 2 == 0 ? "sim-large" : "sim-small"));
            Assert.Empty(test.Gateway.Runtimes.Reload(test.ConfigPath!, TestGateway.Environment));
            await Task.Delay(10);
        }
        await Task.WhenAll(load);
        Assert.Equal(0, failures);
        Assert.True(test.Gateway.Runtimes.Reloads >= 10);
    }
}
