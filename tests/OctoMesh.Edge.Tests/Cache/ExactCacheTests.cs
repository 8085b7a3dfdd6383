using System.Text.Json.Nodes;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using OctoMesh.Edge.Tests.Hosting;
using OctoMesh.Edge.Tests.Redis;
using OctoMesh.Edge.Tests.Telemetry;

namespace OctoMesh.Edge.Tests.Cache;

/// <summary>The exact cache through the running gateway and the simulator (which counts the calls it gets).</summary>
public class ExactCacheTests
{
    private const string Config = """
        { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}" } }, "models": { "*": { "provider": "sim" } },
          "cache": { "exact": true, "ttlSeconds": 60 } EXTRA }
        """;

    private static async Task<(HttpResponseMessage Response, string Body)> Post(TestGateway test, string body, string path = "/v1/chat/completions",
        params (string Name, string Value)[] headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        var response = await test.Client.SendAsync(request);
        return (response, await response.Content.ReadAsStringAsync());
    }

    private static string Cache(HttpResponseMessage response) => response.Headers.TryGetValues("x-octomesh-cache", out var v) ? v.Single() : "(none)";

    [Fact]
    public async Task ARepeatedRequestIsAnsweredFromTheCacheAsItWasAnswered()
    {
        await using var test = await TestGateway.StartAsync(Config.Replace("EXTRA", ""));
        var (first, firstBody) = await Post(test, """{"model":"sim-small","messages":[{"role":"user","content":"What is 6 * 7?"}]}""");
        Assert.Equal(("miss", 1), (Cache(first), test.Simulator.Stats.ChatCompletions));

        // Same request, other spacing and a user field: the same answer, byte for byte, without an upstream call.
        var (second, secondBody) = await Post(test, """{ "model": "sim-small", "user": "u-2", "messages": [ { "role": "user", "content": "What is 6 * 7?" } ] }""");
        Assert.Equal(("hit-exact", 1), (Cache(second), test.Simulator.Stats.ChatCompletions));
        Assert.Equal(firstBody, secondBody);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal("application/json", second.Content.Headers.ContentType!.MediaType);
        Assert.Equal("sim-small", second.Headers.GetValues("x-octomesh-model").Single());

        // Another question is another answer.
        var (other, _) = await Post(test, """{"model":"sim-small","messages":[{"role":"user","content":"What is 6 * 8?"}]}""");
        Assert.Equal(("miss", 2), (Cache(other), test.Simulator.Stats.ChatCompletions));

        // Streams are kept as streams and replayed whole.
        const string Stream = """{"model":"sim-small","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"What is 6 * 9?"}]}""";
        var (streamed, streamedBody) = await Post(test, Stream);
        Assert.Equal(("miss", 3), (Cache(streamed), test.Simulator.Stats.ChatCompletions));
        var (replayed, replayedBody) = await Post(test, Stream);
        Assert.Equal(("hit-exact", 3), (Cache(replayed), test.Simulator.Stats.ChatCompletions));
        Assert.Equal(streamedBody, replayedBody);
        Assert.Equal("text/event-stream", replayed.Content.Headers.ContentType!.MediaType);
        Assert.EndsWith("data: [DONE]\n\n", replayedBody);

        // Anthropic's API is cached too.
        const string Messages = """{"model":"sim-large","max_tokens":64,"messages":[{"role":"user","content":"Hello"}]}""";
        var (message, messageBody) = await Post(test, Messages, "/v1/messages");
        var (again, againBody) = await Post(test, Messages, "/v1/messages");
        Assert.Equal(("miss", "hit-exact", 4), (Cache(message), Cache(again), test.Simulator.Stats.ChatCompletions));
        Assert.Equal(messageBody, againBody);

        // A hit is counted, and costs nothing.
        var scrape = await Scrape.OfAsync(test);
        Assert.Equal(3, scrape.Sum("octomesh_requests_total", "octomesh_cache=\"hit\""));
        Assert.Equal(4, scrape.Sum("octomesh_requests_total", "octomesh_cache=\"miss\""));
        Assert.Equal(4, scrape.Sum("gen_ai_client_token_usage_count", "gen_ai_token_type=\"input\""));
    }

