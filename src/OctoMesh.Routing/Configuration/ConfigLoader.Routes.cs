using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Text;
using System.Text.Json;

namespace OctoMesh.Routing.Configuration;

public static partial class ConfigLoader
{
    /// <summary>The <c>routes</c> and <c>tasks</c> sections: matchers, targets, retry, breaker, shadowing.</summary>
    private sealed partial class ConfigReader
    {
        private ImmutableArray<Table.RouteDefinition> ReadRoutes(JsonElement element, string path, ImmutableDictionary<string, ProviderConfig> providers)
        {
            if (element.ValueKind != JsonValueKind.Array)
            {
                Error(path, $"expected an array, got {Describe(element)}", "write [ { \"name\": …, \"match\": { … }, \"targets\": [ … ] } ]");
                return [];
            }
            var routes = ImmutableArray.CreateBuilder<Table.RouteDefinition>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            var i = 0;
            foreach (var item in element.EnumerateArray())
            {
                var here = $"{path}[{i++}]";
                if (!ExpectObject(item, here, "write { \"name\": \"chat\", \"match\": { \"model\": \"fast\" }, \"targets\": [ { \"provider\": …, \"model\": … } ] }"))
                {
                    continue;
                }
                var errorsBefore = _errors.Count;
                var fields = Fields(item, here, s_routeFields);
                var name = RequiredString(fields, "name", here, "a route name such as \"chat-default\"");
                if (name is not null && !names.Add(name))
                {
                    Error($"{here}.name", $"the route name '{name}' is used twice", "give every route its own name");
                }
                var match = fields.TryGetValue("match", out var matchElement) ? ReadMatch(matchElement, $"{here}.match") : new Table.RouteMatch();
                var strategy = Table.RouteStrategy.Priority;
                if (fields.TryGetValue("strategy", out var strategyElement))
                {
                    Table.RouteStrategy? parsed = strategyElement.ValueKind == JsonValueKind.String ? strategyElement.GetString() switch
                    {
                        "priority" => Table.RouteStrategy.Priority,
                        "weighted" => Table.RouteStrategy.Weighted,
                        "least-latency" => Table.RouteStrategy.LeastLatency,
                        "cheapest-above-quality" => Table.RouteStrategy.CheapestAboveQuality,
                        _ => null,
                    } : null;
                    if (parsed is null)
                    {
                        Error($"{here}.strategy", $"unknown strategy {Describe(strategyElement)}", $"use one of {StrategyList}");
                    }
                    strategy = parsed ?? strategy;
                }
                var floor = 0.0;
                if (fields.TryGetValue("qualityFloor", out var floorElement))
                {
                    floor = Fraction(floorElement, $"{here}.qualityFloor") ?? 0;
                }
                var targets = fields.TryGetValue("targets", out var targetsElement)
                    ? ReadTargets(targetsElement, $"{here}.targets", providers)
                    : MissingTargets($"{here}.targets");
                var retry = fields.TryGetValue("retry", out var retryElement) ? ReadRetry(retryElement, $"{here}.retry") : Table.RetryPolicy.None;
                var breaker = fields.TryGetValue("breaker", out var breakerElement) ? ReadBreaker(breakerElement, $"{here}.breaker") : Table.BreakerPolicy.Default;
                var deadline = fields.TryGetValue("deadlineMs", out var d)
                    ? (int?)Integer(d, $"{here}.deadlineMs", 1, 3_600_000, "a whole number of milliseconds from 1 to 3600000")
                    : null;
                var hedgeAfter = fields.TryGetValue("hedgeAfterMs", out var h)
                    ? (int?)Integer(h, $"{here}.hedgeAfterMs", 1, 3_600_000, "a whole number of milliseconds from 1 to 3600000")
                    : null;
                if (hedgeAfter is not null && targets.Length == 1)
                {
                    Error($"{here}.hedgeAfterMs", "a route with one target has nothing to hedge with", "add a second target, or remove hedgeAfterMs");
                }
                if (hedgeAfter >= deadline)
                {
                    Error($"{here}.hedgeAfterMs", $"{hedgeAfter} is not shorter than deadlineMs ({deadline})", "hedge well before the deadline, or remove hedgeAfterMs");
                }
                var cache = fields.TryGetValue("cache", out var c) ? ReadCachePolicy(c, $"{here}.cache") : CachePolicy.Semantic;
                var shadow = fields.TryGetValue("shadow", out var sh) ? ReadShadow(sh, $"{here}.shadow") : null;
                if (name is not null && _errors.Count == errorsBefore)
                {
                    routes.Add(new Table.RouteDefinition(name, match, strategy, targets, floor, retry, breaker, deadline, hedgeAfter, cache) { Shadow = shadow });
                }
            }
            return routes.ToImmutable();
        }

