using System.Net;
using System.Text;

namespace OctoMesh.EndToEnd.Tests;

/// <summary>eval → optimize → apply on the native binary, against the simulator's market, with a gateway running meanwhile.</summary>
public sealed class NativeOptimizerTests
{
    [Fact]
    public async Task EvalOptimizeAndApplyReroutesTheRunningGateway()
    {
        await using var simulator = await OctoMeshProcess.StartAsync("sim", "--urls", "http://127.0.0.1:0");
        using var work = new WorkDirectory();
        var config = await work.WriteConfigAsync($$"""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{{simulator.Address}}v1" } }, "models": { "*": { "provider": "sim" } },
              "routes": [ { "name": "everything", "match": { "model": "sim-large" }, "targets": [ { "provider": "sim", "model": "sim-large" } ] } ] }
            """);
        await using var gateway = await OctoMeshProcess.StartAsync("serve", "--config", config, "--urls", "http://127.0.0.1:0");
        using var client = new HttpClient { BaseAddress = gateway.Address };
        async Task<(string Route, string Model)> AskMath()
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
            {
                Content = new StringContent("""{"model":"sim-large","messages":[{"role":"user","content":"What is 12 * 13?"}]}""", Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("x-octomesh-task", "math");
            using var response = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return (response.Headers.GetValues("x-octomesh-route").Single(), response.Headers.GetValues("x-octomesh-model").Single());
        }
        Assert.Equal(("everything", "sim-large"), await AskMath());

        await Run("workload", "--per-task", "100", "--seed", "1", "--out", work.Combine("train.jsonl"));
        var (_, evaluated) = await Run("eval", "--config", config, "--workload", work.Combine("train.jsonl"), "--models", "sim-nano,sim-small,sim-fast,sim-medium,sim-pro,sim-large",
            "--results", work.Combine("results.jsonl"), "--report", work.Combine("report"));
        Assert.Contains("3600 answers this run (0 errors)", evaluated);
        var (_, optimized) = await Run("optimize", "--config", config, "--results", work.Combine("results.jsonl"), "--entry", "sim-large", "--floor", "0.9", "--apply",
            "--report", work.Combine("report"));
        Assert.Contains("projected savings", optimized);
        Assert.Contains("+       \"name\": \"optimized-math\",", optimized);
        Assert.Contains("optimized routing", await File.ReadAllTextAsync(work.Combine("report/frontier.svg")));
        Assert.Contains("| sim-pro |", await File.ReadAllTextAsync(work.Combine("report/report.md")));

        // The running gateway reloads the rewritten file: math now goes to the cheapest model that does it well.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        var answer = await AskMath();
        while (answer.Route != "optimized-math" && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
            answer = await AskMath();
        }
        Assert.Equal(("optimized-math", "sim-pro"), answer);
    }

    private static async Task<(int, string)> Run(params string[] args)
    {
        var (code, output) = await OctoMeshProcess.RunAsync(args);
        Assert.True(code == 0, $"octomesh {string.Join(' ', args)} exited {code}:\n{output}");
        return (code, output);
    }
}
