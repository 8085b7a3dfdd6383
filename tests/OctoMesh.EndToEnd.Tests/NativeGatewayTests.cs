using System.Diagnostics;
using System.Text.Json;

namespace OctoMesh.EndToEnd.Tests;

/// <summary>
/// The native binary as users run it: <c>octomesh sim</c> as the upstream, <c>octomesh serve</c> in
/// front, curl and the official <c>openai</c> and <c>@anthropic-ai/sdk</c> npm SDKs as clients, SIGTERM to stop.
/// </summary>
public sealed class NativeGatewayTests : IAsyncLifetime
{
    private NativeGateway _native = null!;
    private OctoMeshProcess _sim = null!;
    private OctoMeshProcess _gateway = null!;
    private string _configPath = null!;

    public async Task InitializeAsync()
    {
        _native = await NativeGateway.StartAsync();
        (_sim, _gateway, _configPath) = (_native.Simulator, _native.Gateway, _native.ConfigPath);
    }

    public async Task DisposeAsync() => await _native.DisposeAsync();

    private static async Task<(int ExitCode, string Output)> Run(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }

    private Task<(int ExitCode, string Output)> Curl(params string[] args) =>
        Run("curl", ["-sS", "--max-time", "20", .. args]);

    [Fact]
    public async Task CurlGetsCompletionsStreamedAndNot()
    {
        var url = $"{_gateway.Address}v1/chat/completions";
        const string body = """{"model":"fast","messages":[{"role":"user","content":"What is 6 * 7?"}]}""";

        var (code, json) = await Curl(url, "-H", "content-type: application/json", "-d", body);
        Assert.Equal(0, code);
        using var document = JsonDocument.Parse(json);
        Assert.Equal("sim-small", document.RootElement.GetProperty("model").GetString());

        var (streamCode, sse) = await Curl("-N", url, "-H", "content-type: application/json", "-d", body.Replace("\"fast\",", "\"fast\",\"stream\":true,"));
        Assert.Equal(0, streamCode);
        Assert.StartsWith("data: {", sse);
        Assert.EndsWith("data: [DONE]\n\n", sse);
    }

    internal static async Task<string> NodeAsync(string script, params string[] args)
    {
        var js = Path.Combine(NativeBinary.RepositoryRoot, "tests", "OctoMesh.EndToEnd.Tests", "js");
        if (!Directory.Exists(Path.Combine(js, "node_modules", "@anthropic-ai", "sdk")))
        {
            var (npmCode, npmOutput) = await Run("npm", "ci", "--prefix", js, "--no-audit", "--no-fund");
            Assert.True(npmCode == 0, npmOutput);
        }
        var (code, output) = await Run("node", [Path.Combine(js, script), .. args]);
        Assert.True(code == 0, output);
        return output;
    }

    /// <summary>The openai npm SDK, with an OpenAI-compatible, an Anthropic, an Azure and a Gemini provider behind the gateway.</summary>
    [Theory]
    [InlineData("fast", "sim-small")]
    [InlineData("claude", "sim-large")]
    [InlineData("azure-gpt", "sim-medium")]
    [InlineData("gemini", "sim-small")]
    public async Task OfficialOpenAINodeSdkWorks(string model, string upstreamModel)
    {
        var output = await NodeAsync("openai-smoke.mjs", $"{_gateway.Address}v1", model, upstreamModel);
        Assert.Equal(["ok chat", "ok stream", "ok tools", "ok embeddings", "ok errors"], output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    /// <summary>The @anthropic-ai/sdk npm SDK on /v1/messages: Anthropic behind (pass-through), OpenAI-format and Gemini providers behind (translation).</summary>
    [Theory]
    [InlineData("claude")]
    [InlineData("fast")]
    [InlineData("azure-gpt")]
    [InlineData("gemini")]
    public async Task OfficialAnthropicNodeSdkWorks(string model)
    {
        var output = await NodeAsync("anthropic-smoke.mjs", _gateway.Address.ToString().TrimEnd('/'), model);
        Assert.Equal(["ok message", "ok stream", "ok tools", "ok errors"], output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task SigtermStopsCleanly()
    {
        Assert.Equal(0, await _gateway.StopAsync());
        Assert.Equal(0, await _sim.StopAsync());
        Assert.DoesNotContain("Unhandled", _gateway.Output);
    }

    [Fact]
    public async Task CheckConfigReportsEveryErrorAndExits2()
    {
        var bad = Path.Combine(Path.GetTempPath(), $"octomesh-bad-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(bad, """{ "providers": { "p": { "kind": "opnai" } }, "models": { "m": { "provider": "p" } }, "listen": 1 }""");
        try
        {
            var (code, output) = await OctoMeshProcess.RunAsync("check-config", bad);
            Assert.Equal(2, code);
            Assert.Contains("$.listen: unknown field.", output);
            Assert.Contains("$.providers.p.kind: unknown provider kind 'opnai'.", output);

            var (unsetCode, unsetOutput) = await OctoMeshProcess.RunAsync("check-config", _configPath);
            Assert.Equal(2, unsetCode);
            Assert.Contains("environment variable E2E_PROVIDER_KEY is not set", unsetOutput);

            var (okCode, okOutput) = await OctoMeshProcess.RunAsync([NativeGateway.ProviderKey], "check-config", _configPath);
            Assert.Equal(0, okCode);
            Assert.Contains("valid (4 providers, 5 models, 0 client keys)", okOutput);
        }
        finally
        {
            File.Delete(bad);
        }
    }
}