    [Fact]
    public async Task AnAnswerIsServedInTheShapeTheClientAsksFor()
    {
        await using var test = await TestGateway.StartAsync(Config.Replace("EXTRA", ""));
        static string Chat(string question, string stream) =>
            $$"""{"model":"sim-small",{{stream}}"messages":[{"role":"user","content":"{{question}}"}]}""";
        const string WithUsage = "\"stream\":true,\"stream_options\":{\"include_usage\":true},", Streamed = "\"stream\":true,";

        // Kept as JSON, asked for as a stream (with the usage chunk, then without): the same content in chunks.
        var (_, json) = await Post(test, Chat("Name three colours", ""));
        var (asStream, streamBody) = await Post(test, Chat("Name three colours", WithUsage));
        var (bare, bareBody) = await Post(test, Chat("Name three colours", Streamed));
        Assert.Equal(("hit-exact", "hit-exact", 1), (Cache(asStream), Cache(bare), test.Simulator.Stats.ChatCompletions));
        Assert.Equal("text/event-stream", asStream.Content.Headers.ContentType!.MediaType);
        var message = JsonNode.Parse(json)!;
        var chunks = Chunks(streamBody);
        Assert.Equal(message["choices"]![0]!["message"]!["content"]!.GetValue<string>(), string.Concat(chunks.SelectMany(ContentOf)));
        Assert.Equal("stop", chunks.SelectMany(c => c["choices"]!.AsArray()).Select(c => c!["finish_reason"]?.GetValue<string>()).Last(f => f is not null));
        Assert.Equal(message["usage"]!.ToJsonString(), chunks.Last()["usage"]!.ToJsonString());
        Assert.All(chunks, c => Assert.Equal(message["id"]!.GetValue<string>(), c["id"]!.GetValue<string>()));
        Assert.DoesNotContain("\"usage\":{", bareBody);
        Assert.EndsWith("data: [DONE]\n\n", bareBody);

        // Kept as a stream with usage, asked for as JSON and as a stream without the usage chunk.
        var (_, kept) = await Post(test, Chat("Name three birds", WithUsage));
        var (asJson, jsonBody) = await Post(test, Chat("Name three birds", ""));
        var (withoutUsage, withoutUsageBody) = await Post(test, Chat("Name three birds", Streamed));
        Assert.Equal(("hit-exact", "hit-exact", 2), (Cache(asJson), Cache(withoutUsage), test.Simulator.Stats.ChatCompletions));
        var whole = JsonNode.Parse(jsonBody)!;
        Assert.Equal("chat.completion", whole["object"]!.GetValue<string>());
        Assert.Equal(string.Concat(Chunks(kept).SelectMany(ContentOf)), whole["choices"]![0]!["message"]!["content"]!.GetValue<string>());
        Assert.Equal(Chunks(kept).Last()["usage"]!.ToJsonString(), whole["usage"]!.ToJsonString());
        Assert.DoesNotContain("\"usage\":{", withoutUsageBody);

        // Kept as a stream without usage: a client asking for the usage chunk goes upstream (it cannot be made up).
        await Post(test, Chat("Name three trees", Streamed));
        var (needsUsage, _) = await Post(test, Chat("Name three trees", WithUsage));
        Assert.Equal(("miss", 4), (Cache(needsUsage), test.Simulator.Stats.ChatCompletions));

        // Tool calls survive the change of shape.
        const string Tools = ""","tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]""";
        var (_, called) = await Post(test, Chat("Weather in Oslo?", "").Replace("]}", "]" + Tools + "}"));
        var (calledStream, calledStreamBody) = await Post(test, Chat("Weather in Oslo?", WithUsage).Replace("]}", "]" + Tools + "}"));
        Assert.Equal("hit-exact", Cache(calledStream));
        var call = JsonNode.Parse(called)!["choices"]![0]!["message"]!["tool_calls"]![0]!;
        var streamedCall = Chunks(calledStreamBody)[0]["choices"]![0]!["delta"]!["tool_calls"]![0]!;
        Assert.Equal((call["id"]!.GetValue<string>(), call["function"]!["name"]!.GetValue<string>(), call["function"]!["arguments"]!.GetValue<string>()),
            (streamedCall["id"]!.GetValue<string>(), streamedCall["function"]!["name"]!.GetValue<string>(), streamedCall["function"]!["arguments"]!.GetValue<string>()));

        // Anthropic's API: a message as events, events as a message.
        const string Message = """{"model":"sim-large","max_tokens":64,"messages":[{"role":"user","content":"Say hello"}]}""";
        var (_, messageBody) = await Post(test, Message, "/v1/messages");
        var (events, eventsBody) = await Post(test, Message.Replace("{\"model\"", "{\"stream\":true,\"model\""), "/v1/messages");
        Assert.Equal("hit-exact", Cache(events));
        var text = JsonNode.Parse(messageBody)!["content"]![0]!["text"]!.GetValue<string>();
        var datas = eventsBody.Split('\n').Where(l => l.StartsWith("data: ", StringComparison.Ordinal)).Select(l => JsonNode.Parse(l[6..])!).ToList();
        Assert.Equal(["message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"],
            datas.Select(d => d["type"]!.GetValue<string>()));
        Assert.Equal(text, datas[2]["delta"]!["text"]!.GetValue<string>());
        const string Other = """{"model":"sim-large","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"Say goodbye"}]}""";
        var (_, otherEvents) = await Post(test, Other, "/v1/messages");
        var (otherJson, otherJsonBody) = await Post(test, Other.Replace("\"stream\":true,", ""), "/v1/messages");
        Assert.Equal("hit-exact", Cache(otherJson));
        var rebuilt = JsonNode.Parse(otherJsonBody)!;
        Assert.Equal(string.Concat(otherEvents.Split('\n').Where(l => l.Contains("\"text_delta\"")).Select(l => JsonNode.Parse(l[6..])!["delta"]!["text"]!.GetValue<string>())),
            rebuilt["content"]![0]!["text"]!.GetValue<string>());
        var stopped = otherEvents.Split('\n').Single(l => l.Contains("\"message_delta\"") && l.StartsWith("data: ", StringComparison.Ordinal));
        Assert.Equal(("message", JsonNode.Parse(stopped[6..])!["delta"]!["stop_reason"]!.GetValue<string>()),
            (rebuilt["type"]!.GetValue<string>(), rebuilt["stop_reason"]!.GetValue<string>()));
        Assert.Equal(7, test.Simulator.Stats.ChatCompletions);
    }

