namespace OctoMesh.EndToEnd.Tests;

/// <summary>
/// <c>octomesh sim</c> as every provider kind, and <c>octomesh serve</c> in front of it with one alias
/// per kind: <c>fast</c> (OpenAI-compatible), <c>claude</c> (Anthropic), <c>azure-gpt</c> (Azure OpenAI),
/// <c>gemini</c> (Gemini), <c>embed</c> (embeddings).
/// </summary>
internal sealed class NativeGateway : IAsyncDisposable
{
    /// <summary>The provider key the configuration names as <c>${E2E_PROVIDER_KEY}</c>.</summary>
    public static readonly KeyValuePair<string, string> ProviderKey = new("E2E_PROVIDER_KEY", "sk-e2e-provider-key");

    private NativeGateway(OctoMeshProcess simulator, OctoMeshProcess gateway, string configPath)
    {
        Simulator = simulator;
        Gateway = gateway;
        ConfigPath = configPath;
    }

    public OctoMeshProcess Simulator { get; }
    public OctoMeshProcess Gateway { get; }
    public string ConfigPath { get; }

    public static async Task<NativeGateway> StartAsync()
    {
        var simulator = await OctoMeshProcess.StartAsync("sim", "--urls", "http://127.0.0.1:0");
        var configPath = Path.Combine(Path.GetTempPath(), $"octomesh-e2e-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(configPath, $$"""
            {
              // The simulator stands in for every provider kind; only configuration chooses upstream URLs.
              "providers": {
                "upstream": { "kind": "openai-compatible", "baseUrl": "{{simulator.Address}}v1" },
                "anthro": { "kind": "anthropic", "baseUrl": "{{simulator.Address}}v1", "apiKey": "${E2E_PROVIDER_KEY}" },
                "azure": { "kind": "azure-openai", "baseUrl": "{{simulator.Address}}", "apiKey": "${E2E_PROVIDER_KEY}" },
                "google": { "kind": "gemini", "baseUrl": "{{simulator.Address}}v1beta", "apiKey": "${E2E_PROVIDER_KEY}" },
              },
              "models": {
                "fast": { "provider": "upstream", "model": "sim-small" },
                "claude": { "provider": "anthro", "model": "sim-large" },
                "azure-gpt": { "provider": "azure", "model": "sim-medium" },
                "gemini": { "provider": "google", "model": "sim-small" },
                "embed": { "provider": "upstream", "model": "text-embedding-3-small" },
              },
            }
            """);
        var gateway = await OctoMeshProcess.StartAsync([ProviderKey], "serve", "--config", configPath, "--urls", "http://127.0.0.1:0");
        return new NativeGateway(simulator, gateway, configPath);
    }

    public async ValueTask DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await Simulator.DisposeAsync();
        File.Delete(ConfigPath);
    }
}
