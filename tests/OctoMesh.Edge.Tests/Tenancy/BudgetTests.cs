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

/// <summary>Budgets that cannot be overshot: the ledger alone, through the gateway under parallel load, and shared through Redis.</summary>
public class BudgetTests
{
    private static readonly BudgetConfig s_daily = new("team-a-daily", "team-a", null, MicroUsd: 1_000, BudgetPeriod.Day, Hard: true);

    [Fact]
    public async Task TheLedgerHoldsTheMostACallCanCostAndSettlesTheExactCost()
    {
        var ledger = new BudgetLedger(null);
        var first = await ledger.ReserveAsync([s_daily], 600);
        Assert.Null(first.Refused);
        // 600 held: another 600 would pass the 1,000 limit.
        var second = await ledger.ReserveAsync([s_daily], 600);
        Assert.Equal(s_daily, second.Refused);
        Assert.True(second.Renews > DateTimeOffset.UtcNow);
        // Only the request in flight stood in the way: retrying soon may succeed.
        Assert.True(second.InFlight);
        // Settled at 100: room again.
        await ledger.SettleAsync(first.Reservations, 100);
        Assert.Equal((100, 0), await ledger.ReadAsync(s_daily));
        var third = await ledger.ReserveAsync([s_daily], 600);
        Assert.Null(third.Refused);
        await ledger.SettleAsync(third.Reservations, 850);
        // Spent 950: the spend itself has no room for 100 more, whatever is in flight.
        Assert.False((await ledger.ReserveAsync([s_daily], 100)).InFlight);

        // A soft budget serves, and says it was passed.
        var soft = s_daily with { Name = "soft", Hard = false };
        Assert.False((await ledger.ReserveAsync([soft], 900)).Reservations.Single().Exceeded);
        Assert.True((await ledger.ReserveAsync([soft], 900)).Reservations.Single().Exceeded);

        // When one of several refuses, the others are given back.
        var roomy = s_daily with { Name = "roomy", MicroUsd = 1_000_000 };
        Assert.Equal(s_daily, (await ledger.ReserveAsync([roomy, s_daily], 10_000)).Refused);
        Assert.Equal((0, 0), await ledger.ReadAsync(roomy));
    }

    [Fact]
    public async Task ReplicasShareTheLedgerThroughRedis()
    {
        await using var redis = await RedisServer.StartAsync();
        var config = new RedisConfig(redis.Connection, TimeoutMs: 1000);
        await using var redisA = await RedisConnection.ConnectAsync(config);
        await using var redisB = await RedisConnection.ConnectAsync(config);
        var a = new BudgetLedger(redisA);
        var b = new BudgetLedger(redisB);
        var held = await a.ReserveAsync([s_daily], 700);
        Assert.Null(held.Refused);
        Assert.Equal(s_daily, (await b.ReserveAsync([s_daily], 700)).Refused);
        Assert.True((await b.ReserveAsync([s_daily], 700)).InFlight);
        await a.SettleAsync(held.Reservations, 50);
        Assert.Null((await b.ReserveAsync([s_daily], 700)).Refused);
        Assert.Equal((50, 700), await a.ReadAsync(s_daily));
        Assert.Equal(0, a.RedisErrors + b.RedisErrors);
    }