    private static List<System.Text.Json.Nodes.JsonNode> Chunks(string stream) =>
        [.. stream.Split('\n').Where(l => l.StartsWith("data: {", StringComparison.Ordinal)).Select(l => JsonNode.Parse(l[6..])!)];

    private static IEnumerable<string> ContentOf(System.Text.Json.Nodes.JsonNode chunk) =>
        chunk["choices"]!.AsArray().Select(c => c!["delta"]?["content"]?.GetValue<string>() ?? "");

    [Fact]
    public async Task ClientsControlTheCacheAndOnlyWholeSuccessfulAnswersAreKept()
    {
        await using var test = await TestGateway.StartAsync(Config.Replace("EXTRA", ""));
        const string Hello = """{"model":"sim-small","messages":[{"role":"user","content":"Hello"}]}""";
        var (bypassed, _) = await Post(test, Hello, headers: ("x-octomesh-cache", "off"));
        Assert.Equal(("bypass", 1), (Cache(bypassed), test.Simulator.Stats.ChatCompletions));
        // no-store: looked up, not kept.
        var (unstored, _) = await Post(test, Hello, headers: ("Cache-Control", "no-store"));
        var (stillMissing, _) = await Post(test, Hello, headers: ("Cache-Control", "no-cache"));
        Assert.Equal(("miss", "miss", 3), (Cache(unstored), Cache(stillMissing), test.Simulator.Stats.ChatCompletions));
        // no-cache: not looked up, but the fresh answer is kept for the next one.
        var (hit, _) = await Post(test, Hello);
        Assert.Equal(("hit-exact", 3), (Cache(hit), test.Simulator.Stats.ChatCompletions));

        // Failures, errors and cut streams are never kept.
        foreach (var model in new[] { "fail-500", "fail-429", "fail-cut:2", "fail-stream-error:2" })
        {
            var body = $$"""{"model":"{{model}}","stream":{{(model.Contains(':') ? "true" : "false")}},"messages":[{"role":"user","content":"Hello"}]}""";
            var (failed, _) = await Post(test, body);
            var (again, _) = await Post(test, body);
            Assert.True((Cache(failed), Cache(again)) == ("miss", "miss"), $"{model}: {Cache(failed)}, {Cache(again)}");
        }
        var (invalid, _) = await Post(test, """{"model":"sim-small","messages":"nope"}""");
        Assert.Equal((HttpStatusCode.BadRequest, "(none)"), (invalid.StatusCode, Cache(invalid)));
    }