        private static readonly string[] s_shutdownFields = ["delayMs", "timeoutMs"];

        private Table.ShadowPolicy? ReadShadow(JsonElement element, string path)
        {
            if (!ExpectObject(element, path, "write { \"models\": [\"cheap-model\"], \"share\": 0.05, \"maxUsdPerDay\": 1 }"))
            {
                return null;
            }
            var fields = Fields(element, path, s_shadowFields);
            var models = fields.TryGetValue("models", out var m) ? Names(m, $"{path}.models", patterns: false) : [];
            if (models.IsEmpty)
            {
                Error($"{path}.models", "a shadow needs at least one candidate model", "write e.g. \"models\": [\"gpt-4o-mini\"]");
            }
            var share = fields.TryGetValue("share", out var s) ? Fraction(s, $"{path}.share") ?? 0 : 0.05;
            var usd = 1m;
            if (fields.TryGetValue("maxUsdPerDay", out var u))
            {
                if (u.ValueKind == JsonValueKind.Number && u.GetDecimal() is >= 0 and <= 1_000_000 and var value)
                {
                    usd = value;
                }
                else
                {
                    Error($"{path}.maxUsdPerDay", $"{Describe(u)} is not an amount", "write US dollars per day, e.g. 1.5");
                }
            }
            return new Table.ShadowPolicy(models, share, (long)(usd * 1_000_000), OptionalText(fields, "judge"),
                OptionalText(fields, "results") ?? "data/shadow/results.jsonl");
        }

        private ImmutableArray<Table.TaskRule> ReadTasks(JsonElement element, string path)
        {
            if (element.ValueKind != JsonValueKind.Array)
            {
                Error(path, $"expected an array, got {Describe(element)}", "write [ { \"name\": \"code\", \"markers\": [\"```\", \"stack trace\"] } ]");
                return [];
            }
            var rules = ImmutableArray.CreateBuilder<Table.TaskRule>();
            var i = 0;
            foreach (var item in element.EnumerateArray())
            {
                var here = $"{path}[{i++}]";
                if (!ExpectObject(item, here, "write { \"name\": \"code\", \"markers\": [\"```\"] }"))
                {
                    continue;
                }
                var errorsBefore = _errors.Count;
                var fields = Fields(item, here, s_taskFields);
                var name = RequiredString(fields, "name", here, "the task class, e.g. \"code\"");
                var markers = ImmutableArray<string>.Empty;
                if (fields.TryGetValue("markers", out var m))
                {
                    if (m.ValueKind == JsonValueKind.Array && m.EnumerateArray().All(x => x.ValueKind == JsonValueKind.String && x.GetString()!.Length > 0))
                    {
                        markers = [.. m.EnumerateArray().Select(x => x.GetString()!)];
                    }
                    else
                    {
                        Error($"{here}.markers", $"expected an array of non-empty strings, got {Describe(m)}", "write e.g. [\"```\", \"stack trace\"]");
                    }
                }
                var scope = Table.TaskMarkerScope.Any;
                if (fields.TryGetValue("in", out var s))
                {
                    switch (s.ValueKind == JsonValueKind.String ? s.GetString() : null)
                    {
                        case "any": break;
                        case "system": scope = Table.TaskMarkerScope.System; break;
                        case "user": scope = Table.TaskMarkerScope.User; break;
                        default: Error($"{here}.in", $"unknown place {Describe(s)}", "use any, system or user"); break;
                    }
                }
                var tools = Flag(fields, "tools", here, "write true or false, or leave it out");
                var min = fields.TryGetValue("minChars", out var lo) ? (int?)Integer(lo, $"{here}.minChars", 0, int.MaxValue, "a whole number of characters") : null;
                var max = fields.TryGetValue("maxChars", out var hi) ? (int?)Integer(hi, $"{here}.maxChars", 0, int.MaxValue, "a whole number of characters") : null;
                if (name is not null && _errors.Count == errorsBefore)
                {
                    rules.Add(new Table.TaskRule(name, markers, scope, tools, min, max));
                }
            }
            return rules.ToImmutable();
        }

