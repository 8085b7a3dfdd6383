using System.Net;
using System.Text;
using System.Text.Json;
using OctoMesh.Edge.Tests.Hosting;

namespace OctoMesh.Edge.Tests.Providers;

/// <summary>
/// One set of scenarios, run against every provider adapter with the simulator speaking that
/// provider's wire format. The client side is always OpenAI's format: whatever the upstream, an
/// OpenAI client must see the same shapes, finish reasons, tool calls and exact usage.
/// </summary>
public class ConformanceTests
{
    /// <summary>Every adapter, over plain http and over https (the simulator's certificate trusted through the provider's <c>caFile</c>).</summary>
    public static TheoryData<string, string> Adapters => new()
    {
        { "openai-compatible", "http" }, { "azure-openai", "http" }, { "anthropic", "http" }, { "gemini", "http" },
        { "openai-compatible", "https" }, { "azure-openai", "https" }, { "anthropic", "https" }, { "gemini", "https" },
    };

    private static Task<TestGateway> Start(string kind, string scheme = "http") => TestGateway.StartAsync($$"""
        {
          "providers": { "up": { "kind": "{{kind}}", "baseUrl": "{{kind switch { "azure-openai" => "{SIMROOT}", "gemini" => "{SIMGEMINI}", _ => "{SIM}" }}}", "apiKey": "${SIM_KEY}"{{(scheme == "https" ? ", \"caFile\": \"{CAFILE}\"" : "")}} } },
          "models": { "m": { "provider": "up", "model": "sim-large" } }
        }
        """, https: scheme == "https");

    private static async Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> Post(TestGateway test, string json, params (string, string)[] headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        var response = await test.Client.SendAsync(request);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (response.StatusCode, document.RootElement.Clone(), response);
    }

    /// <summary>A streamed answer, reassembled as an OpenAI client does.</summary>
    private sealed record Streamed(string Content, string? FinishReason, List<(string? Id, string Name, string Arguments)> ToolCalls,
        JsonElement? Usage, bool Done, JsonElement? Error, int Chunks);

    private static async Task<Streamed> Stream(TestGateway test, string json, params (string, string)[] headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        using var response = await test.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync();

        var content = new StringBuilder();
        string? finish = null;
        var calls = new List<(string? Id, string Name, string Arguments)>();
        JsonElement? usage = null, error = null;
        var done = false;
        var chunks = 0;
        foreach (var sseEvent in text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            Assert.StartsWith("data: ", sseEvent);
            var data = sseEvent["data: ".Length..];
            if (data == "[DONE]")
            {
                done = true;
                continue;
            }
            chunks++;
            var chunk = JsonDocument.Parse(data).RootElement;
            if (chunk.TryGetProperty("error", out var e))
            {
                error = e.Clone();
                continue;
            }
            Assert.Equal("chat.completion.chunk", chunk.GetProperty("object").GetString());
            if (chunk.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object)
            {
                usage = u.Clone();
            }
            foreach (var choice in chunk.GetProperty("choices").EnumerateArray())
            {
                var delta = choice.GetProperty("delta");
                if (delta.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String)
                {
                    content.Append(c.GetString());
                }
                if (delta.TryGetProperty("tool_calls", out var toolCalls))
                {
                    foreach (var call in toolCalls.EnumerateArray())
                    {
                        var index = call.GetProperty("index").GetInt32();
                        while (calls.Count <= index)
                        {
                            calls.Add((null, "", ""));
                        }
                        var (id, name, arguments) = calls[index];
                        if (call.TryGetProperty("id", out var i)) id = i.GetString();
                        if (call.TryGetProperty("function", out var f))
                        {
                            if (f.TryGetProperty("name", out var n)) name += n.GetString();
                            if (f.TryGetProperty("arguments", out var a)) arguments += a.GetString();
                        }
                        calls[index] = (id, name, arguments);
                    }
                }
                if (choice.TryGetProperty("finish_reason", out var fr) && fr.ValueKind == JsonValueKind.String)
                {
                    finish = fr.GetString();
                }
            }
        }
        return new Streamed(content.ToString(), finish, calls, usage, done, error, chunks);
    }

    private const string Tools = """
        "tools":[
          {"type":"function","function":{"name":"get_weather","description":"Weather for a city","parameters":{"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string","enum":["c","f"]}},"required":["city","unit"]}}},
          {"type":"function","function":{"name":"get_time","parameters":{"type":"object","properties":{"zone":{"type":"string"}},"required":["zone"]}}}
        ]
        """;