    [Fact]
    public async Task WorkspacesDoNotShareAnswersUnlessConfiguredTo()
    {
        var a = Convert.ToHexString(SHA256.HashData("om-a"u8)).ToLowerInvariant();
        var b = Convert.ToHexString(SHA256.HashData("om-b"u8)).ToLowerInvariant();
        var keys = $$""", "clientKeys": [ { "name": "a", "sha256": "{{a}}", "workspace": "team-a" }, { "name": "b", "sha256": "{{b}}", "workspace": "team-b" } ]""";
        const string Hello = """{"model":"sim-small","messages":[{"role":"user","content":"Hello"}]}""";

        // Both workspaces chose the cache (a workspace's answers are kept only by its choice).
        var optedIn = Config.Replace("EXTRA", """, "workspaces": [ { "name": "team-a", "content": "cache" }, { "name": "team-b", "content": "cache" } ]EXTRA""");
        await using (var separate = await TestGateway.StartAsync(optedIn.Replace("EXTRA", keys)))
        {
            var (fromA, _) = await Post(separate, Hello, headers: ("Authorization", "Bearer om-a"));
            var (fromB, _) = await Post(separate, Hello, headers: ("Authorization", "Bearer om-b"));
            var (againA, _) = await Post(separate, Hello, headers: ("Authorization", "Bearer om-a"));
            Assert.Equal(("miss", "miss", "hit-exact", 2), (Cache(fromA), Cache(fromB), Cache(againA), separate.Simulator.Stats.ChatCompletions));
        }
        await using var shared = await TestGateway.StartAsync(optedIn.Replace("\"ttlSeconds\": 60", "\"ttlSeconds\": 60, \"sharedAcrossWorkspaces\": true").Replace("EXTRA", keys));
        var (sharedA, _) = await Post(shared, Hello, headers: ("Authorization", "Bearer om-a"));
        var (sharedB, _) = await Post(shared, Hello, headers: ("Authorization", "Bearer om-b"));
        Assert.Equal(("miss", "hit-exact", 1), (Cache(sharedA), Cache(sharedB), shared.Simulator.Stats.ChatCompletions));
    }

