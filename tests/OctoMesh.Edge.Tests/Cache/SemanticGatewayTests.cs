using System.Security.Cryptography;
using System.Text;
using OctoMesh.Edge.Tests.Hosting;
using OctoMesh.Edge.Tests.Redis;
using OctoMesh.Edge.Tests.Telemetry;

namespace OctoMesh.Edge.Tests.Cache;

/// <summary>The semantic cache through the running gateway and the simulator (which counts the calls it gets).</summary>
public class SemanticGatewayTests
{
    private static readonly string s_config = $$"""
        { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}" } }, "models": { "*": { "provider": "sim" } },
          "adminKeys": [ { "name": "ops", "sha256": "{{Sha256("admin-secret")}}" } ],
          "clientKeys": [ { "name": "a", "sha256": "{{Sha256("sk-a")}}", "workspace": "a" }, { "name": "b", "sha256": "{{Sha256("sk-b")}}", "workspace": "b" } ],
          "workspaces": [ { "name": "a", "content": "cache" }, { "name": "b", "content": "cache" } ],
          "cache": { "exact": true, "ttlSeconds": 60, "semantic": { "embedder": "hash" } } }
        """;

    private static string Sha256(string key) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key))).ToLowerInvariant();

    private static string Chat(string question, string system = "You are a support bot.", bool stream = false) =>
        $$"""{"model":"sim-small","stream":{{(stream ? "true" : "false")}},"messages":[{"role":"system","content":"{{system}}"},{"role":"user","content":"{{question}}"}]}""";

    private static async Task<(string Cache, string? Similarity, string Body)> Post(TestGateway test, string body, string key = "sk-a",
        string path = "/v1/chat/completions", string? mode = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new("Bearer", key);
        if (mode is not null)
        {
            request.Headers.Add("x-octomesh-cache", mode);
        }
        var response = await test.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        return (response.Headers.GetValues("x-octomesh-cache").Single(),
            response.Headers.TryGetValues("x-octomesh-cache-similarity", out var s) ? s.Single() : null, text);
    }

    [Fact]
    public async Task AQuestionThatMeansTheSameIsAnsweredFromTheCache()
    {
        await using var test = await TestGateway.StartAsync(s_config);
        var (first, _, answer) = await Post(test, Chat("Where can I find my invoices?"));
        Assert.Equal(("miss", 1), (first, test.Simulator.Stats.ChatCompletions));

        // Another wording of the same question: the first answer, with how similar the questions were.
        var (near, similarity, nearAnswer) = await Post(test, Chat("where do i find my invoice??"));
        Assert.Equal(("hit-semantic", 1), (near, test.Simulator.Stats.ChatCompletions));
        Assert.Equal(answer, nearAnswer);
        Assert.InRange(double.Parse(similarity!, System.Globalization.CultureInfo.InvariantCulture), 0.66, 1);

        // Close in words but another question (the guards), another conversation, another workspace, or the client
        // asking for exact matches only: each goes upstream.
        Assert.Equal("miss", (await Post(test, Chat("Where can I not find my invoices?"))).Cache);
        Assert.Equal("miss", (await Post(test, Chat("where do i find my invoice??", system: "You are a billing bot."))).Cache);
        Assert.Equal("miss", (await Post(test, Chat("where do i find my invoice??"), key: "sk-b")).Cache);
        Assert.Equal("miss", (await Post(test, Chat("where can i find my invoice"), mode: "exact")).Cache);
        Assert.Equal(5, test.Simulator.Stats.ChatCompletions);

        // Streams meet streams.
        var (streamed, _, streamedAnswer) = await Post(test, Chat("How do I reset my password?", stream: true));
        var (replayed, _, replayedAnswer) = await Post(test, Chat("how do i reset my pasword", stream: true));
        Assert.Equal(("miss", "hit-semantic", 6), (streamed, replayed, test.Simulator.Stats.ChatCompletions));
        Assert.Equal(streamedAnswer, replayedAnswer);
        Assert.EndsWith("data: [DONE]\n\n", replayedAnswer);

        // Anthropic's API too.
        const string Messages = """{"model":"sim-large","max_tokens":64,"messages":[{"role":"user","content":[{"type":"text","text":"What is the capital of Australia?"}]}]}""";
        Assert.Equal("miss", (await Post(test, Messages, path: "/v1/messages")).Cache);
        Assert.Equal("hit-semantic", (await Post(test, Messages.Replace("What is the capital of Australia?", "capital of australia"), path: "/v1/messages")).Cache);
        Assert.Equal(7, test.Simulator.Stats.ChatCompletions);

        var scrape = await Scrape.OfAsync(test);
        Assert.Equal(3, scrape.Sum("octomesh_requests_total", "octomesh_cache=\"hit_semantic\""));

        // A purge takes the questions with the answers.
        var purge = new HttpRequestMessage(HttpMethod.Delete, "/admin/cache?workspace=a");
        purge.Headers.Authorization = new("Bearer", "admin-secret");
        Assert.True((await test.Client.SendAsync(purge)).IsSuccessStatusCode);
        Assert.Equal("miss", (await Post(test, Chat("where do i find my invoice??"))).Cache);
    }

    [Fact]
    public async Task ReplicasShareTheIndexThroughRedisAndOneThatStartsReadsItBack()
    {
        // A Redis that asks for a password, as a shared one should.
        await using var redis = await RedisServer.StartAsync(TestGateway.RedisPassword);
        var config = s_config.Replace("\"adminKeys\":", $"\"redis\": {redis.Section(500)}, \"adminKeys\":");
        await using var a = await TestGateway.StartAsync(config);
        await using var b = await TestGateway.StartAsync(config);
        static async Task<double> Entries(TestGateway gateway) => (await Scrape.OfAsync(gateway)).Sum("octomesh_cache_semantic_entries");
        static async Task Until(Func<Task<bool>> condition)
        {
            for (var i = 0; i < 200 && !await condition(); i++)
            {
                await Task.Delay(10);
            }
        }

        var (first, _, answer) = await Post(a, Chat("How do I cancel my subscription?"));
        Assert.Equal("miss", first);
        // B's index gets the question over pub/sub (a vector and guard facts), and its answer is in Redis.
        await Until(async () => await Entries(b) == 1);
        var (fromB, _, fromBAnswer) = await Post(b, Chat("how can i cancel my subscription"));
        Assert.Equal(("hit-semantic", 0), (fromB, b.Simulator.Stats.ChatCompletions));
        Assert.Equal(answer, fromBAnswer);

        // A replica that starts later reads the index back from Redis before it serves.
        await using var c = await TestGateway.StartAsync(config);
        Assert.Equal(1, await Entries(c));
        Assert.Equal("hit-semantic", (await Post(c, Chat("Cancel my subscription: how do I do it?"))).Cache);
        Assert.Equal(0, c.Simulator.Stats.ChatCompletions);

        // A purge through any replica empties every index and Redis.
        var purge = new HttpRequestMessage(HttpMethod.Delete, "/admin/cache?workspace=a");
        purge.Headers.Authorization = new("Bearer", "admin-secret");
        Assert.True((await c.Client.SendAsync(purge)).IsSuccessStatusCode);
        await Until(async () => await Entries(a) + await Entries(b) == 0);
        Assert.Equal((0, 0, 0), (await Entries(a), await Entries(b), await Entries(c)));
        Assert.Empty(await redis.CliAsync("--scan", "--pattern", "octomesh:semantic:*"));
    }

    [Fact]
    public async Task RoutesAndWorkspacesSayHowMuchOfTheCacheTheirRequestsUse()
    {
        var config = s_config
            .Replace("""{ "name": "b", "content": "cache" }""", """{ "name": "b", "content": "none" }""")
            .Replace("\"models\": {", """
                "routes": [ { "name": "exact-only", "match": { "model": "precise" }, "cache": "exact", "targets": [ { "provider": "sim", "model": "sim-small" } ] } ],
                "models": {
                """);
        await using var test = await TestGateway.StartAsync(config);
        var precise = Chat("Where can I find my invoices?").Replace("sim-small", "precise");

        // The route allows repeats only: a repeat hits, a rewording does not.
        Assert.Equal("miss", (await Post(test, precise)).Cache);
        Assert.Equal("hit-exact", (await Post(test, precise)).Cache);
        Assert.Equal("miss", (await Post(test, precise.Replace("Where can I find my invoices?", "where do i find my invoice??"))).Cache);

        // Workspace b keeps nothing (content policy "none"): no lookup, nothing kept, no header.
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(Chat("Hi there"), Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new("Bearer", "sk-b");
        var response = await test.Client.SendAsync(request);
        Assert.False(response.Headers.Contains("x-octomesh-cache"));
        Assert.Equal("miss", (await Post(test, Chat("Hi there"))).Cache);
        Assert.Equal(4, test.Simulator.Stats.ChatCompletions);
    }

    [Fact]
    public async Task AnEmbeddingsProviderCanEmbedAndItsFailuresOnlySkipTheLookup()
    {
        var config = s_config.Replace("\"semantic\": { \"embedder\": \"hash\" }",
            "\"semantic\": { \"embedder\": \"provider\", \"provider\": \"sim\", \"model\": \"text-embedding-3-small\", \"dimensions\": 1536 }");
        await using var test = await TestGateway.StartAsync(config);
        Assert.Equal("miss", (await Post(test, Chat("How do I change my billing address?"))).Cache);
        var (near, similarity, _) = await Post(test, Chat("how do i change my billing address"));
        Assert.Equal(("hit-semantic", 1L, 2L), (near, test.Simulator.Stats.ChatCompletions, test.Simulator.Stats.Embeddings));
        Assert.NotNull(similarity);

        // The embeddings endpoint failing: the request is served as a miss, the failure counted.
        await using var failing = await TestGateway.StartAsync(config.Replace("text-embedding-3-small", "fail-500"));
        Assert.Equal("miss", (await Post(failing, Chat("How do I change my billing address?"))).Cache);
        Assert.Equal("miss", (await Post(failing, Chat("how do i change my billing address"))).Cache);
        Assert.Equal(2, (await Scrape.OfAsync(failing)).Sum("octomesh_cache_embed_errors_total"));
    }
}