        private Table.RetryPolicy ReadRetry(JsonElement element, string path)
        {
            var policy = Table.RetryPolicy.None;
            if (!ExpectObject(element, path, "write { \"attempts\": 2, \"backoffMs\": 200, \"maxBackoffMs\": 5000 }"))
            {
                return policy;
            }
            var fields = Fields(element, path, s_retryFields);
            int Read(string name, long min, long max, int fallback, string what) =>
                fields.TryGetValue(name, out var value) ? (int)(Integer(value, $"{path}.{name}", min, max, what) ?? fallback) : fallback;
            policy = new Table.RetryPolicy(
                Read("attempts", 0, 5, policy.Attempts, "a whole number of extra tries from 0 to 5"),
                Read("backoffMs", 1, 60_000, policy.BackoffMs, "a whole number of milliseconds from 1 to 60000"),
                Read("maxBackoffMs", 1, 600_000, policy.MaxBackoffMs, "a whole number of milliseconds from 1 to 600000"));
            if (policy.BackoffMs > policy.MaxBackoffMs)
            {
                Error($"{path}.backoffMs", $"{policy.BackoffMs} is above maxBackoffMs ({policy.MaxBackoffMs})", "make backoffMs at most maxBackoffMs");
            }
            return policy;
        }

        private Table.BreakerPolicy ReadBreaker(JsonElement element, string path)
        {
            var policy = Table.BreakerPolicy.Default;
            if (!ExpectObject(element, path, "write { \"failures\": 5, \"openMs\": 30000 }"))
            {
                return policy;
            }
            var fields = Fields(element, path, s_breakerFields);
            var failures = fields.TryGetValue("failures", out var f)
                ? (int)(Integer(f, $"{path}.failures", 1, 1000, "a whole number of failures in a row from 1 to 1000") ?? policy.Failures)
                : policy.Failures;
            var open = fields.TryGetValue("openMs", out var o)
                ? (int)(Integer(o, $"{path}.openMs", 100, 3_600_000, "a whole number of milliseconds from 100 to 3600000") ?? policy.OpenMs)
                : policy.OpenMs;
            var errorRate = policy.ErrorRate;
            if (fields.TryGetValue("errorRate", out var e))
            {
                if (e.ValueKind == JsonValueKind.Number && e.GetDouble() is > 0 and <= 1)
                {
                    errorRate = e.GetDouble();
                }
                else
                {
                    Error($"{path}.errorRate", $"{Describe(e)} is not a rate above 0 and at most 1", "write the smoothed error rate that ejects a target, e.g. 0.5");
                }
            }
            return new Table.BreakerPolicy(failures, open, errorRate);
        }

        private ImmutableArray<Table.RouteTarget> MissingTargets(string path)
        {
            Error(path, "missing", "add at least one target, e.g. [ { \"provider\": \"openai\", \"model\": \"gpt-4o-mini\" } ]");
            return [];
        }

        private Table.RouteMatch ReadMatch(JsonElement element, string path)
        {
            if (!ExpectObject(element, path, "write { \"model\": \"gpt-*\", \"task\": \"code\", … }"))
            {
                return new Table.RouteMatch();
            }
            var fields = Fields(element, path, s_matchFields);
            string? Text(string name)
            {
                if (!fields.TryGetValue(name, out var value))
                {
                    return null;
                }
                if (value.ValueKind == JsonValueKind.String && value.GetString()!.Length > 0)
                {
                    return value.GetString();
                }
                Error($"{path}.{name}", $"expected a non-empty string, got {Describe(value)}", "write a string, or leave the field out to match any");
                return null;
            }
            bool? Flag(string name) => this.Flag(fields, name, path, "write true or false, or leave the field out to match either");
            var model = Text("model");
            var star = model?.IndexOf('*') ?? -1;
            if (model is not null && star >= 0 && star != model.Length - 1)
            {
                Error($"{path}.model", $"'{model}' is not a model name or pattern", "write an exact name or a prefix ending in '*', such as 'gpt-*'");
            }
            System.Collections.Frozen.FrozenDictionary<string, string>? headers = null;
            if (fields.TryGetValue("headers", out var headersElement))
            {
                if (ExpectObject(headersElement, $"{path}.headers", "write { \"x-tier\": \"gold\" }"))
                {
                    var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                    foreach (var (header, value) in Fields(headersElement, $"{path}.headers", known: null))
                    {
                        if (value.ValueKind == JsonValueKind.String)
                        {
                            values[header] = value.GetString()!;
                        }
                        else
                        {
                            Error($"{path}.headers.{header}", $"expected the header's value as a string, got {Describe(value)}", "write the exact value to match");
                        }
                    }
                    headers = values.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
                }
            }
            int? min = null, max = null;
            if (fields.TryGetValue("promptTokens", out var range) && ExpectObject(range, $"{path}.promptTokens", "write { \"min\": 0, \"max\": 8000 }"))
            {
                var bounds = Fields(range, $"{path}.promptTokens", s_rangeFields);
                if (bounds.TryGetValue("min", out var lo))
                {
                    min = (int?)Integer(lo, $"{path}.promptTokens.min", 0, int.MaxValue, "a whole number of tokens");
                }
                if (bounds.TryGetValue("max", out var hi))
                {
                    max = (int?)Integer(hi, $"{path}.promptTokens.max", 0, int.MaxValue, "a whole number of tokens");
                }
                if (min > max)
                {
                    Error($"{path}.promptTokens", $"min {min} is above max {max}", "make min at most max");
                }
            }
            return new Table.RouteMatch(model, Text("workspace"), Text("task"), headers, Flag("tools"), Flag("images"), Flag("stream"), min, max);
        }

