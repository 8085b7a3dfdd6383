using System.Text;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Routing.Tests.Configuration;

public class ShadowConfigTests
{
    private static ConfigLoadResult Load(string shadow) => ConfigLoader.Load(Encoding.UTF8.GetBytes($$"""
        { "providers": { "a": { "kind": "sim" } },
          "routes": [ { "name": "r", "match": { "model": "m" }, "targets": [ { "provider": "a", "model": "big" } ], "shadow": {{shadow}} } ] }
        """), _ => null);

    [Fact]
    public void AShadowNamesItsCandidatesShareCapJudgeAndStore()
    {
        var shadow = Load("""{ "models": ["small", "mid"], "share": 0.1, "maxUsdPerDay": 2.5, "judge": "big", "results": "s.jsonl" }""").Config!.Routes[0].Shadow!;
        Assert.Equal(("small,mid", 0.1, 2_500_000L, "big", "s.jsonl"), (string.Join(',', shadow.Models), shadow.Share, shadow.MaxMicroUsdPerDay, shadow.Judge, shadow.Results));
        var defaults = Load("""{ "models": ["small"] }""").Config!.Routes[0].Shadow!;
        Assert.Equal((0.05, 1_000_000L, (string?)null, "data/shadow/results.jsonl"), (defaults.Share, defaults.MaxMicroUsdPerDay, defaults.Judge, defaults.Results));
        Assert.Equal(
        [
            "$.routes[0].shadow.models: a shadow needs at least one candidate model. Fix: write e.g. \"models\": [\"gpt-4o-mini\"].",
            "$.routes[0].shadow.maxUsdPerDay: -1 is not an amount. Fix: write US dollars per day, e.g. 1.5.",
        ], Load("""{ "models": [], "maxUsdPerDay": -1 }""").Errors.Select(e => e.ToString()));
    }
}
