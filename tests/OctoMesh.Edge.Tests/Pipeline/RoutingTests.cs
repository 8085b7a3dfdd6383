using System.Net;
using System.Text;
using System.Text.Json;
using OctoMesh.Edge.Tests.Hosting;

namespace OctoMesh.Edge.Tests.Pipeline;

/// <summary>Routes through the running gateway: matching, fallback before the first byte, and never after it.</summary>
public class RoutingTests
{
    private static async Task<HttpResponseMessage> Post(TestGateway test, string body, params (string Name, string Value)[] headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        return await test.Client.SendAsync(request);
    }

    private const string Hello = """{"model":"chat","messages":[{"role":"user","content":"Hello"}]}""";

    [Theory]
    [InlineData("fail-500")]
    [InlineData("fail-503")]
    [InlineData("fail-429")]
    [InlineData("fail-reset")]
    public async Task FailingTargetGivesWayToTheNext(string failing)
    {
        await using var test = await TestGateway.StartAsync($$"""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}" } },
              "routes": [ { "name": "chat-route", "match": { "model": "chat" }, "targets": [ { "provider": "sim", "model": "{{failing}}" }, { "provider": "sim", "model": "sim-small" } ] } ] }
            """);
        using var response = await Post(test, Hello);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("chat-route", response.Headers.GetValues("x-octomesh-route").Single());
        Assert.Equal("sim-small", response.Headers.GetValues("x-octomesh-model").Single());
        Assert.Equal(2, test.Simulator.Stats.ChatCompletions);
    }

