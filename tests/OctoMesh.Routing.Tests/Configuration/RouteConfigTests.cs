using System.Text;
using OctoMesh.Routing.Configuration;
using OctoMesh.Routing.Table;

namespace OctoMesh.Routing.Tests.Configuration;

public class RouteConfigTests
{
    private static ConfigLoadResult Load(string json) => ConfigLoader.Load(Encoding.UTF8.GetBytes(json), _ => null);

    private const string Providers = """ "providers": { "a": { "kind": "sim" }, "b": { "kind": "sim" } } """;

    [Fact]
    public void RoutesLoadWithMatchersStrategiesAndTargets()
    {
        var result = Load($$"""
            { {{Providers}},
              "routes": [
                { "name": "code", "match": { "model": "gpt-*", "task": "code", "workspace": "w", "headers": { "X-Tier": "gold" }, "tools": true, "images": false, "stream": false,
                                             "promptTokens": { "min": 10, "max": 9000 } },
                  "strategy": "cheapest-above-quality", "qualityFloor": 0.8,
                  "targets": [ { "provider": "a", "model": "small", "price": 0.3, "quality": { "code": 0.7, "*": 0.9 } },
                               { "provider": "b", "model": "large", "price": 15, "quality": { "code": 0.95 }, "maxConcurrency": 8, "firstByteMs": 2500 } ] },
                { "name": "canary", "strategy": "weighted", "targets": [ { "provider": "a", "model": "x", "weight": 9 }, { "provider": "b", "model": "y", "weight": 1 } ] }
              ] }
            """);
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        var routes = result.Config!.Routes;
        Assert.Equal(["code", "canary"], routes.Select(r => r.Name));
        var code = routes[0];
        Assert.Equal(RouteStrategy.CheapestAboveQuality, code.Strategy);
        Assert.Equal(0.8, code.QualityFloor);
        Assert.Equal(("gpt-*", "code", "w", true, false, 10, 9000), (code.Match.Model, code.Match.Task, code.Match.Workspace, code.Match.Tools, code.Match.Stream, code.Match.MinPromptTokens, code.Match.MaxPromptTokens));
        Assert.False(code.Match.Images);
        Assert.Equal("gold", code.Match.Headers!["x-tier"]);
        Assert.Equal(0.7, code.Targets[0].QualityFor("code"));
        Assert.Equal(0.9, code.Targets[0].QualityFor("chat"));
        Assert.Equal((0, 8), (code.Targets[0].MaxConcurrency, code.Targets[1].MaxConcurrency));
        Assert.Equal((0, 2500), (code.Targets[0].FirstByteMs, code.Targets[1].FirstByteMs));
        Assert.Equal(RouteStrategy.Weighted, routes[1].Strategy);
        Assert.Equal([9, 1], routes[1].Targets.Select(t => t.Weight));
        // Routes alone serve models: the models section may be left out.
        Assert.True(result.Config.Models.IsEmpty);
    }

    [Fact]
    public void RouteErrorsSayWhereAndHow()
    {
        var errors = Load($$"""
            { {{Providers}},
              "routes": [
                { "name": "r", "match": { "model": "g*x", "vision": true, "promptTokens": { "min": 9, "max": 1 } }, "strategy": "fastest",
                  "qualityFloor": 2, "targets": [ { "provider": "nope", "model": "m", "weight": -1, "price": "cheap", "quality": { "code": 1.5 }, "maxConcurrency": 0 } ] },
                { "name": "r", "targets": [] },
                { "targets": [ { "provider": "a" } ] }
              ] }
            """).Errors.Select(e => e.ToString()).ToArray();

        Assert.Equal(
        [
            "$.routes[0].match.vision: unknown field. Fix: remove it; the fields here are model, workspace, task, headers, tools, images, stream, promptTokens.",
            "$.routes[0].match.model: 'g*x' is not a model name or pattern. Fix: write an exact name or a prefix ending in '*', such as 'gpt-*'.",
            "$.routes[0].match.promptTokens: min 9 is above max 1. Fix: make min at most max.",
            "$.routes[0].strategy: unknown strategy 'fastest'. Fix: use one of priority, weighted, least-latency, cheapest-above-quality.",
            "$.routes[0].qualityFloor: 2 is not between 0 and 1. Fix: write a quality as a number from 0 to 1, e.g. 0.85.",
            "$.routes[0].targets[0].provider: no provider is named 'nope'. Fix: name one of the providers: a, b.",
            "$.routes[0].targets[0].weight: -1 is out of range. Fix: write a whole number from 0 to 1000000.",
            "$.routes[0].targets[0].maxConcurrency: 0 is out of range. Fix: write a whole number of requests from 1 to 1000000, or leave it out for no limit.",
            "$.routes[0].targets[0].price: 'cheap' is not a price. Fix: write USD per 1M tokens as a number, e.g. 0.6.",
            "$.routes[0].targets[0].quality.code: 1.5 is not between 0 and 1. Fix: write a quality as a number from 0 to 1, e.g. 0.85.",
            "$.routes[1].name: the route name 'r' is used twice. Fix: give every route its own name.",
            "$.routes[1].targets: expected an array of 1 to 64 targets, got an array. Fix: write [ { \"provider\": \"openai\", \"model\": \"gpt-4o-mini\" } ].",
            "$.routes[2].name: missing. Fix: write a route name such as \"chat-default\".",
            "$.routes[2].targets[0].model: missing. Fix: write the provider's model name, e.g. \"gpt-4o-mini\".",
        ], errors);
    }

