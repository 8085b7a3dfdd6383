using System.Collections.Immutable;
using System.Text.Json;

namespace OctoMesh.Routing.Configuration;

public static partial class ConfigLoader
{
    /// <summary>The <c>budgets</c> and <c>redis</c> sections.</summary>
    private sealed partial class ConfigReader
    {
        private static readonly string[] s_budgetFields = ["name", "workspace", "key", "usd", "period", "hard"];
        private static readonly string[] s_rateLimitFields = ["name", "workspace", "key", "model", "requestsPerMinute", "tokensPerMinute"];
        private static readonly string[] s_redisFields = ["connection", "user", "password", "caFile", "timeoutMs"];
        private static readonly string[] s_workspaceFields = ["name", "content"];
        private static readonly string[] s_tenancyFields = ["directory", "keyring", "requireKeys"];

        private ImmutableArray<WorkspaceConfig> ReadWorkspaces(JsonElement element, string path)
        {
            if (element.ValueKind != JsonValueKind.Array)
            {
                Error(path, $"expected an array, got {Describe(element)}", "write [ { \"name\": \"team-a\", \"content\": \"cache\" } ]");
                return [];
            }
            var workspaces = ImmutableArray.CreateBuilder<WorkspaceConfig>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            var i = 0;
            foreach (var item in element.EnumerateArray())
            {
                var here = $"{path}[{i++}]";
                if (!ExpectObject(item, here, "write { \"name\": \"team-a\", \"content\": \"cache\" }"))
                {
                    continue;
                }
                var fields = Fields(item, here, s_workspaceFields);
                var name = RequiredString(fields, "name", here, "the workspace id client keys name, e.g. \"team-a\"");
                var content = ContentPolicy.None;
                if (fields.TryGetValue("content", out var policy))
                {
                    if (policy.ValueKind == JsonValueKind.String && ContentPolicies.Parse(policy.GetString()) is { } parsed)
                    {
                        content = parsed;
                    }
                    else
                    {
                        Error($"{here}.content", $"{Describe(policy)} is not a content policy", "write \"none\", \"cache\" or \"full\"");
                    }
                }
                if (name is not null && !names.Add(name))
                {
                    Error($"{here}.name", $"workspace '{name}' appears twice", "keep one of the two");
                }
                else if (name is not null)
                {
                    workspaces.Add(new WorkspaceConfig(name, content));
                }
            }
            return workspaces.ToImmutable();
        }

        private static readonly string[] s_taskModelFields = ["centroids", "minSimilarity", "vectors"];

        private TaskModelConfig? ReadTaskModel(JsonElement element, string path)
        {
            if (!ExpectObject(element, path, "write { \"centroids\": \"centroids.json\" }"))
            {
                return null;
            }
            var fields = Fields(element, path, s_taskModelFields);
            var centroids = RequiredString(fields, "centroids", path, "the file octomesh train-classifier wrote");
            var similarity = 0.5;
            if (fields.TryGetValue("minSimilarity", out var min))
            {
                if (min.ValueKind == JsonValueKind.Number && min.GetDouble() is > -1 and <= 1 and var value)
                {
                    similarity = value;
                }
                else
                {
                    Error($"{path}.minSimilarity", $"{Describe(min)} is not a similarity", "write a number above -1 and at most 1, e.g. 0.5");
                }
            }
            var vectors = fields.TryGetValue("vectors", out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            return centroids is null ? null : new TaskModelConfig(centroids, similarity, vectors);
        }

        private TenancyConfig ReadTenancy(JsonElement element, string path)
        {
            var tenancy = new TenancyConfig();
            if (!ExpectObject(element, path, "write { \"directory\": \"data/tenancy\" }"))
            {
                return tenancy;
            }
            var fields = Fields(element, path, s_tenancyFields);
            string? Text(string name)
            {
                if (!fields.TryGetValue(name, out var value))
                {
                    return null;
                }
                if (value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } text)
                {
                    return text;
                }
                Error($"{path}.{name}", $"{Describe(value)} is not a path", "write a file system path");
                return null;
            }
            var require = Flag(fields, "requireKeys", path, "write true when every key is made through the admin API") ?? false;
            return new TenancyConfig(Text("directory") ?? TenancyConfig.DefaultDirectory, Text("keyring"), require);
        }

