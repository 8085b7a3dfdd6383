using System.Text;
using System.Text.Json;
using OctoMesh.Edge.Wire;
using OctoMesh.Edge.Providers;

namespace OctoMesh.Edge.Tests.Providers;

public class UpstreamBodyPlanTests
{
    private static async Task<(string Body, bool Strip)> Rewrite(string json, string? upstreamModel)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        Assert.Equal(InspectError.None, RequestInspector.Inspect(bytes, ApiOperation.ChatCompletions, out var request));
        var edits = new BodyEdit[2];
        var modelJson = upstreamModel is null ? null : Encoding.UTF8.GetBytes(JsonSerializer.Serialize(upstreamModel, TestJson.Default.String));
        var count = UpstreamBodyPlan.Build(request, modelJson, askForUsage: true, edits, out var strip);
        using var content = new SplicedContent(bytes, edits, count);
        var spliced = await content.ReadAsByteArrayAsync();
        Assert.Equal(spliced.Length, content.Headers.ContentLength);
        Assert.Equal("application/json", content.Headers.ContentType?.MediaType);
        return (Encoding.UTF8.GetString(spliced), strip);
    }

    [Theory]
    [InlineData("""{"model":"fast","messages":[{}]}""", """{"model":"gpt-4o-mini","messages":[{}]}""", false)]
    [InlineData("""{"model":"fast","messages":[{}],"stream":true}""", """{"model":"gpt-4o-mini","messages":[{}],"stream":true,"stream_options":{"include_usage":true}}""", true)]
    [InlineData("""{"stream":true,"messages":[{}],"stream_options":null,"model":"fast"}""", """{"stream":true,"messages":[{}],"stream_options":{"include_usage":true},"model":"gpt-4o-mini"}""", true)]
    [InlineData("""{"stream":true,"stream_options":{},"model":"fast","messages":[{}]}""", """{"stream":true,"stream_options":{"include_usage":true},"model":"gpt-4o-mini","messages":[{}]}""", true)]
    [InlineData("""{"stream":true,"stream_options":{"include_obfuscation":false},"model":"fast","messages":[{}]}""", """{"stream":true,"stream_options":{"include_usage":true,"include_obfuscation":false},"model":"gpt-4o-mini","messages":[{}]}""", true)]
    [InlineData("""{"model":"fast","stream":true,"stream_options":{"include_usage":false},"messages":[{}]}""", """{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{}]}""", true)]
    [InlineData("""{"model":"fast","stream":true,"stream_options":{"include_usage":true},"messages":[{}]}""", """{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{}]}""", false)]
    public async Task SplicesModelAndUsageRequest(string input, string expected, bool strip)
    {
        var (body, stripUsage) = await Rewrite(input, "gpt-4o-mini");
        Assert.Equal(expected, body);
        Assert.Equal(strip, stripUsage);
        using var _ = JsonDocument.Parse(body);
    }

    [Fact]
    public async Task PassThroughWhenNothingChanges()
    {
        const string json = """{ "model" : "same", "messages" : [ {"role":"user","content":"é 🦑"} ] }""";
        Assert.Equal((json, false), await Rewrite(json, null));
    }
}
