using System.Buffers;
using System.Text;
using System.Text.Json;
using OctoMesh.Edge.Providers.Anthropic;
using OctoMesh.Edge.Wire;

namespace OctoMesh.Edge.Tests.Providers.Anthropic;

public class AnthropicRequestWriterTests
{
    private static string Translate(string openAI, out string? unsupported)
    {
        using var document = JsonDocument.Parse(openAI);
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, OpenAIError.WriterOptions))
        {
            unsupported = AnthropicRequestWriter.Write(document.RootElement, "claude-x", 4096, writer);
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static string Translate(string openAI)
    {
        var json = Translate(openAI, out var unsupported);
        Assert.Null(unsupported);
        return json;
    }

    [Fact]
    public void LiftsSystemMergesTurnsAndMapsEverything()
    {
        var json = Translate("""
            {"model":"m","temperature":1.7,"top_p":0.9,"stop":"END","user":"u-1","stream":true,"max_tokens":300,
             "messages":[
              {"role":"system","content":"Be brief."},
              {"role":"developer","content":[{"type":"text","text":"Use metric units."}]},
              {"role":"user","content":"First"},
              {"role":"user","content":[{"type":"text","text":"Second"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0K"}},{"type":"image_url","image_url":{"url":"https://example.org/cat.jpg"}}]},
              {"role":"assistant","content":"Calling.","tool_calls":[{"id":"call_9","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}]},
              {"role":"tool","tool_call_id":"call_9","content":"3 C"}
             ],
             "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],
             "tool_choice":"required","parallel_tool_calls":false,
             "response_format":{"type":"json_object"}}
            """);

        Assert.Equal("""{"model":"claude-x","max_tokens":300,"system":"Be brief.\n\nUse metric units.\n\nRespond with one JSON object and nothing else.","messages":[{"role":"user","content":[{"type":"text","text":"First"},{"type":"text","text":"Second"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0K"}},{"type":"image","source":{"type":"url","url":"https://example.org/cat.jpg"}}]},{"role":"assistant","content":[{"type":"text","text":"Calling."},{"type":"tool_use","id":"call_9","name":"get_weather","input":{"city":"Oslo"}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"call_9","content":"3 C"}]}],"stop_sequences":["END"],"temperature":1,"top_p":0.9,"tools":[{"name":"get_weather","description":"Weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}],"tool_choice":{"type":"any","disable_parallel_tool_use":true},"stream":true,"metadata":{"user_id":"u-1"}}""", json);
    }

    [Fact]
    public void DefaultsMaxTokensAndOpensWithAUserTurn()
    {
        var json = Translate("""{"model":"m","messages":[{"role":"assistant","content":"Hi, how can I help?"},{"role":"user","content":""}]}""");
        Assert.Equal($$"""{"model":"claude-x","max_tokens":4096,"messages":[{"role":"user","content":"{{AnthropicRequestWriter.OpeningUserTurn}}"},{"role":"assistant","content":"Hi, how can I help?"}]}""", json);
    }

    [Theory]
    [InlineData("\"none\"", """{"type":"none"}""")]
    [InlineData("\"auto\"", """{"type":"auto"}""")]
    [InlineData("""{"type":"function","function":{"name":"f"}}""", """{"type":"tool","name":"f"}""")]
    public void MapsToolChoice(string choice, string expected)
    {
        var request = $$$"""{"tool_choice":{{{choice}}},"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}]}""";
        var json = Translate(request);
        Assert.EndsWith("\"tool_choice\":" + expected + "}", json);
        Assert.Contains("\"input_schema\":{\"type\":\"object\"}", json);
    }

    [Theory]
    [InlineData("""{"model":"m","n":3,"messages":[{"role":"user","content":"x"}]}""", "Anthropic models return one choice: 'n' must be 1.")]
    [InlineData("""{"model":"m","logprobs":true,"messages":[{"role":"user","content":"x"}]}""", "Anthropic models do not return log probabilities: remove 'logprobs'.")]
    [InlineData("""{"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{not json"}}]}]}""", "messages[0].tool_calls[0].function.arguments is not valid JSON; Anthropic needs the arguments as an object.")]
    [InlineData("""{"model":"m","messages":[{"role":"tool","content":"x"}]}""", "messages[0] is a tool message without 'tool_call_id'.")]
    [InlineData("""{"model":"m","messages":[{"role":"function","content":"x"}]}""", "messages[0].role 'function' cannot be sent to Anthropic: use system, developer, user, assistant or tool.")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]}""", "messages[0] has a 'input_audio' part, which Anthropic models do not accept here.")]
    public void RefusesWhatAnthropicCannotDo(string request, string message)
    {
        Translate(request, out var unsupported);
        Assert.Equal(message, unsupported);
    }

    [Fact]
    public void JsonSchemaGoesIntoTheSystemPrompt()
    {
        var json = Translate("""{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"r","schema":{"type":"object"}}}}""");
        Assert.Contains("\"system\":\"Respond with one JSON object that conforms to this JSON schema, and nothing else: {\\\"type\\\":\\\"object\\\"}\"", json);
    }
}