    [Fact]
    public async Task UnreachableTargetGivesWayAndTheLastFailureIsTheAnswer()
    {
        using var dead = Programs.DeadPort();
        var port = dead.Port;
        await using var test = await TestGateway.StartAsync($$"""
            { "providers": { "gone": { "kind": "openai-compatible", "baseUrl": "http://127.0.0.1:{{port}}/v1" }, "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}" } },
              "routes": [
                { "name": "fallback", "match": { "model": "chat" }, "targets": [ { "provider": "gone", "model": "x" }, { "provider": "sim", "model": "sim-small" } ] },
                { "name": "doomed", "match": { "model": "doomed" }, "targets": [ { "provider": "gone", "model": "x" }, { "provider": "sim", "model": "fail-500" } ] }
              ] }
            """);
        using var rescued = await Post(test, Hello);
        Assert.Equal(HttpStatusCode.OK, rescued.StatusCode);
        Assert.Equal("sim-small", rescued.Headers.GetValues("x-octomesh-model").Single());

        using var doomed = await Post(test, Hello.Replace("\"chat\"", "\"doomed\""));
        Assert.Equal(HttpStatusCode.InternalServerError, doomed.StatusCode);
        Assert.Contains("server_error", await doomed.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task NothingIsRetriedAfterTheFirstByte()
    {
        await using var test = await TestGateway.StartAsync("""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}" } },
              "routes": [ { "name": "r", "match": { "model": "chat" }, "targets": [ { "provider": "sim", "model": "sim-small" }, { "provider": "sim", "model": "sim-large" } ] } ] }
            """);
        using var response = await Post(test, Hello.Replace("\"chat\",", "\"chat\",\"stream\":true,"), ("x-sim-fault", "cut:2"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        Assert.EndsWith("\"code\":\"upstream_stream_cut\"}}\n\n", text);
        Assert.Equal(1, test.Simulator.Stats.ChatCompletions);
    }

    [Fact]
    public async Task RoutesMatchTaskWorkspaceAndHeadersBeforeAliases()
    {
        var hash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData("key-a"u8)).ToLowerInvariant();
        await using var test = await TestGateway.StartAsync($$"""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}" } },
              "clientKeys": [ { "name": "a", "sha256": "{{hash}}", "workspace": "team-a" } ],
              "routes": [
                { "name": "code", "match": { "model": "chat", "task": "code" }, "targets": [ { "provider": "sim", "model": "sim-large" } ] },
                { "name": "gold", "match": { "model": "chat", "workspace": "team-a", "headers": { "x-tier": "gold" } }, "targets": [ { "provider": "sim", "model": "sim-medium" } ] }
              ],
              "models": { "chat": { "provider": "sim", "model": "sim-small" } } }
            """);
        (string, string) key = ("authorization", "Bearer key-a");

        using var code = await Post(test, Hello, key, ("x-octomesh-task", "code"));
        Assert.Equal(("code", "sim-large"), (code.Headers.GetValues("x-octomesh-route").Single(), code.Headers.GetValues("x-octomesh-model").Single()));
        Assert.Equal("code", code.Headers.GetValues("x-octomesh-task").Single());
        using var declared = await Post(test, Hello.Replace("\"chat\",", "\"chat\",\"metadata\":{\"user\":\"u\",\"task\":\"code\"},"), key);
        Assert.Equal("code", declared.Headers.GetValues("x-octomesh-route").Single());
        using var gold = await Post(test, Hello, key, ("x-tier", "gold"));
        Assert.Equal("gold", gold.Headers.GetValues("x-octomesh-route").Single());
        using var plain = await Post(test, Hello, key);
        Assert.False(plain.Headers.Contains("x-octomesh-route"));
        Assert.Equal("sim-small", plain.Headers.GetValues("x-octomesh-model").Single());
        using var document = JsonDocument.Parse(await plain.Content.ReadAsStringAsync());
        Assert.Equal("sim-small", document.RootElement.GetProperty("model").GetString());
    }

    [Fact]
    public async Task RetriesTheSameTargetThenFallsBack()
    {
        await using var test = await TestGateway.StartAsync("""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}" } },
              "routes": [
                { "name": "retry-then-give-up", "match": { "model": "chat" }, "retry": { "attempts": 2, "backoffMs": 1, "maxBackoffMs": 1000 },
                  "targets": [ { "provider": "sim", "model": "fail-429" } ] },
                { "name": "too-long-to-wait", "match": { "model": "patient" }, "retry": { "attempts": 2, "backoffMs": 1, "maxBackoffMs": 1000 },
                  "targets": [ { "provider": "sim", "model": "fail-429" }, { "provider": "sim", "model": "sim-small" } ] },
                { "name": "alone", "match": { "model": "alone" }, "retry": { "attempts": 2, "backoffMs": 1, "maxBackoffMs": 1000 },
                  "targets": [ { "provider": "sim", "model": "fail-429" } ] }
              ] }
            """);
        // retry-after 0: three tries of the one target, and its 429 is the answer.
        using var exhausted = await Post(test, Hello, ("x-sim-retry-after", "0"));
        Assert.Equal(HttpStatusCode.TooManyRequests, exhausted.StatusCode);
        Assert.Equal(3, test.Simulator.Stats.ChatCompletions);

        // The provider asks for 60 s, more than the policy waits: the next target answers at once.
        using var moved = await Post(test, Hello.Replace("\"chat\"", "\"patient\""), ("x-sim-retry-after", "60"));
        Assert.Equal(HttpStatusCode.OK, moved.StatusCode);
        Assert.Equal("sim-small", moved.Headers.GetValues("x-octomesh-model").Single());
        Assert.Equal(5, test.Simulator.Stats.ChatCompletions);

        // The only target asks for longer than the policy waits, and there is no other: a clear 502, not silence.
        using var alone = await Post(test, Hello.Replace("\"chat\"", "\"alone\""), ("x-sim-retry-after", "60"));
        Assert.Equal(HttpStatusCode.BadGateway, alone.StatusCode);
        Assert.Contains("upstream_unavailable", await alone.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task AnOpenBreakerSkipsItsTarget()
    {
        await using var test = await TestGateway.StartAsync("""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}" } },
              "routes": [ { "name": "r", "match": { "model": "chat" }, "breaker": { "failures": 2, "openMs": 600000 },
                            "targets": [ { "provider": "sim", "model": "fail-500" }, { "provider": "sim", "model": "sim-small" } ] } ] }
            """);
        for (var i = 0; i < 2; i++)
        {
            using var response = await Post(test, Hello);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        Assert.Equal(4, test.Simulator.Stats.ChatCompletions);
        // Two failures in a row opened the first target's breaker: now only the second is asked.
        using var skipped = await Post(test, Hello);
        Assert.Equal(HttpStatusCode.OK, skipped.StatusCode);
        Assert.Equal(5, test.Simulator.Stats.ChatCompletions);
        Assert.False(test.Gateway.Runtimes.Current.Routes.Routes[0].Health[0].IsAvailable);
    }

    [Fact]
    public async Task RequestsWithImagesTakeTheirOwnRoute()
    {
        await using var test = await TestGateway.StartAsync("""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}" } },
              "routes": [ { "name": "vision", "match": { "model": "chat", "images": true }, "targets": [ { "provider": "sim", "model": "sim-large" } ] },
                          { "name": "text", "match": { "model": "chat" }, "targets": [ { "provider": "sim", "model": "sim-small" } ] } ] }
            """);
        using var picture = await Post(test, """
            {"model":"chat","messages":[{"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]}]}
            """);
        Assert.Equal(HttpStatusCode.OK, picture.StatusCode);
        Assert.Equal(("vision", "sim-large"), (picture.Headers.GetValues("x-octomesh-route").Single(), picture.Headers.GetValues("x-octomesh-model").Single()));

        using var words = await Post(test, Hello);
        Assert.Equal("text", words.Headers.GetValues("x-octomesh-route").Single());
    }

    [Fact]
    public async Task AFullTargetIsPassedOverAndAFullRouteAnswers503()
    {
        await using var test = await TestGateway.StartAsync("""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}" } },
              "routes": [
                { "name": "overflow", "match": { "model": "chat" }, "targets": [ { "provider": "sim", "model": "slow-3000", "maxConcurrency": 1 }, { "provider": "sim", "model": "sim-small" } ] },
                { "name": "solo", "match": { "model": "solo" }, "targets": [ { "provider": "sim", "model": "slow-3000", "maxConcurrency": 1 } ] }
              ] }
            """);
        var routes = test.Gateway.Runtimes.Current.Routes.Routes;
        var first = Post(test, Hello);
        var solo = Post(test, Hello.Replace("\"chat\"", "\"solo\""));
        // Wait until each slow request holds its target's one place.
        for (var i = 0; i < 500 && (routes[0].Health[0].InFlight == 0 || routes[1].Health[0].InFlight == 0); i++)
        {
            await Task.Delay(10);
        }
        Assert.Equal((1, 1), (routes[0].Health[0].InFlight, routes[1].Health[0].InFlight));

        using var overflow = await Post(test, Hello);
        Assert.Equal(HttpStatusCode.OK, overflow.StatusCode);
        Assert.Equal("sim-small", overflow.Headers.GetValues("x-octomesh-model").Single());

        using var full = await Post(test, Hello.Replace("\"chat\"", "\"solo\""));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, full.StatusCode);
        Assert.Equal("1", full.Headers.GetValues("retry-after").Single());
        Assert.Contains("route_busy", await full.Content.ReadAsStringAsync());

        using var a = await first;
        using var b = await solo;
        Assert.Equal(("slow-3000", "slow-3000"), (a.Headers.GetValues("x-octomesh-model").Single(), b.Headers.GetValues("x-octomesh-model").Single()));
        Assert.Equal((0, 0), (routes[0].Health[0].InFlight, routes[1].Health[0].InFlight));
    }

    [Fact]
    public async Task TheClassifierDetectsUndeclaredTasks()
    {
        await using var test = await TestGateway.StartAsync("""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}" } },
              "tasks": [ { "name": "code", "markers": ["```"], "in": "user" } ],
              "routes": [ { "name": "code", "match": { "model": "chat", "task": "code" }, "targets": [ { "provider": "sim", "model": "sim-large" } ] },
                          { "name": "other", "match": { "model": "chat" }, "targets": [ { "provider": "sim", "model": "sim-small" } ] } ] }
            """);
        using var code = await Post(test, """{"model":"chat","messages":[{"role":"user","content":"Why does this fail?\n```py\nprint(1/0)\n```"}]}""");
        Assert.Equal(("code", "code", "sim-large"), (code.Headers.GetValues("x-octomesh-route").Single(), code.Headers.GetValues("x-octomesh-task").Single(),
            code.Headers.GetValues("x-octomesh-model").Single()));

        using var prose = await Post(test, Hello);
        Assert.Equal("other", prose.Headers.GetValues("x-octomesh-route").Single());
        Assert.False(prose.Headers.Contains("x-octomesh-task"));

        // A declared task wins over the rules.
        using var declared = await Post(test, """{"model":"chat","messages":[{"role":"user","content":"```"}]}""", ("x-octomesh-task", "prose"));
        Assert.Equal("other", declared.Headers.GetValues("x-octomesh-route").Single());
    }

    [Fact]
    public async Task ASlowTargetGivesWayAndTheRouteDeadlineHolds()
    {
        await using var test = await TestGateway.StartAsync("""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}", "timeouts": { "firstByteMs": 300 } },
                             "lenient": { "kind": "openai-compatible", "baseUrl": "{SIM}", "timeouts": { "firstByteMs": 60000 } } },
              "routes": [
                { "name": "slow-then-fast", "match": { "model": "chat" }, "targets": [ { "provider": "sim", "model": "slow-10000" }, { "provider": "sim", "model": "sim-small" } ] },
                { "name": "impatient", "match": { "model": "impatient" }, "targets": [ { "provider": "lenient", "model": "slow-10000", "firstByteMs": 200 }, { "provider": "sim", "model": "sim-small" } ] },
                { "name": "all-slow", "match": { "model": "patient" }, "deadlineMs": 500, "retry": { "attempts": 3, "backoffMs": 1, "maxBackoffMs": 10 },
                  "targets": [ { "provider": "sim", "model": "slow-10000" } ] }
              ] }
            """);
        using var rescued = await Post(test, Hello);
        Assert.Equal(HttpStatusCode.OK, rescued.StatusCode);
        Assert.Equal("sim-small", rescued.Headers.GetValues("x-octomesh-model").Single());

        // A target's own first-byte limit on the route, shorter than its provider's.
        using var impatient = await Post(test, Hello.Replace("\"chat\"", "\"impatient\""));
        Assert.Equal(HttpStatusCode.OK, impatient.StatusCode);
        Assert.Equal("sim-small", impatient.Headers.GetValues("x-octomesh-model").Single());

        // Each try times out after its 300 ms first-byte wait; the 500 ms deadline ends the retries with a 504.
        using var late = await Post(test, Hello.Replace("\"chat\"", "\"patient\""));
        Assert.True(late.StatusCode == HttpStatusCode.GatewayTimeout, $"{late.StatusCode} {string.Join(",", late.Headers.Select(h => h.Key + "=" + string.Join("|", h.Value)))} {await late.Content.ReadAsStringAsync()}");
        var body = await late.Content.ReadAsStringAsync();
        Assert.True(body.Contains("route_deadline") || body.Contains("upstream_timeout"), body);
    }

    [Fact]
    public async Task ASlowNonStreamedCallIsHedgedAndTheLoserAbandoned()
    {
        await using var test = await TestGateway.StartAsync("""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}" } },
              "routes": [
                { "name": "hedged", "match": { "model": "chat" }, "hedgeAfterMs": 100,
                  "targets": [ { "provider": "sim", "model": "slow-1500" }, { "provider": "sim", "model": "sim-small" } ] },
                { "name": "quick", "match": { "model": "quick" }, "hedgeAfterMs": 10000,
                  "targets": [ { "provider": "sim", "model": "sim-small" }, { "provider": "sim", "model": "sim-large" } ] }
              ] }
            """);
        var routes = test.Gateway.Runtimes.Current.Routes.Routes;

        // The first target is still silent after 100 ms: the second is sent the request too and its answer wins.
        using var hedged = await Post(test, Hello);
        Assert.Equal(HttpStatusCode.OK, hedged.StatusCode);
        Assert.Equal("sim-small", hedged.Headers.GetValues("x-octomesh-model").Single());
        Assert.Contains("\"finish_reason\"", await hedged.Content.ReadAsStringAsync());
        Assert.Equal(2, test.Simulator.Stats.ChatCompletions);
        // The slow send was cancelled, not left to finish: the simulator saw its caller go.
        for (var i = 0; i < 100 && test.Simulator.Stats.Aborted == 0; i++)
        {
            await Task.Delay(20);
        }
        Assert.Equal(1, test.Simulator.Stats.Aborted);
        Assert.Equal((0, 0), (routes[0].Health[0].InFlight, routes[0].Health[1].InFlight));
        // A hedge that lost says nothing about the target's health: nothing recorded as a failure.
        Assert.Equal((0, 1), (routes[0].Health[0].Observations, routes[0].Health[1].Observations));

        // A streamed call is never hedged: it waits for the first target.
        using var streamed = await Post(test, """{"model":"chat","stream":true,"messages":[{"role":"user","content":"Hello"}]}""");
        Assert.Equal(HttpStatusCode.OK, streamed.StatusCode);
        Assert.Equal("slow-1500", streamed.Headers.GetValues("x-octomesh-model").Single());
        Assert.Equal(3, test.Simulator.Stats.ChatCompletions);

        // A first target that answers in time is the only one asked.
        using var quick = await Post(test, Hello.Replace("\"chat\"", "\"quick\""));
        Assert.Equal("sim-small", quick.Headers.GetValues("x-octomesh-model").Single());
        Assert.Equal(4, test.Simulator.Stats.ChatCompletions);
    }

    [Fact]
    public async Task AHedgedRouteStillFailsOverWhenItsFirstTargetFailsFast()
    {
        await using var test = await TestGateway.StartAsync("""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}" } },
              "routes": [
                { "name": "hedged", "match": { "model": "chat" }, "hedgeAfterMs": 5000,
                  "targets": [ { "provider": "sim", "model": "fail-503" }, { "provider": "sim", "model": "sim-small" } ] },
                { "name": "doomed", "match": { "model": "doomed" }, "hedgeAfterMs": 100,
                  "targets": [ { "provider": "sim", "model": "slow-300" }, { "provider": "sim", "model": "fail-500" } ] }
              ] }
            """);
        using var rescued = await Post(test, Hello);
        Assert.Equal(HttpStatusCode.OK, rescued.StatusCode);
        Assert.Equal("sim-small", rescued.Headers.GetValues("x-octomesh-model").Single());

        // The hedge fails first; the slow first target is then waited for and answers.
        using var slow = await Post(test, Hello.Replace("\"chat\"", "\"doomed\""));
        Assert.Equal(HttpStatusCode.OK, slow.StatusCode);
        Assert.Equal("slow-300", slow.Headers.GetValues("x-octomesh-model").Single());
    }
}
