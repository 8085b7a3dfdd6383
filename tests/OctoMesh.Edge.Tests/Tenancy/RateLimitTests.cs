using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using OctoMesh.Edge.Tenancy;
using OctoMesh.Edge.Tests.Cache;
using OctoMesh.Edge.Redis;
using OctoMesh.Edge.Tests.Hosting;
using OctoMesh.Edge.Tests.Redis;
using OctoMesh.Edge.Tests.Telemetry;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Tests.Tenancy;

/// <summary>Requests and tokens per minute: the GCRA alone on a clock the test moves, through the gateway, and shared through Redis.</summary>
public class RateLimitTests
{
    private sealed class ManualClock(DateTimeOffset start) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = start;
        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static readonly RateLimitConfig s_five = new("five", "w", null, null, RequestsPerMinute: 5, TokensPerMinute: 1_000);

    [Fact]
    public async Task AMinutesWorthAtOnceThenTheRateAndTokensComeBackWhenUnused()
    {
        var clock = new ManualClock(new DateTimeOffset(2026, 11, 22, 12, 0, 0, TimeSpan.Zero));
        var limiter = new RateLimiter(null, clock);
        for (var i = 0; i < 5; i++)
        {
            var taken = await limiter.AcquireAsync([s_five], 100);
            Assert.Null(taken.Refused);
            Assert.Equal(4 - i, taken.Requests!.Value.Remaining);
        }
        var refused = await limiter.AcquireAsync([s_five], 100);
        Assert.Equal((s_five, "requests"), (refused.Refused, refused.RefusedDimension));
        Assert.Equal(12, refused.RetryAfter.TotalSeconds, 3);

        // A request's worth comes back every 12 seconds.
        clock.Now += TimeSpan.FromSeconds(12);
        var again = await limiter.AcquireAsync([s_five], 100);
        Assert.Null(again.Refused);
        // Tokens: 500 held by the first five, 200 back in 12 s, 100 taken now: 600 left. Settling this one at 10 tokens
        // used gives 90 back; 12 s later 200 more, and the next takes 100: 790.
        Assert.Equal(600, again.Tokens!.Value.Remaining);
        await limiter.SettleAsync(again.Holds, 10);
        clock.Now += TimeSpan.FromSeconds(12);
        Assert.Equal(790, (await limiter.AcquireAsync([s_five], 100)).Tokens!.Value.Remaining);

        // A take past the whole minute (max_tokens near int.MaxValue, counted in long) is refused, never wrapped around.
        Assert.Equal("tokens", (await limiter.AcquireAsync([s_five with { Name = "huge" }], 2_147_483_647L + 100)).RefusedDimension);

        // Refused on tokens: what the request limit took is given back.
        var tokensOnly = new RateLimitConfig("tokens", null, null, null, RequestsPerMinute: 100, TokensPerMinute: 50);
        Assert.Equal("tokens", (await limiter.AcquireAsync([tokensOnly], 60)).RefusedDimension);
        Assert.Equal(99, (await limiter.AcquireAsync([tokensOnly], 1)).Requests!.Value.Remaining);
    }

    [Fact]
    public async Task ReplicasShareOneBucketThroughRedis()
    {
        await using var redis = await RedisServer.StartAsync();
        var config = new RedisConfig(redis.Connection, TimeoutMs: 1000);
        await using var redisA = await RedisConnection.ConnectAsync(config);
        await using var redisB = await RedisConnection.ConnectAsync(config);
        var a = new RateLimiter(redisA);
        var b = new RateLimiter(redisB);
        var three = s_five with { Name = "three", RequestsPerMinute = 3, TokensPerMinute = null };
        Assert.Null((await a.AcquireAsync([three], 1)).Refused);
        Assert.Null((await b.AcquireAsync([three], 1)).Refused);
        Assert.Equal(0, (await a.AcquireAsync([three], 1)).Requests!.Value.Remaining);
        var refused = await b.AcquireAsync([three], 1);
        Assert.Equal(three, refused.Refused);
        Assert.InRange(refused.RetryAfter.TotalSeconds, 19, 20.1);
        Assert.Equal(0, a.RedisErrors + b.RedisErrors);
    }

    private static string Sha256(string key) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key))).ToLowerInvariant();

    private static string Config(string extra = "") => $$"""
        { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}" } }, "models": { "*": { "provider": "sim" } },
          "clientKeys": [ { "name": "a", "sha256": "{{Sha256("sk-a")}}", "workspace": "team-a" }, { "name": "b", "sha256": "{{Sha256("sk-b")}}", "workspace": "team-b" } ],
          "rateLimits": [ { "name": "team-a", "workspace": "team-a", "requestsPerMinute": 3, "tokensPerMinute": 100000 } ] {{extra}} }
        """;

    private static Task<HttpResponseMessage> Send(TestGateway gateway, string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent("""{"model":"sim-small","max_tokens":50,"messages":[{"role":"user","content":"Hi"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new("Bearer", key);
        return gateway.Client.SendAsync(request);
    }

    [Fact]
    public async Task TheGatewayCountsSaysWhatIsLeftAndRefusesPastTheLimit()
    {
        await using var test = await TestGateway.StartAsync(Config());
        for (var i = 0; i < 3; i++)
        {
            var served = await Send(test, "sk-a");
            Assert.Equal(HttpStatusCode.OK, served.StatusCode);
            Assert.Equal(("3", (2 - i).ToString()), (served.Headers.GetValues("x-ratelimit-limit-requests").Single(), served.Headers.GetValues("x-ratelimit-remaining-requests").Single()));
            Assert.Equal("100000", served.Headers.GetValues("x-ratelimit-limit-tokens").Single());
            Assert.EndsWith("s", served.Headers.GetValues("x-ratelimit-reset-requests").Single());
        }
        var refused = await Send(test, "sk-a");
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        var error = JsonNode.Parse(await refused.Content.ReadAsStringAsync())!["error"]!;
        Assert.Equal("rate_limit_exceeded", error["code"]!.GetValue<string>());
        Assert.Contains("Rate limit 'team-a' (3 requests per minute)", error["message"]!.GetValue<string>());
        Assert.InRange(int.Parse(refused.Headers.GetValues("retry-after").Single()), 1, 20);
        Assert.Equal(3, test.Simulator.Stats.ChatCompletions);
        // Another workspace is not limited; the refusal is counted.
        Assert.Equal(HttpStatusCode.OK, (await Send(test, "sk-b")).StatusCode);
        Assert.Equal(1, (await Scrape.OfAsync(test)).Sum("octomesh_rate_limited_total"));
    }

    [Fact]
    public async Task TwoGatewaysShareALimitThroughRedis()
    {
        await using var redis = await RedisServer.StartAsync();
        var config = Config($$""", "redis": {{redis.Section()}}""");
        await using var a = await TestGateway.StartAsync(config);
        await using var b = await TestGateway.StartAsync(config);
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 6; i++)
        {
            statuses.Add((await Send(i % 2 == 0 ? a : b, "sk-a")).StatusCode);
        }
        // Three per minute between the two, not three each.
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests],
            statuses);
    }
}
