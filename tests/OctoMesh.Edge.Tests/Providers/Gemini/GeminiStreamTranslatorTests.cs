using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using OctoMesh.Edge.Providers.Gemini;
using OctoMesh.Edge.Wire;
using OctoMesh.Edge.Providers;

namespace OctoMesh.Edge.Tests.Providers.Gemini;

public class GeminiStreamTranslatorTests
{
    /// <summary>Gemini's alt=sse framing: each event a whole response; a thought part; a function call; usage at the end.</summary>
    private const string Upstream =
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Let me think\",\"thought\":true}],\"role\":\"model\"},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":12,\"totalTokenCount\":12},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r-1\"}\r\n\r\n" +
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Checking \\\"Oslo\\\" 🦑\"}],\"role\":\"model\"},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":12,\"totalTokenCount\":12},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r-1\"}\r\n\r\n" +
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"get_weather\",\"args\":{\"city\":\"Oslo\",\"days\":[1,2]}}}],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":12,\"candidatesTokenCount\":9,\"totalTokenCount\":26,\"cachedContentTokenCount\":4,\"thoughtsTokenCount\":5},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r-1\"}\r\n\r\n";

    [Fact]
    public async Task TranslatesTextThoughtsCallsAndUsage()
    {
        var output = new MemoryStream();
        var writer = PipeWriter.Create(output);
        var (outcome, usage) = await ResponseCopier.CopyStreamAsync(new MemoryStream(Encoding.UTF8.GetBytes(Upstream)), writer,
            new GeminiStreamTranslator(includeUsage: true, "gemini-requested"), Timeout.InfiniteTimeSpan, CancellationToken.None, CancellationToken.None);
        await writer.CompleteAsync();

        Assert.Equal(ProxyOutcome.Completed, outcome);
        Assert.Equal(new TokenUsage(12, 14, 26, 4, 5), usage);
        var events = Encoding.UTF8.GetString(output.ToArray()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(e => e["data: ".Length..]).ToList();
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events.SkipLast(1).Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.All(chunks, c => Assert.Equal("r-1", c.GetProperty("id").GetString()));
        Assert.All(chunks, c => Assert.Equal("gemini-2.5-flash", c.GetProperty("model").GetString()));
        Assert.Equal(6, chunks.Count);
        Assert.Equal("assistant", chunks[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());
        Assert.Equal("Checking \"Oslo\" 🦑", chunks[1].GetProperty("choices")[0].GetProperty("delta").GetProperty("content").GetString());
        var start = chunks[2].GetProperty("choices")[0].GetProperty("delta").GetProperty("tool_calls")[0];
        Assert.Equal("call_0", start.GetProperty("id").GetString());
        Assert.Equal("get_weather", start.GetProperty("function").GetProperty("name").GetString());
        var arguments = chunks[3].GetProperty("choices")[0].GetProperty("delta").GetProperty("tool_calls")[0].GetProperty("function").GetProperty("arguments").GetString();
        Assert.Equal("{\"city\":\"Oslo\",\"days\":[1,2]}", arguments);
        Assert.Equal("tool_calls", chunks[4].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(14, chunks[5].GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal(5, chunks[5].GetProperty("usage").GetProperty("completion_tokens_details").GetProperty("reasoning_tokens").GetInt32());
    }

    [Fact]
    public async Task AnErrorInTheStreamEndsIt()
    {
        var upstream = Upstream[..Upstream.IndexOf("data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\"", StringComparison.Ordinal)]
            + "data: {\"error\":{\"code\":503,\"message\":\"The model is overloaded.\",\"status\":\"UNAVAILABLE\"}}\r\n\r\n";
        var output = new MemoryStream();
        var writer = PipeWriter.Create(output);
        var (outcome, _) = await ResponseCopier.CopyStreamAsync(new MemoryStream(Encoding.UTF8.GetBytes(upstream)), writer,
            new GeminiStreamTranslator(includeUsage: false, "m"), Timeout.InfiniteTimeSpan, CancellationToken.None, CancellationToken.None);
        await writer.CompleteAsync();
        Assert.Equal(ProxyOutcome.UpstreamCut, outcome);
        Assert.EndsWith("data: {\"error\":{\"message\":\"The model is overloaded.\",\"type\":\"server_error\",\"param\":null,\"code\":\"overloaded\"}}\n\n",
            Encoding.UTF8.GetString(output.ToArray()));
    }
}
