using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Text;
using System.Text.Json;

namespace OctoMesh.Routing.Configuration;

/// <summary>
/// Reads a JSON configuration (comments and trailing commas allowed) and validates all of it:
/// every error is collected with its JSON path, the bad value and the fix; unknown fields are errors.
/// Secrets are written as <c>${ENV_NAME}</c> and resolved through the given environment.
/// </summary>
public static partial class ConfigLoader
{
    private static readonly JsonDocumentOptions s_options = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        MaxDepth = 32,
    };

    public static ConfigLoadResult LoadFile(string path, Func<string, string?> environment)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new(null, [new ConfigError("$", $"cannot read '{path}': {e.Message}", "pass the path of a readable JSON file")]);
        }
        return Load(bytes, environment);
    }

    public static ConfigLoadResult Load(ReadOnlyMemory<byte> utf8Json, Func<string, string?> environment)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8Json, s_options);
        }
        catch (JsonException e)
        {
            var where = e.LineNumber is { } line ? $" at line {line + 1}, column {e.BytePositionInLine + 1}" : "";
            return new(null, [new ConfigError("$", $"not valid JSON{where}", "correct the JSON syntax (comments and trailing commas are allowed)")]);
        }

        using (document)
        {
            var reader = new ConfigReader(environment);
            var config = reader.ReadRoot(document.RootElement);
            var errors = reader.Errors;
            return new(errors.IsEmpty ? config : null, errors);
        }
    }

    /// <summary>Walks the document once, building records and collecting errors as it goes.</summary>
    private sealed partial class ConfigReader(Func<string, string?> environment)
    {
        private static readonly string[] s_rootFields = ["urls", "providers", "models", "routes", "tasks", "clientKeys", "adminKeys", "limits", "prices", "metrics", "trace", "tracing", "cache", "budgets", "rateLimits", "redis", "workspaces", "tenancy", "taskModel", "shutdown"];
        private static readonly string[] s_taskFields = ["name", "markers", "in", "tools", "minChars", "maxChars"];
        private static readonly string[] s_adminKeyFields = ["name", "sha256"];
        private static readonly string[] s_routeFields = ["name", "match", "strategy", "qualityFloor", "targets", "retry", "breaker", "deadlineMs", "hedgeAfterMs", "cache", "shadow"];
        private static readonly string[] s_shadowFields = ["models", "share", "maxUsdPerDay", "judge", "results"];
        private static readonly string[] s_retryFields = ["attempts", "backoffMs", "maxBackoffMs"];
        private static readonly string[] s_breakerFields = ["failures", "openMs", "errorRate"];
        private static readonly string[] s_matchFields = ["model", "workspace", "task", "headers", "tools", "images", "stream", "promptTokens"];
        private static readonly string[] s_rangeFields = ["min", "max"];
        private static readonly string[] s_targetFields = ["provider", "model", "weight", "price", "quality", "maxConcurrency", "firstByteMs"];
        private const string StrategyList = "priority, weighted, least-latency, cheapest-above-quality";
        private static readonly string[] s_providerFields = ["kind", "baseUrl", "apiKey", "http", "timeouts", "defaultMaxTokens", "apiVersion", "streamUsage", "caFile"];
        private static readonly string[] s_timeoutFields = ["connectMs", "firstByteMs", "totalMs", "idleMs"];
        private static readonly string[] s_modelFields = ["provider", "model"];
        private static readonly string[] s_keyFields = ["name", "sha256", "workspace", "id", "salt", "models", "routes", "expires"];
        private static readonly string[] s_limitFields = ["maxBodyBytes", "headerTimeoutMs", "maxHeaderBytes", "maxHeaderCount", "minBodyBytesPerSecond", "maxConnections", "maxRequestsPerConnectionPerSecond"];
        private const string KindList = "openai, openai-compatible, azure-openai, anthropic, gemini, sim";

        private readonly ImmutableArray<ConfigError>.Builder _errors = ImmutableArray.CreateBuilder<ConfigError>();

        public ImmutableArray<ConfigError> Errors => _errors.ToImmutable();

        public GatewayConfig ReadRoot(JsonElement root)
        {
            if (!ExpectObject(root, "$", "wrap the settings in { … }"))
            {
                return new GatewayConfig();
            }
            var fields = Fields(root, "$", s_rootFields);
            var config = new GatewayConfig();

            if (fields.TryGetValue("urls", out var urls))
            {
                config = config with { Urls = ReadUrls(urls, "$.urls") };
            }
            var providers = fields.TryGetValue("providers", out var p) ? ReadProviders(p, "$.providers") : ImmutableDictionary<string, ProviderConfig>.Empty;
            if (providers.IsEmpty && !fields.ContainsKey("providers"))
            {
                Error("$.providers", "no providers are configured", "add at least one, e.g. \"providers\": { \"sim\": { \"kind\": \"sim\" } }");
            }
            var routes = fields.TryGetValue("routes", out var r) ? ReadRoutes(r, "$.routes", providers) : [];
            var models = fields.TryGetValue("models", out var m) ? ReadModels(m, "$.models", providers) : [];
            if (models.IsEmpty && !fields.ContainsKey("models") && !fields.ContainsKey("routes"))
            {
                Error("$.models", "no models are configured", "add at least one, e.g. \"models\": { \"*\": { \"provider\": \"sim\" } }");
            }
            var clientKeys = fields.TryGetValue("clientKeys", out var k) ? ReadClientKeys(k, "$.clientKeys") : [];
            config = config with
            {
                Providers = providers,
                Models = models,
                Routes = routes,
                Tasks = fields.TryGetValue("tasks", out var t) ? ReadTasks(t, "$.tasks") : [],
                TaskModel = fields.TryGetValue("taskModel", out var tm) ? ReadTaskModel(tm, "$.taskModel") : null,
                Shutdown = fields.TryGetValue("shutdown", out var sd) ? ReadShutdown(sd, "$.shutdown") : new ShutdownConfig(),
                ClientKeys = clientKeys,
                Budgets = fields.TryGetValue("budgets", out var b) ? ReadBudgets(b, "$.budgets", clientKeys) : [],
                RateLimits = fields.TryGetValue("rateLimits", out var rl) ? ReadRateLimits(rl, "$.rateLimits", clientKeys) : [],
                Redis = fields.TryGetValue("redis", out var rd) ? ReadRedis(rd, "$.redis") : null,
                Workspaces = fields.TryGetValue("workspaces", out var ws) ? ReadWorkspaces(ws, "$.workspaces") : [],
                Tenancy = fields.TryGetValue("tenancy", out var tn) ? ReadTenancy(tn, "$.tenancy") : new TenancyConfig(),
                AdminKeys = fields.TryGetValue("adminKeys", out var a) ? ReadClientKeys(a, "$.adminKeys", admin: true) : [],
                Limits = fields.TryGetValue("limits", out var l) ? ReadLimits(l, "$.limits") : new LimitsConfig(),
                Prices = fields.TryGetValue("prices", out var pr) ? ReadPrices(pr, "$.prices") : [],
                Metrics = fields.TryGetValue("metrics", out var me) ? ReadMetrics(me, "$.metrics") : new MetricsConfig(),
                Trace = fields.TryGetValue("trace", out var tr) ? ReadTrace(tr, "$.trace") : new TraceConfig(),
                Tracing = fields.TryGetValue("tracing", out var tg) ? ReadTracing(tg, "$.tracing") : new TracingConfig(),
                Cache = fields.TryGetValue("cache", out var ca) ? ReadCache(ca, "$.cache", providers) : new CacheConfig(),
            };
            foreach (var url in config.Metrics.Urls.Where(url => config.Urls.Any(api => new Uri(api).Port == new Uri(url).Port)))
            {
                Error("$.metrics.urls", $"{url} has port {new Uri(url).Port}, one of the API's (urls)", "give the management listener a port of its own, e.g. 9464");
            }
            return config;
        }

        private ImmutableArray<string> ReadUrls(JsonElement element, string path)
        {
            if (element.ValueKind == JsonValueKind.String)
            {
                return ReadUrl(element, path) is { } one ? [one] : [];
            }
            if (element.ValueKind != JsonValueKind.Array || element.GetArrayLength() == 0)
            {
                Error(path, $"expected a non-empty array of URLs, got {Describe(element)}", "write e.g. [\"http://127.0.0.1:8080\"]");
                return [];
            }
            var urls = ImmutableArray.CreateBuilder<string>();
            var i = 0;
            foreach (var item in element.EnumerateArray())
            {
                if (ReadUrl(item, $"{path}[{i++}]") is { } url)
                {
                    urls.Add(url);
                }
            }
            return urls.ToImmutable();
        }

        private string? ReadUrl(JsonElement element, string path)
        {
            if (element.ValueKind == JsonValueKind.String
                && Uri.TryCreate(element.GetString(), UriKind.Absolute, out var uri)
                && uri.Scheme is "http" or "https")
            {
                return element.GetString();
            }
            Error(path, $"{Describe(element)} is not an http(s) listen URL", "write e.g. \"http://127.0.0.1:8080\" or \"http://0.0.0.0:8080\"");
            return null;
        }
    }
}

