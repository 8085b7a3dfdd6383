using System.Text;
using OctoMesh.Edge.Wire;

namespace OctoMesh.Edge.Tests.Wire;

public class UsageReaderTests
{
    private const string UsageChunk = """{"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":30,"total_tokens":42,"prompt_tokens_details":{"cached_tokens":8,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":5,"audio_tokens":0}}}""";

    [Fact]
    public void ReadsTheUsageChunk()
    {
        var json = Encoding.UTF8.GetBytes(UsageChunk);
        Assert.True(UsageReader.MayHaveUsage(json));
        Assert.True(UsageReader.TryRead(json, out var usage, out var choicesEmpty));
        Assert.True(choicesEmpty);
        Assert.Equal(new TokenUsage(12, 30, 42, 8, 5), usage);
    }

    [Theory]
    [InlineData("""{"choices":[{"index":0,"delta":{"content":"\"usage\": {"}}],"usage":null}""")]
    [InlineData("""{"choices":[{"delta":{}}]}""")]
    public void NullOrQuotedUsageIsNoUsage(string json)
    {
        Assert.False(UsageReader.MayHaveUsage(Encoding.UTF8.GetBytes(json)));
        Assert.False(UsageReader.TryRead(Encoding.UTF8.GetBytes(json), out _, out _));
    }

    [Fact]
    public void UsageBesideChoicesIsNotTheExtraChunk()
    {
        var json = """{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}], "usage" : {"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"""u8;
        Assert.True(UsageReader.MayHaveUsage(json));
        Assert.True(UsageReader.TryRead(json, out var usage, out var choicesEmpty));
        Assert.False(choicesEmpty);
        Assert.Equal(new TokenUsage(1, 2, 3, 0, 0), usage);
    }

    [Fact]
    public void ReadsUsageFromTheTailOfABody()
    {
        var body = """{"id":"x","choices":[{"message":{"content":"he said \"usage\":{\"prompt_tokens\":99}"}}],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10,"prompt_tokens_details":{"cached_tokens":2}},"service_tier":"default","system_fingerprint":"fp"}"""u8;
        Assert.True(UsageReader.TryReadTail(body, out var usage));
        Assert.Equal(new TokenUsage(7, 3, 10, 2, 0), usage);
        // An embeddings response ends with its usage too.
        Assert.True(UsageReader.TryReadTail("""5,0.1]}],"model":"m","usage":{"prompt_tokens":4,"total_tokens":4}}"""u8, out var embeddings));
        Assert.Equal(new TokenUsage(4, 0, 4, 0, 0), embeddings);
        Assert.False(UsageReader.TryReadTail("""{"error":{"message":"nope"}}"""u8, out _));
    }
}