    private static string Sha256(string key) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key))).ToLowerInvariant();

    private static string Config(long microUsd, string extra = "") => $$"""
        { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}" } }, "models": { "*": { "provider": "sim" } },
          "clientKeys": [ { "name": "a", "sha256": "{{Sha256("sk-a")}}", "workspace": "team-a" }, { "name": "b", "sha256": "{{Sha256("sk-b")}}", "workspace": "team-b" } ],
          "prices": { "sim-small": { "input": 1, "output": 1 } },
          "budgets": [ { "name": "team-a-daily", "workspace": "team-a", "usd": {{microUsd / 1e6:0.######}}, "period": "day" } ] {{extra}} }
        """;

    private const string Body = """{"model":"sim-small","max_tokens":20,"messages":[{"role":"user","content":"Count to twenty"}]}""";

    private static HttpRequestMessage Request(string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(Body, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new("Bearer", key);
        request.Headers.Add("x-sim-tokens", "20");
        return request;
    }

    /// <summary>What one request costs in micro-dollars at USD 1 per million tokens: its tokens.</summary>
    private static async Task<long> CostOfOneAsync()
    {
        await using var probe = await TestGateway.StartAsync(Config(1_000_000_000));
        var answer = JsonNode.Parse(await (await probe.Client.SendAsync(Request("sk-a"))).Content.ReadAsStringAsync())!;
        return answer["usage"]!["total_tokens"]!.GetValue<long>();
    }

    [Fact]
    public async Task AHundredParallelRequestsCannotOvershootABudgetThatAllowsTen()
    {
        var cost = await CostOfOneAsync();
        var limit = 10 * cost;
        await using var test = await TestGateway.StartAsync(Config(limit));
        var answers = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => test.Client.SendAsync(Request("sk-a"))));
        var served = answers.Count(a => a.StatusCode == HttpStatusCode.OK);
        Assert.InRange(served, 1, 10);
        Assert.All(answers.Where(a => a.StatusCode != HttpStatusCode.OK), a => Assert.Equal(HttpStatusCode.TooManyRequests, a.StatusCode));

        // Served one at a time from here: still never past the limit, whatever the order.
        for (var i = 0; i < 20; i++)
        {
            served += (await test.Client.SendAsync(Request("sk-a"))).StatusCode == HttpStatusCode.OK ? 1 : 0;
        }
        Assert.InRange(served, 1, 10);
        var ledger = (BudgetLedger)test.Gateway.Services.GetService(typeof(BudgetLedger))!;
        var (spent, reserved) = await ledger.ReadAsync(test.Gateway.Runtimes.Current.Config.Budgets.Single());
        Assert.Equal((served * cost, 0L), (spent, reserved));
        Assert.True(spent <= limit);

        // The refusal says which budget, in the client's format, with when to come back; other workspaces go on.
        var refused = await test.Client.SendAsync(Request("sk-a"));
        var error = JsonNode.Parse(await refused.Content.ReadAsStringAsync())!["error"]!;
        Assert.Equal("budget_exceeded", error["code"]!.GetValue<string>());
        Assert.Contains("Budget 'team-a-daily' of workspace 'team-a'", error["message"]!.GetValue<string>());
        Assert.True(int.Parse(refused.Headers.GetValues("retry-after").Single()) is > 0 and <= 86_400);
        Assert.Equal(HttpStatusCode.OK, (await test.Client.SendAsync(Request("sk-b"))).StatusCode);
        Assert.True((await Scrape.OfAsync(test)).Sum("octomesh_budget_refusals_total") >= 90);
    }

    [Fact]
    public async Task TwoGatewaysShareOneBudgetThroughRedis()
    {
        var cost = await CostOfOneAsync();
        await using var redis = await RedisServer.StartAsync();
        var config = Config(4 * cost, $$""", "redis": {{redis.Section()}}""");
        await using var a = await TestGateway.StartAsync(config);
        await using var b = await TestGateway.StartAsync(config);
        var served = 0;
        for (var i = 0; i < 10; i++)
        {
            served += (await (i % 2 == 0 ? a : b).Client.SendAsync(Request("sk-a"))).StatusCode == HttpStatusCode.OK ? 1 : 0;
        }
        // Each alone would have served up to four; together they serve at most four.
        Assert.InRange(served, 1, 4);
        Assert.Equal(0, (await Scrape.OfAsync(a)).Sum("octomesh_budget_redis_errors_total"));
    }

    [Fact]
    public async Task AnAnswerWithoutUsageKeepsItsUpperBound()
    {
        await using var test = await TestGateway.StartAsync(Config(1_000_000));
        // A stream the client leaves after its first event: the provider may bill it all, so its bound stays spent.
        var request = Request("sk-a");
        request.Content = new StringContent(Body.Replace("\"max_tokens\":20", "\"max_tokens\":20,\"stream\":true"), Encoding.UTF8, "application/json");
        request.Headers.Add("x-sim-tpot-ms", "200");
        var response = await test.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var stream = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.StartsWith("data: ", await stream.ReadLineAsync());
        response.Dispose();
        var ledger = (BudgetLedger)test.Gateway.Services.GetService(typeof(BudgetLedger))!;
        var budget = test.Gateway.Runtimes.Current.Config.Budgets.Single();
        (long Spent, long Reserved) counts = default;
        for (var i = 0; i < 200 && (counts = await ledger.ReadAsync(budget)).Reserved != 0; i++)
        {
            await Task.Delay(20);
        }
        // The bound: the body's bytes and max_tokens at USD 1 per million tokens.
        var bound = Encoding.UTF8.GetByteCount(Body.Replace("\"max_tokens\":20", "\"max_tokens\":20,\"stream\":true")) + 20;
        Assert.Equal((bound, 0L), counts);
    }
}