    [Fact]
    public async Task ConcurrentIdenticalRequestsMakeOneUpstreamCall()
    {
        await using var test = await TestGateway.StartAsync(Config.Replace("EXTRA", ""));
        // The simulator waits 300 ms before answering, so the 50 requests overlap.
        const string Slow = """{"model":"slow-300","messages":[{"role":"user","content":"Everyone asks this at once"}]}""";
        var answers = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => Post(test, Slow)));
        Assert.Equal(1, test.Simulator.Stats.ChatCompletions);
        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.Response.StatusCode));
        Assert.Single(answers.Select(a => a.Body).Distinct());
        Assert.Equal((1, 49), (answers.Count(a => Cache(a.Response) == "miss"), answers.Count(a => Cache(a.Response) == "hit-exact")));

        // Streams too: the followers get the leader's stream.
        const string SlowStream = """{"model":"slow-300","stream":true,"messages":[{"role":"user","content":"Everyone streams this at once"}]}""";
        var streams = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Post(test, SlowStream)));
        Assert.Equal(2, test.Simulator.Stats.ChatCompletions);
        Assert.Single(streams.Select(a => a.Body).Distinct());
        Assert.All(streams, a => Assert.EndsWith("data: [DONE]\n\n", a.Body));

        // A leader that gets no answer to keep lets its followers go their own way, and none waits forever.
        const string Failing = """{"model":"fail-500","messages":[{"role":"user","content":"Doomed"}]}""";
        var failures = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Post(test, Failing)));
        Assert.All(failures, a => Assert.Equal(HttpStatusCode.InternalServerError, a.Response.StatusCode));
    }

    [Fact]
    public async Task StreamFollowersAreSentTheLeadersStreamAsItComes()
    {
        await using var test = await TestGateway.StartAsync(Config.Replace("EXTRA", ""));
        // 20 chunks 100 ms apart: the leader's stream lasts about two seconds.
        const string Body = """{"model":"sim-small","stream":true,"messages":[{"role":"user","content":"A long story, please"}]}""";
        HttpRequestMessage Request()
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(Body, Encoding.UTF8, "application/json") };
            request.Headers.Add("x-sim-tpot-ms", "100");
            request.Headers.Add("x-sim-tokens", "20");
            return request;
        }
        using var leader = await test.Client.SendAsync(Request(), HttpCompletionOption.ResponseHeadersRead);
        var leaderStream = new StreamReader(await leader.Content.ReadAsStreamAsync());
        Assert.StartsWith("data: ", await leaderStream.ReadLineAsync());
        var leaderRest = leaderStream.ReadToEndAsync();

        // A follower arriving now gets the first events while the leader's stream is still going.
        using var follower = await test.Client.SendAsync(Request(), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("hit-exact", Cache(follower));
        var followerStream = new StreamReader(await follower.Content.ReadAsStreamAsync());
        var firstLine = await followerStream.ReadLineAsync();
        Assert.False(leaderRest.IsCompleted, "the follower waited for the whole answer");
        var followerBody = firstLine + "\n" + await followerStream.ReadToEndAsync();
        Assert.Equal(1, test.Simulator.Stats.ChatCompletions);
        Assert.EndsWith("data: [DONE]\n\n", followerBody);
        Assert.EndsWith(await leaderRest, followerBody);
    }

    [Fact]
    public async Task AnAdminPurgesAWorkspacesAnswersAndClientsChooseHowLongOneIsKept()
    {
        var admin = Convert.ToHexString(SHA256.HashData("admin-secret"u8)).ToLowerInvariant();
        var a = Convert.ToHexString(SHA256.HashData("om-a"u8)).ToLowerInvariant();
        var b = Convert.ToHexString(SHA256.HashData("om-b"u8)).ToLowerInvariant();
        await using var test = await TestGateway.StartAsync(Config.Replace("EXTRA", $$"""
            , "workspaces": [ { "name": "team-a", "content": "cache" }, { "name": "team-b", "content": "cache" } ],
              "adminKeys": [ { "name": "ops", "sha256": "{{admin}}" } ],
              "clientKeys": [ { "name": "a", "sha256": "{{a}}", "workspace": "team-a" }, { "name": "b", "sha256": "{{b}}", "workspace": "team-b" } ]
            """));
        const string Hello = """{"model":"sim-small","messages":[{"role":"user","content":"Hello"}]}""";
        await Post(test, Hello, headers: ("Authorization", "Bearer om-a"));
        await Post(test, Hello, headers: ("Authorization", "Bearer om-b"));

        async Task<HttpResponseMessage> Purge(string query, string key = "admin-secret")
        {
            var request = new HttpRequestMessage(HttpMethod.Delete, "/admin/cache" + query);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            return await test.Client.SendAsync(request);
        }
        Assert.Equal(HttpStatusCode.Unauthorized, (await Purge("?workspace=team-a", "om-a")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Purge("")).StatusCode);
        using var purged = await Purge("?workspace=team-a");
        Assert.Equal("""{"purged":"team-a"}""", await purged.Content.ReadAsStringAsync());

        var (fromA, _) = await Post(test, Hello, headers: ("Authorization", "Bearer om-a"));
        var (fromB, _) = await Post(test, Hello, headers: ("Authorization", "Bearer om-b"));
        Assert.Equal(("miss", "hit-exact"), (Cache(fromA), Cache(fromB)));
        Assert.Equal(HttpStatusCode.OK, (await Purge("?all=true")).StatusCode);
        var (afterAll, _) = await Post(test, Hello, headers: ("Authorization", "Bearer om-b"));
        Assert.Equal("miss", Cache(afterAll));

        // A one-second life, asked for by the client.
        const string Brief = """{"model":"sim-small","messages":[{"role":"user","content":"Brief"}]}""";
        await Post(test, Brief, headers: [("Authorization", "Bearer om-a"), ("x-octomesh-cache-ttl", "1")]);
        var (soon, _) = await Post(test, Brief, headers: ("Authorization", "Bearer om-a"));
        Assert.Equal("hit-exact", Cache(soon));
        await Task.Delay(1500);
        var (later, _) = await Post(test, Brief, headers: ("Authorization", "Bearer om-a"));
        Assert.Equal("miss", Cache(later));
    }

    [Fact]
    public async Task ReplicasShareAnswersThroughRedisAndCarryOnWithoutIt()
    {
        await using var redis = await RedisServer.StartAsync();
        var admin = Convert.ToHexString(SHA256.HashData("admin-secret"u8)).ToLowerInvariant();
        var config = Config.Replace("EXTRA", $$""", "adminKeys": [ { "name": "ops", "sha256": "{{admin}}" } ], "redis": {{redis.Section(500)}}""");
        await using var a = await TestGateway.StartAsync(config);
        await using var b = await TestGateway.StartAsync(config);
        // Answers, not FusionCache's own entries (the timestamps of tags and clears).
        async Task<int> Answers() => (await redis.CliAsync("--scan", "--pattern", "octomesh:answer:*")).Count(key => !key.Contains("__fc:", StringComparison.Ordinal));
        const string Hello = """{"model":"sim-small","messages":[{"role":"user","content":"Hello from replica A"}]}""";

        var (first, firstBody) = await Post(a, Hello);
        Assert.Equal("miss", Cache(first));
        // A keeps the answer in Redis as well, without making its client wait for that.
        for (var i = 0; i < 100 && await Answers() < 1; i++)
        {
            await Task.Delay(20);
        }
        var (fromB, fromBBody) = await Post(b, Hello);
        Assert.Equal(("hit-exact", 0), (Cache(fromB), b.Simulator.Stats.ChatCompletions));
        Assert.Equal(firstBody, fromBBody);

        // A purge on B empties Redis and, over the backplane and pub/sub, A's memory too.
        var purge = new HttpRequestMessage(HttpMethod.Delete, "/admin/cache?all=true");
        purge.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "admin-secret");
        Assert.Equal(HttpStatusCode.OK, (await b.Client.SendAsync(purge)).StatusCode);
        Assert.Equal(0, await Answers());
        await Task.Delay(300);
        var (afterPurge, _) = await Post(a, Hello);
        Assert.Equal(("miss", 2), (Cache(afterPurge), a.Simulator.Stats.ChatCompletions));
        for (var i = 0; i < 100 && await Answers() < 1; i++)
        {
            await Task.Delay(20);
        }

        // Redis goes away: nothing fails; misses go upstream, and each replica still answers from its own memory.
        await redis.KillAsync();
        const string Other = """{"model":"sim-small","messages":[{"role":"user","content":"Asked while Redis is down"}]}""";
        var (missed, _) = await Post(a, Other);
        var (again, _) = await Post(a, Other);
        var (stillA, _) = await Post(a, Hello);
        Assert.Equal((HttpStatusCode.OK, "miss", "hit-exact", "hit-exact"), (missed.StatusCode, Cache(missed), Cache(again), Cache(stillA)));
        Assert.True((await Scrape.OfAsync(a)).Sum("octomesh_cache_redis_errors_total") > 0);
    }

    [Fact]
    public async Task WithoutTheCacheNothingChanges()
    {
        await using var test = await TestGateway.StartAsync();
        const string Hello = """{"model":"sim-small","messages":[{"role":"user","content":"Hello"}]}""";
        var (first, _) = await Post(test, Hello);
        var (second, _) = await Post(test, Hello);
        Assert.Equal(("(none)", "(none)", 2), (Cache(first), Cache(second), test.Simulator.Stats.ChatCompletions));
    }
}
