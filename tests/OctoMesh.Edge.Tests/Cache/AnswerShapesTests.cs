using System.Text;
using System.Text.Json.Nodes;
using OctoMesh.Edge.Cache;
using OctoMesh.Edge.Wire;

namespace OctoMesh.Edge.Tests.Cache;

/// <summary>Reshaping kept answers on their own: Anthropic tool use both ways, and bytes that are not what they claim.</summary>
public class AnswerShapesTests
{
    private static CachedAnswer Answer(string body, bool stream) =>
        new(Encoding.UTF8.GetBytes(body), stream ? AnswerShapes.EventStream : AnswerShapes.Json, stream, "p", "m", "w");

    [Fact]
    public void AnthropicToolUseSurvivesBothWays()
    {
        const string Message = """{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"Let me look."},{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Oslo","days":2}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":30}}""";
        Assert.True(AnswerShapes.TryReshape(Answer(Message, stream: false), ApiOperation.Messages, stream: true, includeUsage: false, out var events, out var type));
        Assert.Equal(AnswerShapes.EventStream, type);
        var text = Encoding.UTF8.GetString(events);
        Assert.Contains("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\":\\\"Oslo\\\",\\\"days\\\":2}\"}}", text);

        // And back: the same message.
        Assert.True(AnswerShapes.TryReshape(Answer(text, stream: true), ApiOperation.Messages, stream: false, includeUsage: false, out var json, out _));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(Message), JsonNode.Parse(json)), Encoding.UTF8.GetString(json));
    }

    [Fact]
    public void StreamsWithCrlfLinesAreReadAndTheUsageChunkIsFoundByItsShape()
    {
        const string Stream = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"finish_reason\":null}]}\r\n\r\n"
            + "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\r\n\r\n"
            + "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\": [],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,\"total_tokens\":4}}\r\n\r\n"
            + "data: [DONE]\r\n\r\n";
        Assert.True(AnswerShapes.HasUsageChunk(Encoding.UTF8.GetBytes(Stream)));
        Assert.True(AnswerShapes.TryReshape(Answer(Stream, stream: true), ApiOperation.ChatCompletions, stream: false, includeUsage: false, out var json, out _));
        var message = JsonNode.Parse(json)!;
        Assert.Equal(("Hi", "stop", 4), (message["choices"]![0]!["message"]!["content"]!.GetValue<string>(),
            message["choices"]![0]!["finish_reason"]!.GetValue<string>(), message["usage"]!["total_tokens"]!.GetValue<int>()));
        // Without the usage chunk for a client that did not ask for it; a client asking for it of a stream without one is refused.
        Assert.True(AnswerShapes.TryReshape(Answer(Stream, stream: true), ApiOperation.ChatCompletions, stream: true, includeUsage: false, out var bare, out _));
        Assert.False(AnswerShapes.HasUsageChunk(bare));
        Assert.False(AnswerShapes.TryReshape(Answer(Encoding.UTF8.GetString(bare), stream: true), ApiOperation.ChatCompletions, stream: true, includeUsage: true, out _, out _));
    }

    [Theory]
    [InlineData("data: {not json\n\n", true, false)]
    [InlineData("{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"parts\"}]},\"finish_reason\":\"stop\"}]}", false, false)]
    [InlineData("{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"x\",\"reasoning_content\":\"why\"},\"finish_reason\":\"stop\"}]}", false, false)]
    [InlineData("{\"id\":\"m\",\"type\":\"message\",\"content\":[{\"type\":\"server_tool_use\",\"id\":\"s\",\"name\":\"web_search\",\"input\":{}}],\"stop_reason\":\"end_turn\"}", false, true)]
    [InlineData("{\"choices\":7}", false, false)]
    [InlineData("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{}}\n\n", true, true)]
    public void BytesThatAreNotTheirShapeAreNotServed(string body, bool stream, bool anthropic) =>
        Assert.False(AnswerShapes.TryReshape(Answer(body, stream), anthropic ? ApiOperation.Messages : ApiOperation.ChatCompletions, !stream,
            includeUsage: true, out _, out _));
}
