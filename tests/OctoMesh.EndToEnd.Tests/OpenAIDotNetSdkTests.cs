using System.ClientModel;
using System.Text;
using OpenAI;
using OpenAI.Chat;

namespace OctoMesh.EndToEnd.Tests;

/// <summary>The official OpenAI .NET SDK against the native gateway, with each provider kind behind it.</summary>
public sealed class OpenAIDotNetSdkTests : IAsyncLifetime
{
    private NativeGateway _native = null!;

    public async Task InitializeAsync() => _native = await NativeGateway.StartAsync();

    public async Task DisposeAsync() => await _native.DisposeAsync();

    [Theory]
    [InlineData("fast")]
    [InlineData("claude")]
    [InlineData("azure-gpt")]
    [InlineData("gemini")]
    public async Task ChatStreamAndTools(string model)
    {
        var client = new ChatClient(model, new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(_native.Gateway.Address, "/v1") });

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
