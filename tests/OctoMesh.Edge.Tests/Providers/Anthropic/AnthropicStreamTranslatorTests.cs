using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using OctoMesh.Edge.Providers.Anthropic;
using OctoMesh.Edge.Wire;
using OctoMesh.Edge.Tests.Wire;
using OctoMesh.Edge.Providers;

namespace OctoMesh.Edge.Tests.Providers.Anthropic;

public class AnthropicStreamTranslatorTests
{
    /// <summary>The event sequence from Anthropic's streaming reference: text, then a tool call, with a ping.</summary>
    private const string Upstream = """
        event: message_start
        data: {"type":"message_start","message":{"id":"msg_014p7gG3wDgGV9EUtLvnow3U","type":"message","role":"assistant","model":"claude-sonnet-4","stop_sequence":null,"usage":{"input_tokens":472,"cache_creation_input_tokens":10,"cache_read_input_tokens":20,"output_tokens":2},"content":[],"stop_reason":null}}

        event: content_block_start
        data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

        event: ping
        data: {"type": "ping"}

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Okay, let\u0027s check \"the\" weather 🦑"}}

        event: content_block_stop
        data: {"type":"content_block_stop","index":0}

        event: content_block_start
        data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{}}}

        event: content_block_delta
        data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}

        event: content_block_delta
        data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"location\":"}}

        event: content_block_delta
        data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":" \"San Francisco, CA\"}"}}

        event: content_block_stop
        data: {"type":"content_block_stop","index":1}

        event: message_delta
        data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}

        event: message_stop
        data: {"type":"message_stop"}


        """;

    private static async Task<(string Output, ProxyOutcome Outcome, TokenUsage? Usage)> Translate(string upstream, bool includeUsage, int? splitAt = null)
    {
        var bytes = Encoding.UTF8.GetBytes(upstream.ReplaceLineEndings("\n"));
        var output = new MemoryStream();
        var writer = PipeWriter.Create(output);
        Stream source = splitAt is { } at ? new SplitStream(bytes, at) : new MemoryStream(bytes);
        var (outcome, usage) = await ResponseCopier.CopyStreamAsync(source, writer, new AnthropicStreamTranslator(includeUsage), Timeout.InfiniteTimeSpan, CancellationToken.None, CancellationToken.None);
        await writer.CompleteAsync();
        return (Encoding.UTF8.GetString(output.ToArray()), outcome, usage);
    }

    /// <summary>Hands out the bytes in two reads, split at a given offset.</summary>
    private sealed class SplitStream(byte[] bytes, int at) : MemoryStream(bytes)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var limit = Position < at ? (int)Math.Min(buffer.Length, at - Position) : buffer.Length;
            return base.ReadAsync(buffer[..limit], cancellationToken);
        }
    }

    [Fact]
    public async Task TranslatesEventByEvent()
    {
        var (output, outcome, usage) = await Translate(Upstream, includeUsage: true);
        Assert.Equal(ProxyOutcome.Completed, outcome);
        Assert.Equal(new TokenUsage(502, 89, 591, 20, 0, 10), usage);

        var events = output.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(e => e["data: ".Length..]).ToList();
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events.SkipLast(1).Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.All(chunks, c => Assert.Equal("msg_014p7gG3wDgGV9EUtLvnow3U", c.GetProperty("id").GetString()));
        Assert.All(chunks, c => Assert.Equal("claude-sonnet-4", c.GetProperty("model").GetString()));
        Assert.Equal(7, chunks.Count);

        Assert.Equal("assistant", chunks[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());
        Assert.Equal("Okay, let's check \"the\" weather 🦑", chunks[1].GetProperty("choices")[0].GetProperty("delta").GetProperty("content").GetString());
        var start = chunks[2].GetProperty("choices")[0].GetProperty("delta").GetProperty("tool_calls")[0];
        Assert.Equal(0, start.GetProperty("index").GetInt32());
        Assert.Equal("toolu_01T1x1fJ34qAmk2tNTrN7Up6", start.GetProperty("id").GetString());
        Assert.Equal("get_weather", start.GetProperty("function").GetProperty("name").GetString());
        var arguments = string.Concat(chunks.Skip(3).Take(2).Select(c => c.GetProperty("choices")[0].GetProperty("delta").GetProperty("tool_calls")[0].GetProperty("function").GetProperty("arguments").GetString()));
        Assert.Equal("{\"location\": \"San Francisco, CA\"}", arguments);
        Assert.Equal("tool_calls", chunks[5].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(0, chunks[6].GetProperty("choices").GetArrayLength());
        Assert.Equal(502, chunks[6].GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(20, chunks[6].GetProperty("usage").GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32());
        Assert.All(chunks.Take(6), c => Assert.Equal(JsonValueKind.Null, c.GetProperty("usage").ValueKind));
    }

    [Fact]
    public async Task SameOutputWhereverTheUpstreamSplits()
    {
        var (whole, _, _) = await Translate(Upstream, includeUsage: false);
        var length = Encoding.UTF8.GetByteCount(Upstream.ReplaceLineEndings("\n"));
        for (var at = 1; at < length; at += 7)
        {
            var (split, outcome, _) = await Translate(Upstream, includeUsage: false, splitAt: at);
            Assert.Equal(ProxyOutcome.Completed, outcome);
            Assert.Equal(Normalize(whole), Normalize(split));
        }
        Assert.DoesNotContain("\"usage\"", whole);
    }

    /// <summary>Chunks carry the wall-clock second they were made in; compare without it.</summary>
    private static string Normalize(string sse) => System.Text.RegularExpressions.Regex.Replace(sse, "\"created\":[0-9]+", "\"created\":0");

    [Fact]
    public async Task AnErrorEventEndsTheStreamInOpenAIShape()
    {
        var upstream = Upstream[..Upstream.IndexOf("event: content_block_stop", StringComparison.Ordinal)]
            + "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
        var (output, outcome, _) = await Translate(upstream, includeUsage: false);
        Assert.Equal(ProxyOutcome.UpstreamCut, outcome);
        Assert.EndsWith("data: {\"error\":{\"message\":\"Overloaded\",\"type\":\"server_error\",\"param\":null,\"code\":\"overloaded\"}}\n\n", output);
        Assert.DoesNotContain("[DONE]", output);
    }

    [Fact]
    public async Task AStreamWithoutMessageStopIsCut()
    {
        var upstream = Upstream[..Upstream.IndexOf("event: message_delta", StringComparison.Ordinal)];
        var (output, outcome, _) = await Translate(upstream, includeUsage: false);
        Assert.Equal(ProxyOutcome.UpstreamCut, outcome);
        Assert.Contains("\"code\":\"upstream_stream_cut\"", output);
    }
}