    [Fact]
    public void RetryAndBreakerPolicies()
    {
        var result = Load($$"""
            { {{Providers}}, "routes": [ { "name": "r", "retry": { "attempts": 2, "backoffMs": 50, "maxBackoffMs": 800 }, "breaker": { "failures": 3, "openMs": 5000, "errorRate": 0.5 },
                                           "deadlineMs": 1500, "targets": [ { "provider": "a", "model": "m" } ] } ] }
            """);
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        Assert.Equal(1500, result.Config!.Routes[0].DeadlineMs);
        Assert.Equal(new RetryPolicy(2, 50, 800), result.Config!.Routes[0].Retry);
        Assert.Equal(new BreakerPolicy(3, 5000, 0.5), result.Config.Routes[0].Breaker);

        Assert.Equal(
        [
            "$.routes[0].retry.attempts: 9 is out of range. Fix: write a whole number of extra tries from 0 to 5.",
            "$.routes[0].retry.backoffMs: 900 is above maxBackoffMs (800). Fix: make backoffMs at most maxBackoffMs.",
            "$.routes[0].breaker.failures: 0 is out of range. Fix: write a whole number of failures in a row from 1 to 1000.",
            "$.routes[0].breaker.errorRate: 0 is not a rate above 0 and at most 1. Fix: write the smoothed error rate that ejects a target, e.g. 0.5.",
        ], Load($$"""
            { {{Providers}}, "routes": [ { "name": "r", "retry": { "attempts": 9, "backoffMs": 900, "maxBackoffMs": 800 }, "breaker": { "failures": 0, "errorRate": 0 },
                                           "targets": [ { "provider": "a", "model": "m" } ] } ] }
            """).Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void Hedging()
    {
        var result = Load($$"""
            { {{Providers}}, "routes": [ { "name": "r", "hedgeAfterMs": 250, "targets": [ { "provider": "a", "model": "m" }, { "provider": "a", "model": "n" } ] } ] }
            """);
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        Assert.Equal(250, result.Config!.Routes[0].HedgeAfterMs);

        Assert.Equal(
        [
            "$.routes[0].hedgeAfterMs: a route with one target has nothing to hedge with. Fix: add a second target, or remove hedgeAfterMs.",
            "$.routes[1].hedgeAfterMs: 900 is not shorter than deadlineMs (900). Fix: hedge well before the deadline, or remove hedgeAfterMs.",
            "$.routes[2].hedgeAfterMs: 0 is out of range. Fix: write a whole number of milliseconds from 1 to 3600000.",
        ], Load($$"""
            { {{Providers}}, "routes": [
                { "name": "one", "hedgeAfterMs": 100, "targets": [ { "provider": "a", "model": "m" } ] },
                { "name": "late", "hedgeAfterMs": 900, "deadlineMs": 900, "targets": [ { "provider": "a", "model": "m" }, { "provider": "a", "model": "n" } ] },
                { "name": "zero", "hedgeAfterMs": 0, "targets": [ { "provider": "a", "model": "m" }, { "provider": "a", "model": "n" } ] } ] }
            """).Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void TaskRules()
    {
        var result = Load($$"""
            { {{Providers}}, "models": { "*": { "provider": "a" } },
              "tasks": [ { "name": "code", "markers": ["```", "stack trace"], "in": "user" }, { "name": "agent", "tools": true }, { "name": "short", "maxChars": 40 } ] }
            """);
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        Assert.Equal(["```", "stack trace"], result.Config!.Tasks[0].Markers.ToArray());
        Assert.Equal(TaskMarkerScope.User, result.Config.Tasks[0].In);
        Assert.Equal(true, result.Config.Tasks[1].Tools);
        Assert.Equal(40, result.Config.Tasks[2].MaxChars);

        Assert.Equal(
        [
            "$.tasks[0].markers: expected an array of non-empty strings, got an array. Fix: write e.g. [\"```\", \"stack trace\"].",
            "$.tasks[0].in: unknown place 'body'. Fix: use any, system or user.",
            "$.tasks[1].name: missing. Fix: write the task class, e.g. \"code\".",
        ], Load($$"""
            { {{Providers}}, "models": { "*": { "provider": "a" } }, "tasks": [ { "name": "code", "markers": [""], "in": "body" }, { "tools": true } ] }
            """).Errors.Select(e => e.ToString()));
    }
}