        private ImmutableArray<BudgetConfig> ReadBudgets(JsonElement element, string path, ImmutableArray<ClientKeyConfig> keys)
        {
            if (element.ValueKind != JsonValueKind.Array)
            {
                Error(path, $"expected an array, got {Describe(element)}", "write [ { \"name\": \"team-a\", \"workspace\": \"team-a\", \"usd\": 50, \"period\": \"day\" } ]");
                return [];
            }
            var budgets = ImmutableArray.CreateBuilder<BudgetConfig>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            var i = 0;
            foreach (var item in element.EnumerateArray())
            {
                var here = $"{path}[{i++}]";
                if (!ExpectObject(item, here, "write { \"name\": \"team-a\", \"workspace\": \"team-a\", \"usd\": 50, \"period\": \"day\" }"))
                {
                    continue;
                }
                var errorsBefore = _errors.Count;
                var fields = Fields(item, here, s_budgetFields);
                string? Text(string name) => OptionalText(fields, name);
                var name = Text("name");
                if (name is null)
                {
                    Error($"{here}.name", "a budget needs a name", "write e.g. \"name\": \"team-a-daily\"");
                }
                else if (!names.Add(name))
                {
                    Error($"{here}.name", $"'{name}' appears twice", "give each budget its own name");
                }
                var workspace = Text("workspace");
                var key = Text("key");
                if (workspace is null == key is null)
                {
                    Error(here, "a budget limits one workspace or one key", "write \"workspace\": \"NAME\" or \"key\": \"KEY NAME\", not both");
                }
                else if (key is not null && !keys.Any(k => k.Name == key))
                {
                    Error($"{here}.key", $"no client key is named '{key}'", "name one of clientKeys");
                }
                long micros = 0;
                if (fields.TryGetValue("usd", out var usd) && usd.ValueKind == JsonValueKind.Number && usd.TryGetDecimal(out var dollars) && dollars > 0 && dollars <= 1_000_000_000)
                {
                    micros = (long)Math.Round(dollars * Pricing.ModelPrice.MicrosPerUsd);
                }
                else
                {
                    Error($"{here}.usd", $"expected US dollars above 0, got {(fields.TryGetValue("usd", out var u) ? Describe(u) : "nothing")}", "write e.g. 50 or 2.5");
                }
                var period = Text("period") switch
                {
                    "day" or null => BudgetPeriod.Day,
                    "month" => BudgetPeriod.Month,
                    var other => Fail(other),
                };
                BudgetPeriod Fail(string other)
                {
                    Error($"{here}.period", $"'{other}' is not a period", "write \"day\" or \"month\"");
                    return BudgetPeriod.Day;
                }
                var hard = Flag(fields, "hard", here, "write false for a budget that only warns") ?? true;
                if (_errors.Count == errorsBefore)
                {
                    budgets.Add(new BudgetConfig(name!, workspace, key, micros, period, hard));
                }
            }
            return budgets.ToImmutable();
        }

        private ImmutableArray<RateLimitConfig> ReadRateLimits(JsonElement element, string path, ImmutableArray<ClientKeyConfig> keys)
        {
            if (element.ValueKind != JsonValueKind.Array)
            {
                Error(path, $"expected an array, got {Describe(element)}", "write [ { \"name\": \"team-a\", \"workspace\": \"team-a\", \"requestsPerMinute\": 600 } ]");
                return [];
            }
            var limits = ImmutableArray.CreateBuilder<RateLimitConfig>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            var i = 0;
            foreach (var item in element.EnumerateArray())
            {
                var here = $"{path}[{i++}]";
                if (!ExpectObject(item, here, "write { \"name\": \"team-a\", \"workspace\": \"team-a\", \"requestsPerMinute\": 600 }"))
                {
                    continue;
                }
                var errorsBefore = _errors.Count;
                var fields = Fields(item, here, s_rateLimitFields);
                string? Text(string name) => OptionalText(fields, name);
                var name = Text("name");
                if (name is null)
                {
                    Error($"{here}.name", "a rate limit needs a name", "write e.g. \"name\": \"team-a\"");
                }
                else if (!names.Add(name))
                {
                    Error($"{here}.name", $"'{name}' appears twice", "give each rate limit its own name");
                }
                var key = Text("key");
                if (key is not null && !keys.Any(k => k.Name == key))
                {
                    Error($"{here}.key", $"no client key is named '{key}'", "name one of clientKeys");
                }
                var requests = fields.TryGetValue("requestsPerMinute", out var r)
                    ? (int?)Integer(r, $"{here}.requestsPerMinute", 1, 100_000_000, "a whole number of requests from 1 to 100000000") : null;
                var tokens = fields.TryGetValue("tokensPerMinute", out var t)
                    ? Integer(t, $"{here}.tokensPerMinute", 1, 100_000_000_000, "a whole number of tokens from 1 to 100000000000") : null;
                if (!fields.ContainsKey("requestsPerMinute") && !fields.ContainsKey("tokensPerMinute"))
                {
                    Error(here, "a rate limit limits requests, tokens or both", "write \"requestsPerMinute\" and/or \"tokensPerMinute\"");
                }
                if (_errors.Count == errorsBefore)
                {
                    limits.Add(new RateLimitConfig(name!, Text("workspace"), key, Text("model"), requests, tokens));
                }
            }
            return limits.ToImmutable();
        }

