using System.Text;
using OctoMesh.Edge.Wire;
using OctoMesh.Routing.Table;

namespace OctoMesh.Edge.Tests.Wire;

public class RequestInspectorTests
{
    private static (InspectError Error, InspectedRequest Request) Inspect(string json, ApiOperation operation = ApiOperation.ChatCompletions)
    {
        var error = RequestInspector.Inspect(Encoding.UTF8.GetBytes(json), operation, out var request);
        return (error, request);
    }

    private static string Model(string json)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        Assert.Equal(InspectError.None, RequestInspector.Inspect(bytes, ApiOperation.ChatCompletions, out var request));
        Span<char> name = stackalloc char[RequestInspector.MaxModelBytes];
        return new string(name[..RequestInspector.CopyModel(bytes, request, name)]);
    }

    [Fact]
    public void FindsFieldsAndTheirOffsets()
    {
        const string json = """{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":false},"max_tokens":50,"max_completion_tokens":60,"tools":[{"type":"function"}],"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"x"}]}""";
        var (error, r) = Inspect(json);

        Assert.Equal(InspectError.None, error);
        Assert.Equal("\"gpt-4o\"", json.Substring(r.ModelStart, r.ModelLength));
        Assert.True(r.Stream);
        Assert.Equal('{', json[r.StreamOptionsStart]);
        Assert.False(r.IncludeUsage);
        Assert.Equal("false", json.Substring(r.IncludeUsageStart, r.IncludeUsageLength));
        Assert.Equal(60, r.MaxTokens);
        Assert.True(r.HasTools);
        Assert.Equal(2, r.ItemCount);
        Assert.Equal(json.Length - 1, r.RootEnd);
    }

    [Fact]
    public void DefaultsWhenOptionalFieldsAreAbsent()
    {
        var (error, r) = Inspect("""  {"messages":[{"role":"user"}],"model":"m","tools":[ ],"stream":null}  """);
        Assert.Equal(InspectError.None, error);
        Assert.False(r.Stream);
        Assert.Equal(-1, r.StreamOptionsStart);
        Assert.Equal(-1, r.IncludeUsageStart);
        Assert.False(r.HasTools);
        Assert.Equal(0, r.MaxTokens);
    }

    [Theory]
    [InlineData("", nameof(InspectError.InvalidJson), null)]
    [InlineData("{\"model\":", nameof(InspectError.InvalidJson), null)]
    [InlineData("{\"model\":\"m\",\"messages\":[{}]} trailing", nameof(InspectError.InvalidJson), null)]
    [InlineData("{'model':'m'}", nameof(InspectError.InvalidJson), null)]
    [InlineData("[1,2]", nameof(InspectError.NotAnObject), null)]
    [InlineData("\"text\"", nameof(InspectError.NotAnObject), null)]
    [InlineData("{\"messages\":[{}]}", nameof(InspectError.MissingField), "model")]
    [InlineData("{\"model\":\"m\"}", nameof(InspectError.MissingField), "messages")]
    [InlineData("{\"model\":42,\"messages\":[{}]}", nameof(InspectError.WrongType), "model")]
    [InlineData("{\"model\":null,\"messages\":[{}]}", nameof(InspectError.WrongType), "model")]
    [InlineData("{\"model\":\"\",\"messages\":[{}]}", nameof(InspectError.InvalidValue), "model")]
    [InlineData("{\"model\":\"gemini-x\\r\\nx-injected: 1\",\"messages\":[{}]}", nameof(InspectError.InvalidValue), "model")]
    [InlineData("{\"model\":\"gpt\\u0007\",\"messages\":[{}]}", nameof(InspectError.InvalidValue), "model")]
    [InlineData("{\"model\":\"gpt\u007f\",\"messages\":[{}]}", nameof(InspectError.InvalidValue), "model")]
    [InlineData("{\"model\":\"m\",\"messages\":[{}],\"stream\":\"yes\"}", nameof(InspectError.WrongType), "stream")]
    [InlineData("{\"model\":\"m\",\"messages\":[{}],\"stream_options\":true}", nameof(InspectError.WrongType), "stream_options")]
    [InlineData("{\"model\":\"m\",\"messages\":[{}],\"stream_options\":{\"include_usage\":1}}", nameof(InspectError.WrongType), "stream_options.include_usage")]
    [InlineData("{\"model\":\"m\",\"messages\":{}}", nameof(InspectError.WrongType), "messages")]
    [InlineData("{\"model\":\"m\",\"messages\":[\"hi\"]}", nameof(InspectError.WrongType), "messages")]
    [InlineData("{\"model\":\"m\",\"messages\":[]}", nameof(InspectError.InvalidValue), "messages")]
    [InlineData("{\"model\":\"m\",\"messages\":[{}],\"max_tokens\":\"5\"}", nameof(InspectError.WrongType), "max_tokens")]
    [InlineData("{\"model\":\"m\",\"messages\":[{}],\"max_tokens\":-1}", nameof(InspectError.InvalidValue), "max_tokens")]
    [InlineData("{\"model\":\"m\",\"messages\":[{}],\"max_tokens\":1.5}", nameof(InspectError.InvalidValue), "max_tokens")]
    [InlineData("{\"model\":\"m\",\"messages\":[{}],\"tools\":{}}", nameof(InspectError.WrongType), "tools")]
    [InlineData("{\"model\":\"m\",\"messages\":[{}],\"n\":\"2\"}", nameof(InspectError.WrongType), "n")]
    [InlineData("{\"model\":\"m\",\"messages\":[{}],\"n\":0}", nameof(InspectError.InvalidValue), "n")]
    [InlineData("{\"model\":\"a\",\"messages\":[{}],\"model\":\"b\"}", nameof(InspectError.DuplicateField), "model")]
    [InlineData("{\"model\":\"a\",\"messages\":[{}],\"mod\\u0065l\":\"b\"}", nameof(InspectError.DuplicateField), "model")]
    [InlineData("{\"model\":\"m\",\"stream\":true,\"messages\":[{}],\"stream\":false}", nameof(InspectError.DuplicateField), "stream")]
    public void RefusesMalformedRequests(string json, string expected, string? param)
    {
        var (error, r) = Inspect(json);
        Assert.Equal(expected, error.ToString());
        Assert.Equal(param, r.ErrorParam);
        Assert.False(string.IsNullOrWhiteSpace(RequestInspector.Describe(error, r)));
    }

    [Fact]
    public void TheChoicesAskedForAreRead()
    {
        Assert.Equal(3, Inspect("{\"model\":\"m\",\"n\":3,\"messages\":[{}]}").Request.Choices);
        Assert.Equal(0, Inspect("{\"model\":\"m\",\"messages\":[{}]}").Request.Choices);
    }

    [Fact]
    public void InvalidUtf8IsInvalidJson()
    {
        var bytes = Encoding.UTF8.GetBytes("{\"model\":\"m\",\"messages\":[{\"content\":\"xx\"}]}");
        bytes[^5] = 0xFF;
        Assert.Equal(InspectError.InvalidJson, RequestInspector.Inspect(bytes, ApiOperation.ChatCompletions, out _));
    }

    [Fact]
    public void ErrorMessagesSayWhatToChange()
    {
        var (error, r) = Inspect("{\"model\":\"m\",\"messages\":[{}],\"stream\":\"yes\"}");
        Assert.Equal("Invalid type for 'stream': expected a boolean.", RequestInspector.Describe(error, r));
        (error, r) = Inspect("{\"model\":");
        Assert.StartsWith("We could not parse the JSON body of your request (error near byte 9).", RequestInspector.Describe(error, r));
        (error, r) = Inspect("{\"messages\":[{}]}");
        Assert.Equal("Missing required parameter: 'model'.", RequestInspector.Describe(error, r));
    }

    [Fact]
    public void EscapedModelNamesAreUnescaped()
    {
        Assert.Equal("gpt-4o", Model("""{"model":"gpt\u002d4o","messages":[{}]}"""));
        Assert.Equal("modèle-é", Model("""{"model":"modèle-\u00e9","messages":[{}]}"""));
        Assert.Equal("🦑", Model("""{"model":"\ud83e\udd91","messages":[{}]}"""));
    }

    [Fact]
    public void ModelNamesAreBounded()
    {
        var (error, r) = Inspect($$"""{"model":"{{new string('m', RequestInspector.MaxModelBytes + 1)}}","messages":[{}]}""");
        Assert.Equal(InspectError.InvalidValue, error);
        Assert.Equal("model", r.ErrorParam);
        Assert.Equal(InspectError.None, Inspect($$"""{"model":"{{new string('m', RequestInspector.MaxModelBytes)}}","messages":[{}]}""").Error);
    }

    [Fact]
    public void ReadsTheDeclaredTask()
    {
        var json = """{"model":"m","metadata":{"user":"u","task":"c\u006fde"},"messages":[{}]}""";
        var bytes = Encoding.UTF8.GetBytes(json);
        Assert.Equal(InspectError.None, RequestInspector.Inspect(bytes, ApiOperation.ChatCompletions, out var request));
        Assert.Equal("code", RequestInspector.Task(bytes, request));
        Assert.Equal(InspectError.None, RequestInspector.Inspect("""{"model":"m","metadata":{"task":5},"messages":[{}]}"""u8, ApiOperation.ChatCompletions, out var none));
        Assert.Null(RequestInspector.Task("""{"model":"m","metadata":{"task":5},"messages":[{}]}"""u8, none));
    }

    [Fact]
    public void GathersTheEvidenceTheClassifierReads()
    {
        var openAI = RequestInspector.Evidence("""
            {"model":"m","messages":[{"content":"Be brief.","role":"system"},{"role":"developer","content":[{"type":"text","text":"Use SI units."}]},
             {"role":"user","content":"first"},{"role":"assistant","content":"ok"},{"role":"user","content":[{"type":"text","text":"see"},{"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"```code```"}]}]}
            """u8, hasTools: true);
        Assert.Equal(new TaskEvidence("Be brief.\nUse SI units.", "see\n```code```", true), openAI);

        var anthropic = RequestInspector.Evidence("""
            {"model":"m","max_tokens":5,"system":[{"type":"text","text":"You are a support agent."}],"messages":[{"role":"user","content":"Where is my order?"}]}
            """u8, hasTools: false);
        Assert.Equal(new TaskEvidence("You are a support agent.", "Where is my order?", false), anthropic);
    }

    [Fact]
    public void FindsImagePartsInEitherFormat()
    {
        Assert.True(RequestInspector.HasImages("""
            {"model":"m","messages":[{"role":"user","content":"hi"},{"role":"user","content":[{"type":"text","text":"what is this?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]}]}
            """u8));
        Assert.True(RequestInspector.HasImages("""
            {"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AA=="}}]}]}
            """u8));

        // Text that speaks of images, a tool schema, and string content are not images.
        Assert.False(RequestInspector.HasImages("""
            {"model":"m","tools":[{"type":"function","function":{"name":"f","parameters":{"type":"image"}}}],
             "messages":[{"role":"user","content":"{\"type\":\"image\"}"},{"role":"user","content":[{"type":"text","text":"image_url"}]}]}
            """u8));
    }

    [Fact]
    public void EmbeddingsNeedInput()
    {
        Assert.Equal(InspectError.None, Inspect("""{"model":"e","input":"hello"}""", ApiOperation.Embeddings).Error);
        Assert.Equal(3, Inspect("""{"model":"e","input":["a","b",[1,2]]}""", ApiOperation.Embeddings).Request.ItemCount);
        Assert.Equal(InspectError.MissingField, Inspect("""{"model":"e"}""", ApiOperation.Embeddings).Error);
        Assert.Equal(InspectError.InvalidValue, Inspect("""{"model":"e","input":[]}""", ApiOperation.Embeddings).Error);
        Assert.Equal(InspectError.WrongType, Inspect("""{"model":"e","input":{"x":1}}""", ApiOperation.Embeddings).Error);
    }

    [Fact]
    public void TenMegabyteBodyIsInspected()
    {
        var content = new string('x', 10 * 1024 * 1024);
        var json = $$"""{"messages":[{"role":"user","content":"{{content}}"}],"model":"big","stream":true}""";
        var (error, r) = Inspect(json);
        Assert.Equal(InspectError.None, error);
        Assert.True(r.Stream);
        Assert.Equal("\"big\"", json.Substring(r.ModelStart, r.ModelLength));
    }

    [Fact]
    public void DeepNestingIsRefusedNotCrashed()
    {
        var json = "{\"model\":\"m\",\"messages\":[{\"content\":" + new string('[', 5000) + new string(']', 5000) + "}]}";
        Assert.Equal(InspectError.InvalidJson, Inspect(json).Error);
    }
}
