using System.Buffers;
using System.Text;
using System.Text.Json;
using OctoMesh.Edge.Providers.Gemini;
using OctoMesh.Edge.Wire;

namespace OctoMesh.Edge.Tests.Providers.Gemini;

public class GeminiRequestWriterTests
{
    private static string Translate(string openAI, out string? unsupported)
    {
        using var document = JsonDocument.Parse(openAI);
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, OpenAIError.WriterOptions))
        {
            unsupported = GeminiRequestWriter.Write(document.RootElement, writer);
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    [Fact]
    public void MapsConversationToolsAndConfig()
    {
        var json = Translate("""
            {"model":"m","temperature":0.4,"top_p":0.8,"max_tokens":64,"stop":["END"],"response_format":{"type":"json_object"},
             "messages":[
              {"role":"system","content":"Be brief."},
              {"role":"user","content":[{"type":"text","text":"Look"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBOR"}}]},
              {"role":"assistant","content":null,"tool_calls":[{"id":"call_a","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}]},
              {"role":"tool","tool_call_id":"call_a","content":"3 C"},
              {"role":"tool","tool_call_id":"call_a","content":"{\"temp\":3}"}
             ],
             "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],
             "tool_choice":{"type":"function","function":{"name":"get_weather"}}}
            """, out var unsupported);
        Assert.Null(unsupported);
        Assert.Equal("""{"contents":[{"role":"user","parts":[{"text":"Look"},{"inlineData":{"mimeType":"image/png","data":"iVBOR"}}]},{"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Oslo"}}}]},{"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"content":"3 C"}}},{"functionResponse":{"name":"get_weather","response":{"temp":3}}}]}],"systemInstruction":{"parts":[{"text":"Be brief."}]},"tools":[{"functionDeclarations":[{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}]}],"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["get_weather"]}},"generationConfig":{"temperature":0.4,"topP":0.8,"maxOutputTokens":64,"stopSequences":["END"],"responseMimeType":"application/json"}}""", json);
    }

    [Theory]
    [InlineData("""{"model":"m","n":2,"messages":[{"role":"user","content":"x"}]}""", "This Gemini provider returns one choice: 'n' must be 1.")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.org/cat.png"}}]}]}""", "messages[0]: Gemini takes images inline here; send them as data:image/…;base64,… URLs.")]
    [InlineData("""{"model":"m","messages":[{"role":"tool","tool_call_id":"nope","content":"x"}]}""", "messages[0]: tool_call_id 'nope' answers no earlier tool call; Gemini matches tool results by function name.")]
    public void RefusesWhatItCannotTranslate(string request, string message)
    {
        Translate(request, out var unsupported);
        Assert.Equal(message, unsupported);
    }
}
