using System.ClientModel;
using System.Text;
using OpenAI;
using OpenAI.Chat;

namespace OctoMesh.EndToEnd.Tests;

/// <summary>The official OpenAI .NET SDK against the native gateway, with each provider kind behind it.</summary>
public sealed class OpenAIDotNetSdkTests : IAsyncLifetime
{
    private OctoMeshProcess _sim = null!;
    private OctoMeshProcess _gateway = null!;
    private string _configPath = null!;

    public async Task InitializeAsync()
    {
        _sim = await OctoMeshProcess.StartAsync("sim", "--urls", "http://127.0.0.1:0");
        _configPath = Path.Combine(Path.GetTempPath(), $"octomesh-e2e-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(_configPath, $$"""
            {
              "providers": {
                "upstream": { "kind": "openai-compatible", "baseUrl": "{{_sim.Address}}v1" },
                "anthro": { "kind": "anthropic", "baseUrl": "{{_sim.Address}}v1", "apiKey": "${E2E_PROVIDER_KEY}" },
                "azure": { "kind": "azure-openai", "baseUrl": "{{_sim.Address}}", "apiKey": "${E2E_PROVIDER_KEY}" },
                "google": { "kind": "gemini", "baseUrl": "{{_sim.Address}}v1beta", "apiKey": "${E2E_PROVIDER_KEY}" }
              },
              "models": {
                "fast": { "provider": "upstream", "model": "sim-small" },
                "claude": { "provider": "anthro", "model": "sim-large" },
                "azure-gpt": { "provider": "azure", "model": "sim-medium" },
                "gemini": { "provider": "google", "model": "sim-small" }
              }
            }
            """);
        _gateway = await OctoMeshProcess.StartAsync([new("E2E_PROVIDER_KEY", "sk-e2e-provider-key")],
            "serve", "--config", _configPath, "--urls", "http://127.0.0.1:0");
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _sim.DisposeAsync();
        File.Delete(_configPath);
    }

    [Theory]
    [InlineData("fast")]
    [InlineData("claude")]
    [InlineData("azure-gpt")]
    [InlineData("gemini")]
    public async Task ChatStreamAndTools(string model)
    {
        var client = new ChatClient(model, new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(_gateway.Address, "/v1") });

        ChatCompletion completion = await client.CompleteChatAsync([new SystemChatMessage("Be brief."), new UserChatMessage("What is 2 + 40?")]);
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.StartsWith("The answer is", completion.Content[0].Text);

        var streamed = new StringBuilder();
        ChatTokenUsage? usage = null;
        await foreach (var update in client.CompleteChatStreamingAsync([new SystemChatMessage("Be brief."), new UserChatMessage("What is 2 + 40?")]))
        {
            foreach (var part in update.ContentUpdate)
            {
                streamed.Append(part.Text);
            }
            usage ??= update.Usage;
        }
        Assert.Equal(completion.Content[0].Text, streamed.ToString());
        Assert.Equal(completion.Usage.TotalTokenCount, usage?.TotalTokenCount);

        var tool = ChatTool.CreateFunctionTool("get_weather", "Weather for a city",
            BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"""));
        ChatCompletion call = await client.CompleteChatAsync([new UserChatMessage("Weather in Oslo?")], new ChatCompletionOptions { Tools = { tool } });
        Assert.Equal(ChatFinishReason.ToolCalls, call.FinishReason);
        Assert.Equal("get_weather", Assert.Single(call.ToolCalls).FunctionName);
    }
}
