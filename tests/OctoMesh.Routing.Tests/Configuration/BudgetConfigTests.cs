using System.Text;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Routing.Tests.Configuration;

public class BudgetConfigTests
{
    private static ConfigLoadResult Load(string extra) => ConfigLoader.Load(Encoding.UTF8.GetBytes($$"""
        { "providers": { "a": { "kind": "sim" } }, "models": { "*": { "provider": "a" } },
          "clientKeys": [ { "name": "ci", "sha256": "{{new string('a', 64)}}", "workspace": "w" } ] {{extra}} }
        """), name => name == "REDIS_PASSWORD" ? "pw" : null);

    [Fact]
    public void BudgetsLimitAWorkspaceOrAKeyPerDayOrMonth()
    {
        var config = Load("""
            , "budgets": [ { "name": "w-daily", "workspace": "w", "usd": 12.5 },
                           { "name": "ci-monthly", "key": "ci", "usd": 100, "period": "month", "hard": false } ],
              "redis": { "connection": "10.0.0.5:6379", "password": "${REDIS_PASSWORD}", "timeoutMs": 20 }
            """).Config!;
        Assert.Equal(
        [
            new BudgetConfig("w-daily", "w", null, 12_500_000, BudgetPeriod.Day, Hard: true),
            new BudgetConfig("ci-monthly", null, "ci", 100_000_000, BudgetPeriod.Month, Hard: false),
        ], config.Budgets.ToArray());
        Assert.Equal(new RedisConfig("10.0.0.5:6379", new RedisCredentials(null, "pw"), TimeoutMs: 20), config.Redis);
        Assert.True(config.Budgets[0].Applies("w", "anything"));
        Assert.True(config.Budgets[1].Applies("other", "ci"));
        Assert.False(config.Budgets[1].Applies("w", "other-key"));
    }

    [Fact]
    public void PeriodsRenewAtTheirStartInUtc()
    {
        var budget = new BudgetConfig("b", "w", null, 1, BudgetPeriod.Day, true);
        var now = new DateTimeOffset(2026, 11, 22, 23, 30, 0, TimeSpan.FromHours(-2));
        Assert.Equal(("2026-11-23", new DateTimeOffset(2026, 11, 24, 0, 0, 0, TimeSpan.Zero)), budget.PeriodOf(now));
        Assert.Equal(("2026-12", new DateTimeOffset(2027, 1, 1, 0, 0, 0, TimeSpan.Zero)),
            (budget with { Period = BudgetPeriod.Month }).PeriodOf(new DateTimeOffset(2026, 12, 31, 12, 0, 0, TimeSpan.Zero)));
    }

    [Fact]
    public void BadBudgetsAreReportedWithTheirFixes() => Assert.Equal(
    [
        "$.budgets[0]: a budget limits one workspace or one key. Fix: write \"workspace\": \"NAME\" or \"key\": \"KEY NAME\", not both.",
        "$.budgets[0].usd: expected US dollars above 0, got -1. Fix: write e.g. 50 or 2.5.",
        "$.budgets[1].key: no client key is named 'nobody'. Fix: name one of clientKeys.",
        "$.budgets[1].period: 'week' is not a period. Fix: write \"day\" or \"month\".",
        "$.budgets[2].name: 'x' appears twice. Fix: give each budget its own name.",
        "$.redis.connection: 'redis:x' is neither host:port nor name=value. Fix: write e.g. \"127.0.0.1:6379\" or \"cache.internal:6380,ssl=true\".",
    ], Load("""
        , "budgets": [ { "name": "x", "usd": -1 }, { "name": "y", "key": "nobody", "usd": 1, "period": "week" }, { "name": "x", "workspace": "w", "usd": 1 } ],
          "redis": { "connection": "redis:x" }
        """).Errors.Select(e => e.ToString()));

    [Fact]
    public void RateLimitsSelectByWorkspaceKeyAndModel()
    {
        var limits = Load("""
            , "rateLimits": [ { "name": "w", "workspace": "w", "requestsPerMinute": 600 },
                              { "name": "ci-big", "key": "ci", "model": "gpt-4o", "requestsPerMinute": 10, "tokensPerMinute": 40000 } ]
            """).Config!.RateLimits;
        Assert.Equal(
        [
            new RateLimitConfig("w", "w", null, null, 600, null),
            new RateLimitConfig("ci-big", null, "ci", "gpt-4o", 10, 40_000),
        ], limits.ToArray());
        Assert.True(limits[1].Applies("any", "ci", "gpt-4o"));
        Assert.False(limits[1].Applies("any", "ci", "gpt-4o-mini"));
        Assert.Equal(
        [
            "$.rateLimits[0]: a rate limit limits requests, tokens or both. Fix: write \"requestsPerMinute\" and/or \"tokensPerMinute\".",
            "$.rateLimits[1].key: no client key is named 'nobody'. Fix: name one of clientKeys.",
            "$.rateLimits[1].requestsPerMinute: 0 is out of range. Fix: write a whole number of requests from 1 to 100000000.",
        ], Load("""
            , "rateLimits": [ { "name": "a" }, { "name": "b", "key": "nobody", "requestsPerMinute": 0 } ]
            """).Errors.Select(e => e.ToString()));
    }
}
