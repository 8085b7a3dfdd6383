using System.Net;
using System.Text;
using System.Text.Json;
using OctoMesh.Edge.Tests.Hosting;

namespace OctoMesh.Edge.Tests.Providers;

/// <summary>
/// The Anthropic-format front door (<c>/v1/messages</c>) over every provider kind: Anthropic upstreams
/// by pass-through, OpenAI-format upstreams by translation, Gemini by translation through OpenAI's format. An Anthropic client must see Anthropic's
/// shapes, event sequence, stop reasons, tool use, usage and errors either way.
/// </summary>
public class MessagesConformanceTests
{
    public static TheoryData<string> Upstreams => new() { "anthropic", "openai-compatible", "gemini" };

    private static Task<TestGateway> Start(string kind) => TestGateway.StartAsync($$"""
        {
          "providers": { "up": { "kind": "{{kind}}", "baseUrl": "{{(kind == "gemini" ? "{SIMGEMINI}" : "{SIM}")}}", "apiKey": "${SIM_KEY}" } },
          "models": { "claude-x": { "provider": "up", "model": "sim-large" } }
        }
        """);

    private static HttpRequestMessage Request(string json, params (string, string)[] headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.TryAddWithoutValidation("anthropic-version", "2023-06-01");
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        return request;
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> Post(TestGateway test, string json, params (string, string)[] headers)
    {
        var response = await test.Client.SendAsync(Request(json, headers));
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (response.StatusCode, document.RootElement.Clone(), response);
    }

    /// <summary>A stream, reassembled as the Anthropic SDK's MessageStream does.</summary>
    private sealed record Streamed(List<string> Events, string Text, List<(string Id, string Name, string Input)> Tools, string? StopReason,
        int InputTokens, int CacheRead, int OutputTokens, JsonElement? Error);

    private static async Task<Streamed> Stream(TestGateway test, string json, params (string, string)[] headers)
    {
        using var response = await test.Client.SendAsync(Request(json, headers));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = new List<string>();
        var text = new StringBuilder();
        var tools = new List<(string Id, string Name, string Input)>();
        string? stop = null;
        int input = 0, cacheRead = 0, output = 0;
        JsonElement? error = null;
        foreach (var sseEvent in (await response.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            var lines = sseEvent.Split('\n');
            var name = lines[0]["event: ".Length..];
            var data = JsonDocument.Parse(lines[1]["data: ".Length..]).RootElement;
            Assert.Equal(name, data.GetProperty("type").GetString());
            events.Add(name);
            switch (name)
            {
                case "message_start":
                    var usage = data.GetProperty("message").GetProperty("usage");
                    input = usage.GetProperty("input_tokens").GetInt32();
                    cacheRead = usage.GetProperty("cache_read_input_tokens").GetInt32();
                    break;
                case "content_block_start" when data.GetProperty("content_block").GetProperty("type").GetString() == "tool_use":
                    var block = data.GetProperty("content_block");
                    tools.Add((block.GetProperty("id").GetString()!, block.GetProperty("name").GetString()!, ""));
                    break;
                case "content_block_delta":
                    var delta = data.GetProperty("delta");
                    if (delta.GetProperty("type").GetString() == "text_delta")
                    {
                        text.Append(delta.GetProperty("text").GetString());
                    }
                    else
                    {
                        tools[^1] = tools[^1] with { Input = tools[^1].Input + delta.GetProperty("partial_json").GetString() };
                    }
                    break;
                case "message_delta":
                    stop = data.GetProperty("delta").GetProperty("stop_reason").GetString();
                    var final = data.GetProperty("usage");
                    output = final.GetProperty("output_tokens").GetInt32();
                    if (final.TryGetProperty("input_tokens", out var i)) input = i.GetInt32();
                    if (final.TryGetProperty("cache_read_input_tokens", out var c)) cacheRead = c.GetInt32();
                    break;
                case "error":
                    error = data.GetProperty("error").Clone();
                    break;
            }
        }
        return new Streamed(events, text.ToString(), tools, stop, input, cacheRead, output, error);
    }

    private const string Tools = """
        "tools":[{"name":"get_weather","description":"Weather for a city","input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}]
        """;

    [Theory]
    [MemberData(nameof(Upstreams))]
    public async Task TextAndItsStreamAgree(string kind)
    {
        await using var test = await Start(kind);
        const string ask = """{"model":"claude-x","max_tokens":100,"messages":[{"role":"user","content":"What is 17 + 25?"}]}""";
        var (status, body, _) = await Post(test, ask);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("message", body.GetProperty("type").GetString());
        Assert.Equal("assistant", body.GetProperty("role").GetString());
        Assert.Equal("sim-large", body.GetProperty("model").GetString());
        var text = body.GetProperty("content")[0].GetProperty("text").GetString()!;
        Assert.StartsWith("The answer is ", text);
        Assert.Equal("end_turn", body.GetProperty("stop_reason").GetString());

        var streamed = await Stream(test, ask.Replace("\"max_tokens\":100,", "\"max_tokens\":100,\"stream\":true,"));
        Assert.Equal("message_start", streamed.Events[0]);
        Assert.Equal(["content_block_stop", "message_delta", "message_stop"], streamed.Events[^3..]);
        Assert.Equal(text, streamed.Text);
        Assert.Equal("end_turn", streamed.StopReason);
        var usage = body.GetProperty("usage");
        Assert.Equal(usage.GetProperty("input_tokens").GetInt32(), streamed.InputTokens);
        Assert.Equal(usage.GetProperty("output_tokens").GetInt32(), streamed.OutputTokens);
    }

    [Theory]
    [MemberData(nameof(Upstreams))]
    public async Task ToolUseStreamedAndNot(string kind)
    {
        await using var test = await Start(kind);
        var ask = $$"""{"model":"claude-x","max_tokens":100,"messages":[{"role":"user","content":"Weather in Oslo?"}],{{Tools}}}""";
        var (_, body, _) = await Post(test, ask);
        Assert.Equal("tool_use", body.GetProperty("stop_reason").GetString());
        var use = body.GetProperty("content").EnumerateArray().Single(b => b.GetProperty("type").GetString() == "tool_use");
        Assert.Equal("get_weather", use.GetProperty("name").GetString());
        Assert.Equal(JsonValueKind.String, use.GetProperty("input").GetProperty("city").ValueKind);

        var streamed = await Stream(test, ask.Replace("\"max_tokens\":100,", "\"max_tokens\":100,\"stream\":true,"));
        Assert.Equal("tool_use", streamed.StopReason);
        var (id, name, input) = Assert.Single(streamed.Tools);
        Assert.Equal(use.GetProperty("id").GetString(), id);
        Assert.Equal("get_weather", name);
        Assert.Equal(use.GetProperty("input").GetRawText(), JsonDocument.Parse(input).RootElement.GetRawText());
    }

    [Theory]
    [MemberData(nameof(Upstreams))]
    public async Task ToolResultsAndSystemPrompt(string kind)
    {
        await using var test = await Start(kind);
        var ask = $$$"""
            {"model":"claude-x","max_tokens":100,"system":"Be terse.","messages":[
              {"role":"user","content":"Weather in Oslo?"},
              {"role":"assistant","content":[{"type":"text","text":"Checking."},{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Oslo"}}]},
              {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"3 C"}]}
            ],{{{Tools}}}}
            """;
        var (status, body, _) = await Post(test, ask);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("end_turn", body.GetProperty("stop_reason").GetString());
        Assert.StartsWith("Thanks, the tool result is in", body.GetProperty("content")[0].GetProperty("text").GetString());

        using var upstream = JsonDocument.Parse(test.Simulator.Stats.LastChatRequest!.Body);
        if (kind == "anthropic")
        {
            Assert.Equal("Be terse.", upstream.RootElement.GetProperty("system").GetString());
        }
        else if (kind == "gemini")
        {
            Assert.Equal("Be terse.", upstream.RootElement.GetProperty("systemInstruction").GetProperty("parts")[0].GetProperty("text").GetString());
            Assert.Equal("get_weather", upstream.RootElement.GetProperty("contents")[2].GetProperty("parts")[0].GetProperty("functionResponse").GetProperty("name").GetString());
        }
        else
        {
            var messages = upstream.RootElement.GetProperty("messages");
            Assert.Equal("system", messages[0].GetProperty("role").GetString());
            Assert.Equal("toolu_1", messages[2].GetProperty("tool_calls")[0].GetProperty("id").GetString());
            Assert.Equal("{\"city\":\"Oslo\"}", messages[2].GetProperty("tool_calls")[0].GetProperty("function").GetProperty("arguments").GetString());
            Assert.Equal("tool", messages[3].GetProperty("role").GetString());
            Assert.Equal("toolu_1", messages[3].GetProperty("tool_call_id").GetString());
        }
    }

    [Theory]
    [MemberData(nameof(Upstreams))]
    public async Task StopSequencesMaxTokensAndUnicode(string kind)
    {
        await using var test = await Start(kind);
        var (_, stopped, _) = await Post(test, """{"model":"claude-x","max_tokens":100,"stop_sequences":[" simulated"],"messages":[{"role":"user","content":"Hello"}]}""");
        Assert.Equal("This is a", stopped.GetProperty("content")[0].GetProperty("text").GetString());

        var (_, limited, _) = await Post(test, """{"model":"claude-x","max_tokens":3,"messages":[{"role":"user","content":"Hello"}]}""");
        Assert.Equal("max_tokens", limited.GetProperty("stop_reason").GetString());
        Assert.Equal(3, limited.GetProperty("usage").GetProperty("output_tokens").GetInt32());

        const string text = "naïve café — 日本語 🦑🐙 \"quoted\" \\ slash";
        var echoed = await Stream(test, $$"""{"model":"claude-x","max_tokens":100,"stream":true,"messages":[{"role":"user","content":{{JsonSerializer.Serialize(text, TestJson.Default.String)}}}]}""",
            ("x-sim-echo", "1"));
        Assert.Equal(text, echoed.Text);
    }

    [Theory]
    [MemberData(nameof(Upstreams))]
    public async Task CachedTokensAreReportedApart(string kind)
    {
        await using var test = await Start(kind);
        const string ask = """{"model":"claude-x","max_tokens":100,"messages":[{"role":"user","content":"Summarise the quarterly report for the board."}]}""";
        var (_, body, _) = await Post(test, ask, ("x-sim-cached-tokens", "4"), ("x-sim-tokens", "9"));
        var usage = body.GetProperty("usage");
        Assert.Equal(10, usage.GetProperty("input_tokens").GetInt32());
        Assert.Equal(4, usage.GetProperty("cache_read_input_tokens").GetInt32());
        Assert.Equal(9, usage.GetProperty("output_tokens").GetInt32());
        var streamed = await Stream(test, ask.Replace("\"max_tokens\":100,", "\"max_tokens\":100,\"stream\":true,"), ("x-sim-cached-tokens", "4"), ("x-sim-tokens", "9"));
        Assert.Equal((10, 4, 9), (streamed.InputTokens, streamed.CacheRead, streamed.OutputTokens));
    }

    [Theory]
    [MemberData(nameof(Upstreams))]
    public async Task ErrorsArriveInAnthropicShape(string kind)
    {
        await using var test = await Start(kind);
        const string ask = """{"model":"claude-x","max_tokens":100,"messages":[{"role":"user","content":"Hello"}]}""";
        foreach (var (fault, status, type) in new[] { ("400", 400, "invalid_request_error"), ("401", 502, "api_error"), ("429", 429, "rate_limit_error"), ("500", 500, "api_error") })
        {
            var (actual, body, response) = await Post(test, ask, ("x-sim-fault", fault), ("x-sim-retry-after", "4"));
            Assert.Equal(status, (int)actual);
            Assert.Equal("error", body.GetProperty("type").GetString());
            Assert.Equal(type, body.GetProperty("error").GetProperty("type").GetString());
            if (status == 429)
            {
                Assert.Equal("4", response.Headers.GetValues("retry-after").Single());
            }
        }
        var (overloaded, overloadedBody, _) = await Post(test, ask, ("x-sim-fault", "529"));
        Assert.Equal(kind == "anthropic" ? 529 : 503, (int)overloaded);
        Assert.Equal("overloaded_error", overloadedBody.GetProperty("error").GetProperty("type").GetString());

        var (missing, missingBody, _) = await Post(test, """{"model":"claude-x","messages":[{"role":"user","content":"Hello"}]}""");
        Assert.Equal(HttpStatusCode.BadRequest, missing);
        Assert.Equal("Missing required parameter: 'max_tokens'.", missingBody.GetProperty("error").GetProperty("message").GetString());
        var (nullMax, nullMaxBody, _) = await Post(test, """{"model":"claude-x","max_tokens":null,"messages":[{"role":"user","content":"Hello"}]}""");
        Assert.Equal(HttpStatusCode.BadRequest, nullMax);
        Assert.Equal("Invalid 'max_tokens': expected a positive integer.", nullMaxBody.GetProperty("error").GetProperty("message").GetString());
        var (badBlock, _, _) = await Post(test, """{"model":"claude-x","max_tokens":5,"messages":[{"role":"user","content":[42]}]}""");
        Assert.True(badBlock is HttpStatusCode.BadRequest, $"{kind}: {badBlock}");
        var (unknown, unknownBody, _) = await Post(test, """{"model":"nope","max_tokens":5,"messages":[{"role":"user","content":"Hello"}]}""");
        Assert.Equal(HttpStatusCode.NotFound, unknown);
        Assert.Equal("not_found_error", unknownBody.GetProperty("error").GetProperty("type").GetString());

        var streamed = await Stream(test, ask.Replace("\"max_tokens\":100,", "\"max_tokens\":100,\"stream\":true,"), ("x-sim-fault", "stream-error:3"));
        Assert.Equal("error", streamed.Events[^1]);
        Assert.NotNull(streamed.Error);
        Assert.DoesNotContain("message_stop", streamed.Events);
    }

    [Theory]
    [MemberData(nameof(Upstreams))]
    public async Task CountTokensComesFromAnthropicOnly(string kind)
    {
        await using var test = await Start(kind);
        const string messages = "\"messages\":[{\"role\":\"user\",\"content\":\"Summarise the quarterly report for the board.\"}]";
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages/count_tokens")
        {
            Content = new StringContent($$"""{"model":"claude-x",{{messages}}}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.TryAddWithoutValidation("anthropic-version", "2023-06-01");
        using var response = await test.Client.SendAsync(request);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        if (kind == "anthropic")
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var (_, message, _) = await Post(test, $$"""{"model":"claude-x","max_tokens":10,{{messages}}}""");
            Assert.Equal(message.GetProperty("usage").GetProperty("input_tokens").GetInt32(), body.RootElement.GetProperty("input_tokens").GetInt32());
        }
        else
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("invalid_request_error", body.RootElement.GetProperty("error").GetProperty("type").GetString());
            Assert.Equal("count_tokens is answered by Anthropic providers only, and the model's provider 'up' is not one.",
                body.RootElement.GetProperty("error").GetProperty("message").GetString());
            Assert.Equal(0, test.Simulator.Stats.ChatCompletions);
        }
    }
}