    [Theory]
    [MemberData(nameof(Adapters))]
    public async Task PlainTextAndItsStreamAgree(string kind, string scheme)
    {
        await using var test = await Start(kind, scheme);
        const string ask = """{"model":"m","messages":[{"role":"user","content":"What is 17 + 25?"}]}""";
        var (status, body, _) = await Post(test, ask);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("chat.completion", body.GetProperty("object").GetString());
        Assert.Equal("sim-large", body.GetProperty("model").GetString());
        var message = body.GetProperty("choices")[0].GetProperty("message");
        Assert.Equal("assistant", message.GetProperty("role").GetString());
        Assert.StartsWith("The answer is ", message.GetProperty("content").GetString());
        Assert.Equal("stop", body.GetProperty("choices")[0].GetProperty("finish_reason").GetString());

        var streamed = await Stream(test, ask.Replace("\"m\",", "\"m\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"));
        Assert.True(streamed.Done);
        Assert.Equal(message.GetProperty("content").GetString(), streamed.Content);
        Assert.Equal("stop", streamed.FinishReason);
        Assert.Equal(body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32(), streamed.Usage?.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(body.GetProperty("usage").GetProperty("completion_tokens").GetInt32(), streamed.Usage?.GetProperty("completion_tokens").GetInt32());

        var plain = await Stream(test, ask.Replace("\"m\",", "\"m\",\"stream\":true,"));
        Assert.Null(plain.Usage);
        Assert.Equal(streamed.Content, plain.Content);
    }

    [Theory]
    [MemberData(nameof(Adapters))]
    public async Task SystemPromptReachesTheUpstream(string kind, string scheme)
    {
        await using var test = await Start(kind, scheme);
        var (status, _, _) = await Post(test, """{"model":"m","messages":[{"role":"system","content":"Answer like a pirate."},{"role":"user","content":"Hello"}]}""");
        Assert.Equal(HttpStatusCode.OK, status);
        using var upstream = JsonDocument.Parse(test.Simulator.Stats.LastChatRequest!.Body);
        var system = kind switch
        {
            "anthropic" => upstream.RootElement.GetProperty("system").GetString(),
            "gemini" => upstream.RootElement.GetProperty("systemInstruction").GetProperty("parts")[0].GetProperty("text").GetString(),
            _ => upstream.RootElement.GetProperty("messages")[0].GetProperty("content").GetString(),
        };
        Assert.Equal("Answer like a pirate.", system);
    }

    [Theory]
    [MemberData(nameof(Adapters))]
    public async Task SingleToolCallStreamedAndNot(string kind, string scheme)
    {
        await using var test = await Start(kind, scheme);
        var ask = $$"""{"model":"m","messages":[{"role":"user","content":"Weather in Oslo?"}],{{Tools}}}""";
        var (_, body, _) = await Post(test, ask);
        var choice = body.GetProperty("choices")[0];
        Assert.Equal("tool_calls", choice.GetProperty("finish_reason").GetString());
        var call = Assert.Single(choice.GetProperty("message").GetProperty("tool_calls").EnumerateArray());
        Assert.Equal("function", call.GetProperty("type").GetString());
        Assert.Equal("get_weather", call.GetProperty("function").GetProperty("name").GetString());
        var arguments = call.GetProperty("function").GetProperty("arguments").GetString()!;
        using (var parsed = JsonDocument.Parse(arguments))
        {
            Assert.True(parsed.RootElement.TryGetProperty("city", out _));
            Assert.Contains(parsed.RootElement.GetProperty("unit").GetString(), new[] { "c", "f" });
        }

        var streamed = await Stream(test, ask.Replace("\"m\",", "\"m\",\"stream\":true,"));
        Assert.Equal("tool_calls", streamed.FinishReason);
        var streamedCall = Assert.Single(streamed.ToolCalls);
        Assert.Equal(call.GetProperty("id").GetString(), streamedCall.Id);
        Assert.Equal("get_weather", streamedCall.Name);
        Assert.Equal(arguments, streamedCall.Arguments);
    }

    [Theory]
    [MemberData(nameof(Adapters))]
    public async Task ParallelToolCalls(string kind, string scheme)
    {
        await using var test = await Start(kind, scheme);
        var ask = $$"""{"model":"m","messages":[{"role":"user","content":"Weather and time in Oslo, in parallel please"}],{{Tools}}}""";
        var (_, body, _) = await Post(test, ask);
        var calls = body.GetProperty("choices")[0].GetProperty("message").GetProperty("tool_calls");
        Assert.Equal(["get_weather", "get_time"], calls.EnumerateArray().Select(c => c.GetProperty("function").GetProperty("name").GetString()));

        var streamed = await Stream(test, ask.Replace("\"m\",", "\"m\",\"stream\":true,"));
        Assert.Equal(["get_weather", "get_time"], streamed.ToolCalls.Select(c => c.Name));
        Assert.Equal(calls.EnumerateArray().Select(c => c.GetProperty("function").GetProperty("arguments").GetString()), streamed.ToolCalls.Select(c => c.Arguments));

        if (kind != "gemini") // Gemini has no switch for parallel calls (docs/providers.md)
        {
            var (_, serial, _) = await Post(test, ask.Replace("\"m\",", "\"m\",\"parallel_tool_calls\":false,"));
            Assert.Single(serial.GetProperty("choices")[0].GetProperty("message").GetProperty("tool_calls").EnumerateArray());
        }
    }

    [Theory]
    [MemberData(nameof(Adapters))]
    public async Task MultiTurnWithToolResults(string kind, string scheme)
    {
        await using var test = await Start(kind, scheme);
        var ask = $$$"""
            {"model":"m","messages":[
              {"role":"user","content":"Weather in Oslo?"},
              {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\",\"unit\":\"c\"}"}}]},
              {"role":"tool","tool_call_id":"call_1","content":"{\"temp\":3}"}
            ],{{{Tools}}}}
            """;
        var (status, body, _) = await Post(test, ask);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("stop", body.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.StartsWith("Thanks, the tool result is in", body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        if (kind == "gemini")
        {
            using var upstream = JsonDocument.Parse(test.Simulator.Stats.LastChatRequest!.Body);
            var contents = upstream.RootElement.GetProperty("contents");
            Assert.Equal("model", contents[1].GetProperty("role").GetString());
            Assert.Equal("Oslo", contents[1].GetProperty("parts")[0].GetProperty("functionCall").GetProperty("args").GetProperty("city").GetString());
            Assert.Equal("get_weather", contents[2].GetProperty("parts")[0].GetProperty("functionResponse").GetProperty("name").GetString());
            Assert.Equal(3, contents[2].GetProperty("parts")[0].GetProperty("functionResponse").GetProperty("response").GetProperty("temp").GetInt32());
        }
        if (kind == "anthropic")
        {
            using var upstream = JsonDocument.Parse(test.Simulator.Stats.LastChatRequest!.Body);
            var messages = upstream.RootElement.GetProperty("messages");
            Assert.Equal("tool_use", messages[1].GetProperty("content")[0].GetProperty("type").GetString());
            Assert.Equal("Oslo", messages[1].GetProperty("content")[0].GetProperty("input").GetProperty("city").GetString());
            Assert.Equal("tool_result", messages[2].GetProperty("content")[0].GetProperty("type").GetString());
            Assert.Equal("call_1", messages[2].GetProperty("content")[0].GetProperty("tool_use_id").GetString());
        }
    }

    [Theory]
    [MemberData(nameof(Adapters))]
    public async Task StopSequencesAndMaxTokens(string kind, string scheme)
    {
        await using var test = await Start(kind, scheme);
        var (_, stopped, _) = await Post(test, """{"model":"m","stop":[" simulated"],"messages":[{"role":"user","content":"Hello"}]}""");
        Assert.Equal("This is a", stopped.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        Assert.Equal("stop", stopped.GetProperty("choices")[0].GetProperty("finish_reason").GetString());

        var (_, limited, _) = await Post(test, """{"model":"m","max_tokens":3,"messages":[{"role":"user","content":"Hello"}]}""");
        Assert.Equal("length", limited.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(3, limited.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        var streamed = await Stream(test, """{"model":"m","stream":true,"max_completion_tokens":3,"messages":[{"role":"user","content":"Hello"}]}""");
        Assert.Equal("length", streamed.FinishReason);
        Assert.Equal("This is a", streamed.Content);
    }

    [Theory]
    [MemberData(nameof(Adapters))]
    public async Task UnicodeAndEmojiSurviveChunking(string kind, string scheme)
    {
        await using var test = await Start(kind, scheme);
        const string text = "naïve café — 日本語のテキスト 🦑🐙 «quotes» \"escaped\" \\ back\\slash\ttab";
        var ask = JsonSerializer.Serialize(text, TestJson.Default.String);
        var streamed = await Stream(test, $$"""{"model":"m","stream":true,"messages":[{"role":"user","content":{{ask}}}]}""", ("x-sim-echo", "1"));
        Assert.Equal(text, streamed.Content);
        var (_, body, _) = await Post(test, $$"""{"model":"m","messages":[{"role":"user","content":{{ask}}}]}""", ("x-sim-echo", "1"));
        Assert.Equal(text, body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
    }

    [Theory]
    [MemberData(nameof(Adapters))]
    public async Task EmptyContentIsAnswered(string kind, string scheme)
    {
        await using var test = await Start(kind, scheme);
        var (status, body, _) = await Post(test, """{"model":"m","messages":[{"role":"user","content":""},{"role":"assistant","content":""},{"role":"user","content":"Hello"}]}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("stop", body.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Theory]
    [MemberData(nameof(Adapters))]
    public async Task UsageIsExactWithCachedAndReasoningTokens(string kind, string scheme)
    {
        await using var test = await Start(kind, scheme);
        const string ask = """{"model":"m","messages":[{"role":"user","content":"Summarise the quarterly report for the board."}]}""";
        (string, string)[] knobs = [("x-sim-cached-tokens", "4"), ("x-sim-cache-write-tokens", "2"), ("x-sim-reasoning-tokens", "3"), ("x-sim-tokens", "9")];
        var (_, body, _) = await Post(test, ask, knobs);
        var usage = body.GetProperty("usage");
        // The simulator's rule: 3 + (3 + 8 tokens); OpenAI counts cache reads and writes inside prompt_tokens,
        // and reasoning inside completion_tokens. Anthropic reports no reasoning count.
        var reasoning = kind == "anthropic" ? 0 : 3;
        Assert.Equal(14, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(9 + reasoning, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(23 + reasoning, usage.GetProperty("total_tokens").GetInt32());
        Assert.Equal(4, usage.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32());
        Assert.Equal(reasoning, usage.GetProperty("completion_tokens_details").GetProperty("reasoning_tokens").GetInt32());

        var streamed = await Stream(test, ask.Replace("\"m\",", "\"m\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"), knobs);
        Assert.Equal(usage.GetRawText(), streamed.Usage?.GetRawText());
    }

    [Theory]
    [MemberData(nameof(Adapters))]
    public async Task UpstreamErrorsArriveInOpenAIShape(string kind, string scheme)
    {
        await using var test = await Start(kind, scheme);
        const string ask = """{"model":"m","messages":[{"role":"user","content":"Hello"}]}""";
        // A provider's 401 is about the gateway's key: the client gets a 502 that quotes nothing of it.
        foreach (var (fault, status, code) in new[] { ("400", 400, (string?)null), ("401", 502, "upstream_auth_failed"), ("429", 429, "rate_limit_exceeded"), ("500", 500, null) })
        {
            var (actual, body, response) = await Post(test, ask, ("x-sim-fault", fault), ("x-sim-retry-after", "4"));
            Assert.Equal(status, (int)actual);
            var error = body.GetProperty("error");
            Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
            Assert.Equal(code, error.GetProperty("code").GetString());
            if (status == 429)
            {
                Assert.Equal("4", response.Headers.GetValues("retry-after").Single());
            }
        }
        // Overloaded: OpenAI's 503 passes through; Anthropic's 529 becomes the 503 OpenAI clients know.
        var (overloaded, overloadedBody, _) = await Post(test, ask, ("x-sim-fault", "503"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, overloaded);
        Assert.Equal("server_error", overloadedBody.GetProperty("error").GetProperty("type").GetString());
    }

    [Theory]
    [MemberData(nameof(Adapters))]
    public async Task ErrorInsideAStreamEndsItWithAnErrorEvent(string kind, string scheme)
    {
        await using var test = await Start(kind, scheme);
        var streamed = await Stream(test, """{"model":"m","stream":true,"messages":[{"role":"user","content":"Hello"}]}""", ("x-sim-fault", "stream-error:3"));
        Assert.False(streamed.Done);
        Assert.NotNull(streamed.Error);
        Assert.Equal("server_error", streamed.Error!.Value.GetProperty("type").GetString());
        Assert.False(string.IsNullOrEmpty(streamed.Content));
    }

    [Fact]
    public async Task AnHttpsProviderWhoseCertificateIsNotTrustedIsNeverSentTheRequest()
    {
        // The simulator's certificate is signed by the tests' CA, which this provider does not name.
        await using var test = await TestGateway.StartAsync("""
            { "providers": { "up": { "kind": "openai-compatible", "baseUrl": "{SIM}", "apiKey": "${SIM_KEY}" } }, "models": { "m": { "provider": "up", "model": "sim-large" } } }
            """, https: true);
        var (status, body, _) = await Post(test, """{"model":"m","messages":[{"role":"user","content":"hi"}]}""");
        Assert.Equal(HttpStatusCode.BadGateway, status);
        Assert.Equal("upstream_unreachable", body.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(0, test.Simulator.Stats.ChatCompletions);
    }

    [Fact]
    public async Task AzureIsAddressedByDeploymentWithItsOwnKeyHeader()
    {
        await using var test = await Start("azure-openai");
        var (status, _, _) = await Post(test, """{"model":"m","messages":[{"role":"user","content":"Hello"}]}""", ("authorization", "Bearer client-key"));
        Assert.Equal(HttpStatusCode.OK, status);
        var upstream = test.Simulator.Stats.LastChatRequest!;
        Assert.Equal("/openai/deployments/sim-large/chat/completions?api-version=2024-10-21", upstream.Target);
        Assert.Equal(TestGateway.ProviderKey, upstream.Headers["api-key"]);
        Assert.False(upstream.Headers.ContainsKey("authorization"));
    }

    [Fact]
    public async Task StreamUsageCanBeTurnedOffForServersWithoutStreamOptions()
    {
        await using var test = await TestGateway.StartAsync("""
            { "providers": { "old": { "kind": "openai-compatible", "baseUrl": "{SIM}", "streamUsage": false } }, "models": { "*": { "provider": "old" } } }
            """);
        var streamed = await Stream(test, """{"model":"m","stream":true,"messages":[{"role":"user","content":"Hello"}]}""");
        Assert.True(streamed.Done);
        Assert.Null(streamed.Usage);
        Assert.DoesNotContain("stream_options", test.Simulator.Stats.LastChatRequest!.Body);
    }

    [Fact]
    public async Task AnthropicRefusesWhatItCannotDo()
    {
        await using var test = await Start("anthropic");
        var (status, body, _) = await Post(test, """{"model":"m","n":2,"messages":[{"role":"user","content":"Hello"}]}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("Anthropic models return one choice: 'n' must be 1.", body.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal("unsupported_by_provider", body.GetProperty("error").GetProperty("code").GetString());

        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/embeddings") { Content = new StringContent("""{"model":"m","input":"x"}""", Encoding.UTF8, "application/json") };
        using var embeddings = await test.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, embeddings.StatusCode);
        Assert.Equal(0, test.Simulator.Stats.ChatCompletions);
    }

    [Theory]
    [MemberData(nameof(Adapters))]
    public async Task FieldsOfTheWrongTypeAreRefusedNotCrashed(string kind, string scheme)
    {
        await using var test = await Start(kind, scheme);
        foreach (var ask in new[]
        {
            """{"model":"m","messages":[{"role":"user","content":["not a part object"]}]}""",
            """{"model":"m","n":1.5,"messages":[{"role":"user","content":"x"}]}""",
            """{"model":"m","response_format":"json","messages":[{"role":"user","content":"x"}]}""",
            """{"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function"}]},{"role":"user","content":"x"}]}""",
        })
        {
            var (status, body, _) = await Post(test, ask);
            // Pass-through upstreams judge such requests themselves; translation must refuse them plainly.
            Assert.True(status is HttpStatusCode.OK or HttpStatusCode.BadRequest, $"{kind}: {status} for {ask}");
            if (status == HttpStatusCode.BadRequest)
            {
                Assert.Equal(JsonValueKind.String, body.GetProperty("error").GetProperty("message").ValueKind);
            }
        }
    }

    [Fact]
    public async Task AzureDeploymentNamesCannotLeaveTheirPathSegment()
    {
        await using var test = await TestGateway.StartAsync("""
            { "providers": { "az": { "kind": "azure-openai", "baseUrl": "{SIMROOT}", "apiKey": "${SIM_KEY}" } }, "models": { "*": { "provider": "az" } } }
            """);
        var (status, body, _) = await Post(test, """{"model":"..","messages":[{"role":"user","content":"x"}]}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.StartsWith("'..' is not an Azure OpenAI deployment name", body.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(0, test.Simulator.Stats.ChatCompletions);
    }

    [Theory]
    [MemberData(nameof(Adapters))]
    public async Task ClientThatLeavesCancelsTheUpstreamCall(string kind, string scheme)
    {
        await using var test = await Start(kind, scheme);
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent("""{"model":"m","stream":true,"messages":[{"role":"user","content":"Hello"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.TryAddWithoutValidation("x-sim-tokens", "1000");
        request.Headers.TryAddWithoutValidation("x-sim-tpot-ms", "20");
        using (var response = await test.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
            var stream = await response.Content.ReadAsStreamAsync();
            Assert.True(await stream.ReadAsync(new byte[64]) > 0);
        }
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (test.Simulator.Stats.Aborted == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }
        Assert.Equal(1, test.Simulator.Stats.Aborted);
    }
}
