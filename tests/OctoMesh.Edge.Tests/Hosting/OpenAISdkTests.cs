using System.ClientModel;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Embeddings;

namespace OctoMesh.Edge.Tests.Hosting;

/// <summary>The official OpenAI .NET SDK, pointed at the gateway, works as it would against the provider.</summary>
public class OpenAISdkTests
{
    private static OpenAIClientOptions Options(TestGateway test) => new() { Endpoint = new Uri(test.BaseUrl, "/v1") };

    [Fact]
    public async Task ChatStreamingAndNotAgree()
    {
        await using var test = await TestGateway.StartAsync();
        var client = new ChatClient("fast", new ApiKeyCredential("unused"), Options(test));

        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("What is 12 + 30?")]);
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.StartsWith("The answer is", completion.Content[0].Text);
        Assert.True(completion.Usage.OutputTokenCount > 0);

        var streamed = new System.Text.StringBuilder();
        ChatTokenUsage? usage = null;
        // The SDK asks for include_usage itself, so the usage chunk reaches it through the gateway.
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("What is 12 + 30?")]))
        {
            foreach (var part in update.ContentUpdate)
            {
                streamed.Append(part.Text);
            }
            usage ??= update.Usage;
        }
        Assert.Equal(completion.Content[0].Text, streamed.ToString());
        Assert.Equal(completion.Usage.TotalTokenCount, usage?.TotalTokenCount);
    }

    [Fact]
    public async Task ToolCallsRoundTrip()
    {
        await using var test = await TestGateway.StartAsync();
        var client = new ChatClient("fast", new ApiKeyCredential("unused"), Options(test));
        var weather = ChatTool.CreateFunctionTool("get_weather", "Weather for a city",
            BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string","enum":["c","f"]}},"required":["city","unit"]}"""));
        var options = new ChatCompletionOptions { Tools = { weather } };

        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("Weather in Oslo?")], options);
        Assert.Equal(ChatFinishReason.ToolCalls, completion.FinishReason);
        var call = Assert.Single(completion.ToolCalls);
        Assert.Equal("get_weather", call.FunctionName);
        using var arguments = System.Text.Json.JsonDocument.Parse(call.FunctionArguments.ToString());
        Assert.True(arguments.RootElement.TryGetProperty("city", out _));

        var name = "";
        var streamedArguments = new System.Text.StringBuilder();
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("Weather in Oslo?")], options))
        {
            foreach (var part in update.ToolCallUpdates)
            {
                name += part.FunctionName;
                streamedArguments.Append(part.FunctionArgumentsUpdate?.ToString());
            }
        }
        Assert.Equal("get_weather", name);
        Assert.Equal(call.FunctionArguments.ToString(), streamedArguments.ToString());

        ChatCompletion after = await client.CompleteChatAsync(
            [new UserChatMessage("Weather in Oslo?"), new AssistantChatMessage(completion), new ToolChatMessage(call.Id, "{\"temp\":3}")], options);
        Assert.Equal(ChatFinishReason.Stop, after.FinishReason);
    }

    [Fact]
    public async Task EmbeddingsInBase64AndFloats()
    {
        await using var test = await TestGateway.StartAsync();
        var client = new EmbeddingClient("fast", new ApiKeyCredential("unused"), Options(test));
        OpenAIEmbedding embedding = await client.GenerateEmbeddingAsync("the cat sat", new EmbeddingGenerationOptions { Dimensions = 16 });
        var vector = embedding.ToFloats();
        Assert.Equal(16, vector.Length);
        var norm = MathF.Sqrt(vector.ToArray().Sum(v => v * v));
        Assert.InRange(norm, 0.999f, 1.001f);
    }

    [Fact]
    public async Task ProviderErrorsSurfaceAsSdkExceptions()
    {
        await using var test = await TestGateway.StartAsync();
        var client = new ChatClient("fast", new ApiKeyCredential("unused"), new OpenAIClientOptions
        {
            Endpoint = new Uri(test.BaseUrl, "/v1"),
            RetryPolicy = new System.ClientModel.Primitives.ClientRetryPolicy(maxRetries: 0),
        });
        var options = new System.ClientModel.Primitives.RequestOptions();
        options.AddHeader("x-sim-fault", "500");
        var body = BinaryContent.Create(BinaryData.FromString("""{"model":"fast","messages":[{"role":"user","content":"hi"}]}"""));
        var error = await Assert.ThrowsAsync<ClientResultException>(() => client.CompleteChatAsync(body, options));
        Assert.Equal(500, error.Status);
    }
}