        private ImmutableArray<Table.RouteTarget> ReadTargets(JsonElement element, string path, ImmutableDictionary<string, ProviderConfig> providers)
        {
            if (element.ValueKind != JsonValueKind.Array || element.GetArrayLength() is 0 or > Table.RoutingTable.MaxTargets)
            {
                Error(path, $"expected an array of 1 to {Table.RoutingTable.MaxTargets} targets, got {Describe(element)}", "write [ { \"provider\": \"openai\", \"model\": \"gpt-4o-mini\" } ]");
                return [];
            }
            var targets = ImmutableArray.CreateBuilder<Table.RouteTarget>();
            var i = 0;
            foreach (var item in element.EnumerateArray())
            {
                var here = $"{path}[{i++}]";
                if (!ExpectObject(item, here, "write { \"provider\": \"openai\", \"model\": \"gpt-4o-mini\" }"))
                {
                    continue;
                }
                var fields = Fields(item, here, s_targetFields);
                var provider = RequiredString(fields, "provider", here, "a provider name");
                if (provider is not null && !providers.ContainsKey(provider) && !_errors.Any(e => e.Path == $"$.providers.{provider}" || e.Path.StartsWith($"$.providers.{provider}.", StringComparison.Ordinal)))
                {
                    Error($"{here}.provider", $"no provider is named '{provider}'", $"name one of the providers: {string.Join(", ", providers.Keys.Order(StringComparer.Ordinal))}");
                }
                var model = RequiredString(fields, "model", here, "the provider's model name, e.g. \"gpt-4o-mini\"");
                var weight = fields.TryGetValue("weight", out var w) ? (int)(Integer(w, $"{here}.weight", 0, 1_000_000, "a whole number from 0 to 1000000") ?? 1) : 1;
                var maxConcurrency = fields.TryGetValue("maxConcurrency", out var mc)
                    ? (int)(Integer(mc, $"{here}.maxConcurrency", 1, 1_000_000, "a whole number of requests from 1 to 1000000, or leave it out for no limit") ?? 0)
                    : 0;
                var firstByteMs = fields.TryGetValue("firstByteMs", out var fb)
                    ? (int)(Integer(fb, $"{here}.firstByteMs", 1, 3_600_000, "a whole number of milliseconds from 1 to 3600000, or leave it out for the provider's timeout") ?? 0)
                    : 0;
                var price = 0.0;
                if (fields.TryGetValue("price", out var p))
                {
                    if (p.ValueKind == JsonValueKind.Number && p.GetDouble() >= 0)
                    {
                        price = p.GetDouble();
                    }
                    else
                    {
                        Error($"{here}.price", $"{Describe(p)} is not a price", "write USD per 1M tokens as a number, e.g. 0.6");
                    }
                }
                System.Collections.Frozen.FrozenDictionary<string, double>? quality = null;
                if (fields.TryGetValue("quality", out var q) && ExpectObject(q, $"{here}.quality", "write { \"math\": 0.9, \"*\": 0.8 }"))
                {
                    var scores = new Dictionary<string, double>(StringComparer.Ordinal);
                    foreach (var (task, score) in Fields(q, $"{here}.quality", known: null))
                    {
                        if (Fraction(score, $"{here}.quality.{task}") is { } value)
                        {
                            scores[task] = value;
                        }
                    }
                    quality = scores.ToFrozenDictionary(StringComparer.Ordinal);
                }
                if (provider is not null && model is not null)
                {
                    targets.Add(new Table.RouteTarget(provider, model, weight, price, quality, maxConcurrency, firstByteMs));
                }
            }
            return targets.ToImmutable();
        }

        private double? Fraction(JsonElement element, string path)
        {
            if (element.ValueKind == JsonValueKind.Number && element.GetDouble() is >= 0 and <= 1)
            {
                return element.GetDouble();
            }
            Error(path, $"{Describe(element)} is not between 0 and 1", "write a quality as a number from 0 to 1, e.g. 0.85");
            return null;
        }
    }
}