        private RedisConfig? ReadRedis(JsonElement element, string path)
        {
            const string Example = "write { \"connection\": \"10.0.0.5:6379\", \"password\": \"${REDIS_PASSWORD}\" }";
            if (!ExpectObject(element, path, Example))
            {
                return null;
            }
            if (element.TryGetProperty("address", out _))
            {
                Error($"{path}.address", "renamed", "write it as \"connection\": a StackExchange.Redis configuration string such as \"10.0.0.5:6379\" or \"cache.internal:6380,ssl=true\"");
            }
            var fields = Fields(element, path, s_redisFields, ["address"]);
            string? connection = null;
            if (fields.TryGetValue("connection", out var c))
            {
                connection = ReadRedisConnection(c, $"{path}.connection");
            }
            else if (!fields.ContainsKey("address"))
            {
                Error($"{path}.connection", "missing", "write e.g. \"127.0.0.1:6379\"");
            }
            var redis = new RedisConfig(connection ?? "");
            if (fields.TryGetValue("password", out var password) && ReadSecret(password, $"{path}.password") is { } secret)
            {
                redis = redis with { Auth = new RedisCredentials(fields.TryGetValue("user", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString() : null, secret) };
            }
            else if (fields.ContainsKey("user") && !fields.ContainsKey("password"))
            {
                Error($"{path}.user", "a Redis user needs a password", "add \"password\": \"${REDIS_PASSWORD}\"");
            }
            if (fields.TryGetValue("caFile", out var ca))
            {
                if (ca.ValueKind == JsonValueKind.String && ca.GetString() is { Length: > 0 } file)
                {
                    redis = redis with { CaFile = file };
                }
                else
                {
                    Error($"{path}.caFile", $"expected a file name, got {Describe(ca)}", "write the path of the PEM file of the CA that signed Redis's certificate");
                }
            }
            if (fields.TryGetValue("timeoutMs", out var timeout) && Integer(timeout, $"{path}.timeoutMs", 1, 10_000, "a whole number of milliseconds from 1 to 10000") is { } ms)
            {
                redis = redis with { TimeoutMs = (int)ms };
            }
            return connection is null ? null : redis;
        }

        /// <summary>
        /// A StackExchange.Redis configuration string: endpoints (<c>host:port</c>, or a host alone for 6379) and
        /// <c>name=value</c> options, comma-separated. Secrets are refused here: they come from the environment.
        /// </summary>
        private string? ReadRedisConnection(JsonElement element, string path)
        {
            var text = element.ValueKind == JsonValueKind.String ? element.GetString()!.Trim() : "";
            var endpoints = 0;
            foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var equals = part.IndexOf('=');
                if (equals > 0)
                {
                    var option = part[..equals].Trim();
                    if (option.Equals("password", StringComparison.OrdinalIgnoreCase) || option.Equals("user", StringComparison.OrdinalIgnoreCase))
                    {
                        Error(path, $"'{option}' is not accepted in the connection string: a secret would sit in the file",
                            $"remove it and write \"{option.ToLowerInvariant()}\" beside \"connection\" (the password as \"${{REDIS_PASSWORD}}\")");
                        return null;
                    }
                    continue;
                }
                var colon = part.LastIndexOf(':');
                if (part.Contains(' ') || (colon >= 0 && !(colon > 0 && int.TryParse(part.AsSpan(colon + 1), System.Globalization.NumberStyles.None,
                    System.Globalization.CultureInfo.InvariantCulture, out var port) && port is > 0 and < 65536)))
                {
                    Error(path, $"'{part}' is neither host:port nor name=value", "write e.g. \"127.0.0.1:6379\" or \"cache.internal:6380,ssl=true\"");
                    return null;
                }
                endpoints++;
            }
            if (endpoints == 0)
            {
                Error(path, $"{Describe(element)} names no Redis server", "write e.g. \"127.0.0.1:6379\"");
                return null;
            }
            return text;
        }
    }
}
