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
        private static readonly string[] s_timeoutFields = ["connectMs", "firstByteMs", "totalMs"];
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

        private ImmutableDictionary<string, ProviderConfig> ReadProviders(JsonElement element, string path)
        {
            var result = ImmutableDictionary.CreateBuilder<string, ProviderConfig>(StringComparer.Ordinal);
            if (!ExpectObject(element, path, "write providers as { \"name\": { \"kind\": … } }"))
            {
                return result.ToImmutable();
            }
            foreach (var (name, value) in Fields(element, path, known: null))
            {
                var here = $"{path}.{name}";
                if (!IsSimpleName(name))
                {
                    Error(here, $"provider name '{name}' has characters other than a-z, 0-9, '-' and '_'", "rename it, e.g. 'openai' or 'local-vllm'");
                }
                if (ReadProvider(value, here, name) is { } provider)
                {
                    result[name] = provider;
                }
            }
            if (!element.EnumerateObject().Any())
            {
                Error(path, "no providers are configured", "add at least one, e.g. { \"sim\": { \"kind\": \"sim\" } }");
            }
            return result.ToImmutable();
        }

        private ProviderConfig? ReadProvider(JsonElement element, string path, string name)
        {
            if (!ExpectObject(element, path, "write { \"kind\": \"openai\", \"baseUrl\": … }"))
            {
                return null;
            }
            var fields = Fields(element, path, s_providerFields);
            var errorsBefore = _errors.Count;

            ProviderKind? kind = null;
            if (!fields.TryGetValue("kind", out var kindElement))
            {
                Error($"{path}.kind", "missing", $"add \"kind\": one of {KindList}");
            }
            else
            {
                kind = kindElement.ValueKind == JsonValueKind.String ? ParseKind(kindElement.GetString()!) : null;
                if (kind is null)
                {
                    Error($"{path}.kind", $"unknown provider kind {Describe(kindElement)}", $"use one of {KindList}");
                }

            }

            Uri? baseUrl = null;
            if (fields.TryGetValue("baseUrl", out var urlElement))
            {
                baseUrl = ReadBaseUrl(urlElement, $"{path}.baseUrl");
            }
            else if (kind is ProviderKind.OpenAI)
            {
                baseUrl = new Uri("https://api.openai.com/v1");
            }
            else if (kind is ProviderKind.Anthropic)
            {
                baseUrl = new Uri("https://api.anthropic.com/v1");
            }
            else if (kind is ProviderKind.Gemini)
            {
                baseUrl = new Uri("https://generativelanguage.googleapis.com/v1beta");
            }
            else if (kind is ProviderKind.OpenAICompatible)
            {
                Error($"{path}.baseUrl", "missing", "add the server's API root, e.g. \"http://127.0.0.1:8000/v1\"");
            }
            else if (kind is ProviderKind.AzureOpenAI)
            {
                Error($"{path}.baseUrl", "missing", "add the resource endpoint, e.g. \"https://my-resource.openai.azure.com\"");
            }

            string? apiKey = null;
            if (fields.TryGetValue("apiKey", out var keyElement))
            {
                apiKey = ReadSecret(keyElement, $"{path}.apiKey");
            }
            else if (kind is ProviderKind.OpenAI)
            {
                Error($"{path}.apiKey", "missing; OpenAI requires a key", "add \"apiKey\": \"${OPENAI_API_KEY}\"");
            }
            else if (kind is ProviderKind.Anthropic)
            {
                Error($"{path}.apiKey", "missing; Anthropic requires a key", "add \"apiKey\": \"${ANTHROPIC_API_KEY}\"");
            }
            else if (kind is ProviderKind.AzureOpenAI)
            {
                Error($"{path}.apiKey", "missing; Azure OpenAI requires a key", "add \"apiKey\": \"${AZURE_OPENAI_API_KEY}\"");
            }
            else if (kind is ProviderKind.Gemini)
            {
                Error($"{path}.apiKey", "missing; Gemini requires a key", "add \"apiKey\": \"${GEMINI_API_KEY}\"");
            }

            var http = UpstreamHttpVersion.Http11;
            if (fields.TryGetValue("http", out var httpElement))
            {
                switch (httpElement.ValueKind == JsonValueKind.String ? httpElement.GetString() : null)
                {
                    case "1.1": break;
                    case "2": http = UpstreamHttpVersion.Http2; break;
                    default:
                        Error($"{path}.http", $"unknown HTTP version {Describe(httpElement)}", "use \"1.1\" or \"2\" (h2c over plain http, ALPN over https)");
                        break;
                }
            }

            var timeouts = fields.TryGetValue("timeouts", out var t) ? ReadTimeouts(t, $"{path}.timeouts") : TimeoutsConfig.Default;
            var maxTokens = fields.TryGetValue("defaultMaxTokens", out var m)
                ? (int)(Integer(m, $"{path}.defaultMaxTokens", 1, 1_000_000, "a whole number of tokens from 1 to 1000000") ?? 0)
                : ProviderConfig.DefaultMaxTokensValue;

            string? apiVersion = kind is ProviderKind.AzureOpenAI ? ProviderConfig.DefaultAzureApiVersion : null;
            if (fields.TryGetValue("apiVersion", out var v))
            {
                if (kind is not ProviderKind.AzureOpenAI)
                {
                    Error($"{path}.apiVersion", "only Azure OpenAI providers take an apiVersion", "remove it");
                }
                else if (v.ValueKind != JsonValueKind.String || v.GetString()!.Length == 0 || !v.GetString()!.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.'))
                {
                    Error($"{path}.apiVersion", $"{Describe(v)} is not an API version", $"write e.g. \"{ProviderConfig.DefaultAzureApiVersion}\"");
                }
                else
                {
                    apiVersion = v.GetString();
                }
            }
            var streamUsage = Flag(fields, "streamUsage", path, "write false for servers that reject stream_options, else leave it out") ?? true;

            string? caFile = null;
            if (fields.TryGetValue("caFile", out var ca))
            {
                if (ca.ValueKind != JsonValueKind.String || ca.GetString() is not { Length: > 0 } file)
                {
                    Error($"{path}.caFile", $"expected a file name, got {Describe(ca)}", "write the path of the PEM file of the CA that signed the provider's certificate");
                }
                else if (baseUrl is { Scheme: not "https" })
                {
                    Error($"{path}.caFile", "a CA is for TLS, and the baseUrl is plain http", "remove it, or write the baseUrl with https://");
                }
                else
                {
                    caFile = file;
                }
            }

            return kind is { } k && _errors.Count == errorsBefore
                ? new ProviderConfig(name, k, baseUrl, apiKey, http, timeouts, maxTokens, apiVersion, streamUsage, caFile)
                : null;
        }

        private static ProviderKind? ParseKind(string value) => value switch
        {
            "openai" => ProviderKind.OpenAI,
            "openai-compatible" => ProviderKind.OpenAICompatible,
            "azure-openai" => ProviderKind.AzureOpenAI,
            "anthropic" => ProviderKind.Anthropic,
            "gemini" => ProviderKind.Gemini,
            "sim" => ProviderKind.Sim,
            _ => null,
        };

        private Uri? ReadBaseUrl(JsonElement element, string path)
        {
            if (element.ValueKind == JsonValueKind.String
                && Uri.TryCreate(element.GetString(), UriKind.Absolute, out var uri)
                && uri.Scheme is "http" or "https"
                && string.IsNullOrEmpty(uri.Query) && string.IsNullOrEmpty(uri.Fragment))
            {
                if (uri.UserInfo.Length > 0)
                {
                    // Credentials in a URL end up in logs and banners; keys belong in apiKey.
                    Error(path, "the URL carries a user name or password", "remove them from the URL and put the key in \"apiKey\": \"${ENV_NAME}\"");
                    return null;
                }
                return new Uri(uri.GetLeftPart(UriPartial.Path).TrimEnd('/'));
            }
            Error(path, $"{Describe(element)} is not an http(s) URL without query or fragment", "write the API root, e.g. \"https://api.openai.com/v1\"");
            return null;
        }

        /// <summary>Secrets live in the environment; the config names them. Values are never echoed.</summary>
        private string? ReadSecret(JsonElement element, string path)
        {
            var text = element.ValueKind == JsonValueKind.String ? element.GetString()! : null;
            if (text is null || !text.StartsWith("${", StringComparison.Ordinal) || !text.EndsWith('}'))
            {
                Error(path, "a key must be a ${ENV_NAME} reference; literal keys are not accepted in config files", "put the key in an environment variable and write \"${ITS_NAME}\"");
                return null;
            }
            var variable = text[2..^1];
            if (variable.Length == 0 || !variable.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
            {
                Error(path, $"'{text}' is not a valid environment variable reference", "use letters, digits and '_', e.g. \"${OPENAI_API_KEY}\"");
                return null;
            }
            var value = environment(variable);
            if (string.IsNullOrEmpty(value))
            {
                Error(path, $"environment variable {variable} is not set", $"export {variable} before starting, or remove this provider");
                return null;
            }
            return value;
        }

        private TimeoutsConfig ReadTimeouts(JsonElement element, string path)
        {
            var d = TimeoutsConfig.Default;
            if (!ExpectObject(element, path, "write { \"connectMs\": 10000, \"firstByteMs\": 120000, \"totalMs\": 600000 }"))
            {
                return d;
            }
            var fields = Fields(element, path, s_timeoutFields);
            var timeouts = new TimeoutsConfig(
                Milliseconds(fields, "connectMs", path, d.Connect),
                Milliseconds(fields, "firstByteMs", path, d.FirstByte),
                Milliseconds(fields, "totalMs", path, d.Total));
            if (timeouts.FirstByte > timeouts.Total)
            {
                Error($"{path}.firstByteMs", $"{timeouts.FirstByte.TotalMilliseconds} is longer than totalMs ({timeouts.Total.TotalMilliseconds})",
                    "make firstByteMs at most totalMs: the total deadline includes the wait for the first byte");
            }
            return timeouts;
        }

        private TimeSpan Milliseconds(Dictionary<string, JsonElement> fields, string name, string path, TimeSpan fallback)
        {
            if (!fields.TryGetValue(name, out var element))
            {
                return fallback;
            }
            const long Day = 24 * 3600 * 1000;
            return Integer(element, $"{path}.{name}", 1, Day, "a whole number of milliseconds from 1 to 86400000") is { } ms
                ? TimeSpan.FromMilliseconds(ms)
                : fallback;
        }

        private ImmutableArray<ModelConfig> ReadModels(JsonElement element, string path, ImmutableDictionary<string, ProviderConfig> providers)
        {
            if (!ExpectObject(element, path, "write models as { \"alias\": { \"provider\": …, \"model\": … } }"))
            {
                return [];
            }
            var models = ImmutableArray.CreateBuilder<ModelConfig>();
            if (!element.EnumerateObject().Any())
            {
                Error(path, "no models are configured", "add at least one, e.g. { \"*\": { \"provider\": \"sim\" } }");
            }
            foreach (var (pattern, value) in Fields(element, path, known: null))
            {
                var here = $"{path}['{pattern}']";
                if (!IsModelPattern(pattern))
                {
                    Error(here, $"'{pattern}' is not a model name or pattern", "write an exact name, a prefix ending in '*' such as 'gpt-*', or '*' alone");
                    continue;
                }
                if (!ExpectObject(value, here, "write { \"provider\": \"name\", \"model\": \"upstream-model\" }"))
                {
                    continue;
                }
                var fields = Fields(value, here, s_modelFields);
                string? provider = null;
                if (!fields.TryGetValue("provider", out var providerElement) || providerElement.ValueKind != JsonValueKind.String)
                {
                    Error($"{here}.provider", providerElement.ValueKind == JsonValueKind.Undefined ? "missing" : $"expected a provider name, got {Describe(providerElement)}",
                        $"name one of the providers: {string.Join(", ", providers.Keys.Order(StringComparer.Ordinal))}");
                }
                else
                {
                    provider = providerElement.GetString()!;
                    var providerPath = $"$.providers.{provider}";
                    var alreadyReported = _errors.Any(e => e.Path == providerPath || e.Path.StartsWith(providerPath + ".", StringComparison.Ordinal));
                    if (!providers.ContainsKey(provider) && !alreadyReported)
                    {
                        Error($"{here}.provider", $"no provider is named '{provider}'", $"name one of the providers: {string.Join(", ", providers.Keys.Order(StringComparer.Ordinal))}");
                    }
                }
                string? upstream = null;
                if (fields.TryGetValue("model", out var modelElement))
                {
                    upstream = modelElement.ValueKind == JsonValueKind.String ? modelElement.GetString() : null;
                    if (string.IsNullOrWhiteSpace(upstream))
                    {
                        Error($"{here}.model", $"expected the upstream model name, got {Describe(modelElement)}", "write the provider's model name, e.g. \"gpt-4o-mini\", or omit it to send the client's name unchanged");
                        upstream = null;
                    }
                }
                if (provider is not null)
                {
                    models.Add(new ModelConfig(pattern, provider, upstream));
                }
            }
            return models.ToImmutable();
        }

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

        private ShutdownConfig ReadShutdown(JsonElement element, string path)
        {
            var shutdown = new ShutdownConfig();
            if (!ExpectObject(element, path, "write { \"delayMs\": 5000, \"timeoutMs\": 30000 }"))
            {
                return shutdown;
            }
            var fields = Fields(element, path, s_shutdownFields);
            if (fields.TryGetValue("delayMs", out var delay) && Integer(delay, $"{path}.delayMs", 0, 600_000, "a whole number of milliseconds from 0 to 600000") is { } ms)
            {
                shutdown = shutdown with { DelayMs = (int)ms };
            }
            if (fields.TryGetValue("timeoutMs", out var timeout) && Integer(timeout, $"{path}.timeoutMs", 0, 3_600_000, "a whole number of milliseconds from 0 to 3600000") is { } t)
            {
                shutdown = shutdown with { TimeoutMs = (int)t };
            }
            return shutdown;
        }

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

        /// <param name="admin">Admin keys have no workspace: they act on the whole gateway.</param>
        private ImmutableArray<ClientKeyConfig> ReadClientKeys(JsonElement element, string path, bool admin = false)
        {
            if (element.ValueKind != JsonValueKind.Array)
            {
                Error(path, $"expected an array, got {Describe(element)}", "write [ { \"name\": …, \"sha256\": …, \"workspace\": … } ]");
                return [];
            }
            var keys = ImmutableArray.CreateBuilder<ClientKeyConfig>();
            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            var i = 0;
            foreach (var item in element.EnumerateArray())
            {
                var here = $"{path}[{i++}]";
                if (!ExpectObject(item, here, "write { \"name\": \"ci\", \"sha256\": \"<64 hex digits>\", \"workspace\": \"team-a\" }"))
                {
                    continue;
                }
                var fields = Fields(item, here, admin ? s_adminKeyFields : s_keyFields);
                var name = RequiredString(fields, "name", here, "a label such as \"ci\"");
                var workspace = admin ? "*" : RequiredString(fields, "workspace", here, "the workspace id, e.g. \"team-a\"");
                var hash = Hex(RequiredString(fields, "sha256", here, "the SHA-256 of the key in hex: printf %s \"$KEY\" | sha256sum"),
                    $"{here}.sha256", 32, "write the SHA-256 of the key in hex: printf %s \"$KEY\" | sha256sum");
                var id = fields.TryGetValue("id", out var idElement) ? KeyId(idElement, $"{here}.id") : null;
                var salt = fields.TryGetValue("salt", out var saltElement)
                    ? Hex(saltElement.ValueKind == JsonValueKind.String ? saltElement.GetString() : null, $"{here}.salt", 16, "write the 32 hex digits `octomesh key new` printed")
                    : null;
                if (id is null != salt is null)
                {
                    Error(here, "an issued key needs both its id and its salt", "copy the entry `octomesh key new` printed whole");
                }
                if (hash is not null && !seen.Add(id ?? Convert.ToHexString(hash)))
                {
                    Error(id is null ? $"{here}.sha256" : $"{here}.id", "the same key appears twice", "remove the duplicate entry");
                }
                if (name is null || workspace is null || hash is null)
                {
                    continue;
                }
                keys.Add(new ClientKeyConfig(name, hash, workspace)
                {
                    Id = id,
                    Salt = salt,
                    Models = fields.TryGetValue("models", out var models) ? Names(models, $"{here}.models", patterns: true) : [],
                    Routes = fields.TryGetValue("routes", out var routes) ? Names(routes, $"{here}.routes", patterns: false) : [],
                    ExpiresAt = fields.TryGetValue("expires", out var expires) ? Instant(expires, $"{here}.expires") : null,
                });
            }
            return keys.ToImmutable();
        }

        /// <summary>Hex of exactly <paramref name="bytes"/> bytes, or null with an error.</summary>
        private byte[]? Hex(string? hex, string path, int bytes, string fix)
        {
            if (hex is null)
            {
                return null;
            }
            if (hex.Length != bytes * 2 || !hex.All(char.IsAsciiHexDigit))
            {
                Error(path, $"expected {bytes * 2} hex digits, got {hex.Length} characters", fix);
                return null;
            }
            return Convert.FromHexString(hex);
        }

        private string? KeyId(JsonElement element, string path)
        {
            if (element.ValueKind == JsonValueKind.String && element.GetString() is { } id && KeyIds.IsValid(id))
            {
                return id;
            }
            Error(path, $"{Describe(element)} is not a key id", $"write the {KeyIds.Length} characters (a-z, 2-7) `octomesh key new` printed");
            return null;
        }

        /// <summary>An array of model names (<c>prefix*</c> patterns allowed when <paramref name="patterns"/>) or route names.</summary>
        private ImmutableArray<string> Names(JsonElement element, string path, bool patterns)
        {
            if (element.ValueKind != JsonValueKind.Array)
            {
                Error(path, $"expected an array of names, got {Describe(element)}", patterns ? "write e.g. [\"gpt-4o-mini\", \"claude-*\"]" : "write e.g. [\"chat\"]");
                return [];
            }
            var names = ImmutableArray.CreateBuilder<string>();
            var i = 0;
            foreach (var item in element.EnumerateArray())
            {
                var text = item.ValueKind == JsonValueKind.String ? item.GetString() : null;
                if (text is null || text.Length == 0 || (patterns ? !IsModelPattern(text) : !IsSimpleName(text)))
                {
                    Error($"{path}[{i}]", $"{Describe(item)} is not a {(patterns ? "model name or pattern" : "route name")}", "write a non-empty name");
                }
                else
                {
                    names.Add(text);
                }
                i++;
            }
            return names.ToImmutable();
        }

        private DateTimeOffset? Instant(JsonElement element, string path)
        {
            if (element.ValueKind == JsonValueKind.String && DateTimeOffset.TryParse(element.GetString(), System.Globalization.CultureInfo.InvariantCulture,
                    System.Globalization.DateTimeStyles.AssumeUniversal, out var instant))
            {
                return instant.ToUniversalTime();
            }
            Error(path, $"{Describe(element)} is not a date and time", "write ISO 8601, e.g. \"2027-01-31T00:00:00Z\"");
            return null;
        }

        private LimitsConfig ReadLimits(JsonElement element, string path)
        {
            var limits = new LimitsConfig();
            if (!ExpectObject(element, path, "write { \"maxBodyBytes\": 16777216, \"headerTimeoutMs\": 10000 }"))
            {
                return limits;
            }
            var fields = Fields(element, path, s_limitFields);
            if (fields.TryGetValue("maxBodyBytes", out var max)
                && Integer(max, $"{path}.maxBodyBytes", 1024, 1L << 30, "a whole number of bytes from 1024 to 1073741824") is { } bytes)
            {
                limits = limits with { MaxBodyBytes = bytes };
            }
            if (fields.TryGetValue("headerTimeoutMs", out var timeout)
                && Integer(timeout, $"{path}.headerTimeoutMs", 100, 600_000, "a whole number of milliseconds from 100 to 600000") is { } ms)
            {
                limits = limits with { HeaderTimeout = TimeSpan.FromMilliseconds(ms) };
            }
            if (fields.TryGetValue("maxHeaderBytes", out var headerBytes)
                && Integer(headerBytes, $"{path}.maxHeaderBytes", 1024, 1 << 20, "a whole number of bytes from 1024 to 1048576") is { } hb)
            {
                limits = limits with { MaxHeaderBytes = (int)hb };
            }
            if (fields.TryGetValue("maxHeaderCount", out var headerCount)
                && Integer(headerCount, $"{path}.maxHeaderCount", 10, 10_000, "a whole number of headers from 10 to 10000") is { } hc)
            {
                limits = limits with { MaxHeaderCount = (int)hc };
            }
            if (fields.TryGetValue("minBodyBytesPerSecond", out var rate)
                && Integer(rate, $"{path}.minBodyBytesPerSecond", 0, 10_000_000, "a whole number of bytes per second, or 0 for no minimum") is { } bps)
            {
                limits = limits with { MinBodyBytesPerSecond = (int)bps };
            }
            if (fields.TryGetValue("maxConnections", out var connections)
                && Integer(connections, $"{path}.maxConnections", 1, 10_000_000, "a whole number of connections") is { } mc)
            {
                limits = limits with { MaxConnections = mc };
            }
            if (fields.TryGetValue("maxRequestsPerConnectionPerSecond", out var perConnection)
                && Integer(perConnection, $"{path}.maxRequestsPerConnectionPerSecond", 1, 1_000_000, "a whole number of requests per second") is { } rps)
            {
                limits = limits with { MaxRequestsPerConnectionPerSecond = (int)rps };
            }
            return limits;
        }

        // ---- helpers -------------------------------------------------------------------------

        /// <summary>The field as true or false; null when it is absent, or (the error reported with <paramref name="fix"/>) not a boolean.</summary>
        private bool? Flag(Dictionary<string, JsonElement> fields, string name, string path, string fix)
        {
            if (!fields.TryGetValue(name, out var value))
            {
                return null;
            }
            if (value.ValueKind is JsonValueKind.True or JsonValueKind.False)
            {
                return value.GetBoolean();
            }
            Error($"{path}.{name}", $"expected true or false, got {Describe(value)}", fix);
            return null;
        }

        /// <summary>The field when it is a non-empty string; null otherwise (a caller that must have one says so).</summary>
        private static string? OptionalText(Dictionary<string, JsonElement> fields, string name) =>
            fields.TryGetValue(name, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } text ? text : null;

        private string? RequiredString(Dictionary<string, JsonElement> fields, string name, string path, string what)
        {
            if (fields.TryGetValue(name, out var element) && element.ValueKind == JsonValueKind.String && element.GetString()!.Length > 0)
            {
                return element.GetString();
            }
            Error($"{path}.{name}", element.ValueKind == JsonValueKind.Undefined ? "missing" : $"expected a non-empty string, got {Describe(element)}", $"write {what}");
            return null;
        }

        private long? Integer(JsonElement element, string path, long min, long max, string what)
        {
            if (element.ValueKind == JsonValueKind.Number && element.TryGetInt64(out var value) && value >= min && value <= max)
            {
                return value;
            }
            Error(path, $"{Describe(element)} is out of range", $"write {what}");
            return null;
        }

        private bool ExpectObject(JsonElement element, string path, string fix)
        {
            if (element.ValueKind == JsonValueKind.Object)
            {
                return true;
            }
            Error(path, $"expected an object, got {Describe(element)}", fix);
            return false;
        }

        /// <summary>The object's fields by name; reports duplicates, and unknown names when <paramref name="known"/> is given.</summary>
        /// <param name="replaced">Fields of an earlier version, reported by the caller with what replaced them.</param>
        private Dictionary<string, JsonElement> Fields(JsonElement element, string path, string[]? known, string[]? replaced = null)
        {
            var fields = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
            foreach (var property in element.EnumerateObject())
            {
                var name = property.Name;
                var here = path == "$" ? $"$.{name}" : $"{path}.{name}";
                if (!fields.TryAdd(name, property.Value))
                {
                    Error(here, "appears twice", "keep one of the two");
                    continue;
                }
                if (known is not null && Array.IndexOf(known, name) < 0 && (replaced is null || Array.IndexOf(replaced, name) < 0))
                {
                    fields.Remove(name);
                    var near = known.FirstOrDefault(k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase));
                    Error(here, "unknown field", near is not null ? $"write it as '{near}'" : $"remove it; the fields here are {string.Join(", ", known)}");
                }
            }
            return fields;
        }

        /// <summary>An exact model name, a prefix ending in <c>*</c>, or <c>*</c> alone.</summary>
        private static bool IsModelPattern(string pattern)
        {
            var star = pattern.IndexOf('*');
            return pattern.Length > 0 && (star < 0 || star == pattern.Length - 1) && !pattern.Any(char.IsWhiteSpace);
        }

        private static bool IsSimpleName(string name) =>
            name.Length > 0 && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '_');

        private static string Describe(JsonElement element) => element.ValueKind switch
        {
            JsonValueKind.String => Quote(element.GetString()!),
            JsonValueKind.Number => element.GetRawText(),
            JsonValueKind.True => "true",
            JsonValueKind.False => "false",
            JsonValueKind.Null => "null",
            JsonValueKind.Object => "an object",
            JsonValueKind.Array => "an array",
            _ => "nothing",
        };

        private static string Quote(string value)
        {
            var builder = new StringBuilder("'");
            builder.Append(value.Length > 60 ? value[..57] + "…" : value);
            return builder.Append('\'').ToString();
        }

        private void Error(string path, string problem, string fix) => _errors.Add(new ConfigError(path, problem, fix));
    }
}
