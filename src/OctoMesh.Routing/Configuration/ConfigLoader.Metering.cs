using System.Collections.Immutable;
using System.Text.Json;
using OctoMesh.Routing.Pricing;

namespace OctoMesh.Routing.Configuration;

public static partial class ConfigLoader
{
    /// <summary>The <c>prices</c> and <c>metrics</c> sections.</summary>
    private sealed partial class ConfigReader
    {
        private static readonly string[] s_priceFields = ["input", "output", "cachedInput", "cacheWrite", "reasoning"];
        private static readonly string[] s_metricsFields = ["workspaceLabel", "maxSeries", "urls"];
        private static readonly string[] s_traceFields = ["enabled", "directory", "commitMs", "maxBacklog", "retentionDays"];
        private static readonly string[] s_cacheFields = ["exact", "ttlSeconds", "maxMegabytes", "sharedAcrossWorkspaces", "shared", "semantic"];
        /// <summary>The cache's own Redis fields before the one <c>redis</c> section served everything.</summary>
        private static readonly string[] s_movedCacheFields = ["redis", "redisTimeoutMs", "redisUser", "redisPassword"];
        private static readonly string[] s_semanticFields = ["embedder", "threshold", "maxEntries", "vectors", "provider", "model", "dimensions", "timeoutMs"];
        private static readonly string[] s_tracingFields = ["otlpEndpoint", "protocol", "sampleRatio", "batchDelayMs", "serviceName"];

        /// <summary>Largest price accepted, USD per 1M tokens: far above any model's, low enough that no cost overflows.</summary>
        private const decimal MaxUsdPerMillion = 10_000m;

        private ImmutableArray<(string Pattern, ModelPrice Price)> ReadPrices(JsonElement element, string path)
        {
            if (!ExpectObject(element, path, "write prices as { \"model\": { \"input\": 0.15, \"output\": 0.6 } } in USD per 1M tokens"))
            {
                return [];
            }
            var prices = ImmutableArray.CreateBuilder<(string, ModelPrice)>();
            foreach (var (pattern, value) in Fields(element, path, known: null))
            {
                var here = $"{path}['{pattern}']";
                if (!IsModelPattern(pattern))
                {
                    Error(here, $"'{pattern}' is not a model name or pattern", "write the name the provider bills, a prefix ending in '*' such as 'gpt-4o*', or '*' alone");
                    continue;
                }
                if (!ExpectObject(value, here, "write { \"input\": 0.15, \"output\": 0.6 } in USD per 1M tokens"))
                {
                    continue;
                }
                var fields = Fields(value, here, s_priceFields);
                var errorsBefore = _errors.Count;
                decimal? Price(string name, bool required)
                {
                    if (!fields.TryGetValue(name, out var field))
                    {
                        if (required)
                        {
                            Error($"{here}.{name}", "missing", $"write the {name} price in USD per 1M tokens, e.g. 0.15");
                        }
                        return null;
                    }
                    if (field.ValueKind == JsonValueKind.Number && field.TryGetDecimal(out var usd) && usd >= 0 && usd <= MaxUsdPerMillion
                        && usd * ModelPrice.MicrosPerUsd == decimal.Truncate(usd * ModelPrice.MicrosPerUsd))
                    {
                        return usd;
                    }
                    Error($"{here}.{name}", $"{Describe(field)} is not a price", $"write USD per 1M tokens from 0 to {MaxUsdPerMillion} with at most six decimals, e.g. 0.075");
                    return null;
                }
                var input = Price("input", required: true);
                var output = Price("output", required: true);
                var price = ModelPrice.FromUsd(input ?? 0, output ?? 0, Price("cachedInput", false), Price("cacheWrite", false), Price("reasoning", false));
                if (_errors.Count == errorsBefore)
                {
                    prices.Add((pattern, price));
                }
            }
            return prices.ToImmutable();
        }

        private MetricsConfig ReadMetrics(JsonElement element, string path)
        {
            if (!ExpectObject(element, path, "write { \"workspaceLabel\": true, \"maxSeries\": 2000 }"))
            {
                return new MetricsConfig();
            }
            var fields = Fields(element, path, s_metricsFields);
            var metrics = new MetricsConfig();
            if (Flag(fields, "workspaceLabel", path, "write true to label requests and cost by workspace") is { } label)
            {
                metrics = metrics with { WorkspaceLabel = label };
            }
            if (fields.TryGetValue("maxSeries", out var max) && Integer(max, $"{path}.maxSeries", 10, 1_000_000, "a whole number of series per metric from 10 to 1000000") is { } series)
            {
                metrics = metrics with { MaxSeries = (int)series };
            }
            if (fields.TryGetValue("urls", out var urls))
            {
                metrics = metrics with { Urls = ReadUrls(urls, $"{path}.urls") };
                foreach (var url in metrics.Urls.Where(url => new Uri(url).Port == 0))
                {
                    Error($"{path}.urls", $"{url} has port 0; a management listener needs a fixed port (it is told apart from the API's by its port)", "write e.g. \"http://0.0.0.0:9464\"");
                }
            }
            return metrics;
        }

        private TraceConfig ReadTrace(JsonElement element, string path)
        {
            if (!ExpectObject(element, path, "write { \"directory\": \"/var/lib/octomesh/trace\" }"))
            {
                return new TraceConfig();
            }
            var fields = Fields(element, path, s_traceFields);
            var trace = new TraceConfig();
            if (Flag(fields, "enabled", path, "write false only where no billing export is needed") is { } enabled)
            {
                trace = trace with { Enabled = enabled };
            }
            if (fields.TryGetValue("directory", out var directory))
            {
                if (directory.ValueKind == JsonValueKind.String && directory.GetString()!.Trim().Length > 0)
                {
                    trace = trace with { Directory = directory.GetString()! };
                }
                else
                {
                    Error($"{path}.directory", $"expected a directory path, got {Describe(directory)}", "write e.g. \"/var/lib/octomesh/trace\"");
                }
            }
            if (fields.TryGetValue("commitMs", out var commit) && Integer(commit, $"{path}.commitMs", 1, 1000, "a whole number of milliseconds from 1 to 1000") is { } ms)
            {
                trace = trace with { CommitMs = (int)ms };
            }
            if (fields.TryGetValue("maxBacklog", out var backlog)
                && Integer(backlog, $"{path}.maxBacklog", 1024, 10_000_000, "a whole number of records from 1024 to 10000000") is { } records)
            {
                trace = trace with { MaxBacklog = (int)records };
            }
            if (fields.TryGetValue("retentionDays", out var retention)
                && Integer(retention, $"{path}.retentionDays", 0, 36_500, "a whole number of days, or 0 to keep everything") is { } days)
            {
                trace = trace with { RetentionDays = (int)days };
            }
            return trace;
        }

        private TracingConfig ReadTracing(JsonElement element, string path)
        {
            if (!ExpectObject(element, path, "write { \"otlpEndpoint\": \"http://otel-collector:4317\" }"))
            {
                return new TracingConfig();
            }
            var fields = Fields(element, path, s_tracingFields);
            var tracing = new TracingConfig();
            if (fields.TryGetValue("otlpEndpoint", out var endpoint))
            {
                if (endpoint.ValueKind == JsonValueKind.String && Uri.TryCreate(endpoint.GetString(), UriKind.Absolute, out var uri)
                    && uri.Scheme is "http" or "https" && string.IsNullOrEmpty(uri.UserInfo))
                {
                    tracing = tracing with { OtlpEndpoint = uri };
                }
                else
                {
                    Error($"{path}.otlpEndpoint", $"{Describe(endpoint)} is not an http(s) URL without credentials", "write the collector's URL, e.g. \"http://otel-collector:4317\"");
                }
            }
            if (fields.TryGetValue("protocol", out var protocol))
            {
                OtlpProtocol? parsed = protocol.ValueKind == JsonValueKind.String ? protocol.GetString() switch
                {
                    "grpc" => OtlpProtocol.Grpc,
                    "http/protobuf" => OtlpProtocol.HttpProtobuf,
                    _ => null,
                } : null;
                if (parsed is null)
                {
                    Error($"{path}.protocol", $"unknown protocol {Describe(protocol)}", "use grpc or http/protobuf");
                }
                tracing = tracing with { Protocol = parsed ?? tracing.Protocol };
            }
            if (fields.TryGetValue("sampleRatio", out var ratio))
            {
                if (ratio.ValueKind == JsonValueKind.Number && ratio.GetDouble() is > 0 and <= 1)
                {
                    tracing = tracing with { SampleRatio = ratio.GetDouble() };
                }
                else
                {
                    Error($"{path}.sampleRatio", $"{Describe(ratio)} is not a share above 0 and at most 1", "write e.g. 0.1 to trace one request in ten");
                }
            }
            if (fields.TryGetValue("batchDelayMs", out var delay)
                && Integer(delay, $"{path}.batchDelayMs", 10, 60_000, "a whole number of milliseconds from 10 to 60000") is { } ms)
            {
                tracing = tracing with { BatchDelayMs = (int)ms };
            }
            if (fields.TryGetValue("serviceName", out var service))
            {
                if (service.ValueKind == JsonValueKind.String && service.GetString()!.Length > 0)
                {
                    tracing = tracing with { ServiceName = service.GetString()! };
                }
                else
                {
                    Error($"{path}.serviceName", $"expected a name, got {Describe(service)}", "write e.g. \"octomesh-edge\"");
                }
            }
            return tracing;
        }

        private CacheConfig ReadCache(JsonElement element, string path, ImmutableDictionary<string, ProviderConfig> providers)
        {
            if (!ExpectObject(element, path, "write { \"exact\": true, \"ttlSeconds\": 3600 }"))
            {
                return new CacheConfig();
            }
            foreach (var moved in s_movedCacheFields)
            {
                if (element.TryGetProperty(moved, out _))
                {
                    Error($"{path}.{moved}", "the cache now uses the top-level redis section",
                        "remove it and write \"redis\": { \"connection\": \"127.0.0.1:6379\", \"password\": \"${REDIS_PASSWORD}\", \"timeoutMs\": 50 } at the top level");
                }
            }
            var fields = Fields(element, path, s_cacheFields, s_movedCacheFields);
            var cache = new CacheConfig();
            bool? Flag(string name, string fix) => this.Flag(fields, name, path, fix);
            cache = cache with
            {
                Exact = Flag("exact", "write true to answer repeated requests from the cache") ?? cache.Exact,
                SharedAcrossWorkspaces = Flag("sharedAcrossWorkspaces", "write true only if workspaces may see each other's answers") ?? cache.SharedAcrossWorkspaces,
                Shared = Flag("shared", "write false to keep answers in this process only, even with a redis section") ?? cache.Shared,
            };
            if (fields.TryGetValue("ttlSeconds", out var ttl) && Integer(ttl, $"{path}.ttlSeconds", 1, 30 * 86_400, "a whole number of seconds from 1 to 2592000") is { } seconds)
            {
                cache = cache with { TtlSeconds = (int)seconds };
            }
            if (fields.TryGetValue("maxMegabytes", out var size) && Integer(size, $"{path}.maxMegabytes", 1, 65_536, "a whole number of megabytes from 1 to 65536") is { } megabytes)
            {
                cache = cache with { MaxMegabytes = (int)megabytes };
            }
            if (fields.TryGetValue("semantic", out var semantic))
            {
                if (!cache.Exact)
                {
                    Error($"{path}.semantic", "the semantic cache keeps its answers in the exact cache", "write \"exact\": true as well");
                }
                cache = cache with { Semantic = ReadSemantic(semantic, $"{path}.semantic", providers) };
            }
            return cache;
        }

        /// <summary><c>off</c>, <c>exact</c> or <c>semantic</c>.</summary>
        private CachePolicy ReadCachePolicy(JsonElement element, string path)
        {
            switch (element.ValueKind == JsonValueKind.String ? element.GetString() : null)
            {
                case "off":
                    return CachePolicy.Off;
                case "exact":
                    return CachePolicy.Exact;
                case "semantic":
                    return CachePolicy.Semantic;
                default:
                    Error(path, $"{Describe(element)} is not a cache policy", "write \"off\", \"exact\" or \"semantic\"");
                    return CachePolicy.Semantic;
            }
        }

        private SemanticCacheConfig ReadSemantic(JsonElement element, string path, ImmutableDictionary<string, ProviderConfig> providers)
        {
            var semantic = new SemanticCacheConfig();
            if (!ExpectObject(element, path, "write { \"embedder\": \"hash\" }"))
            {
                return semantic;
            }
            var fields = Fields(element, path, s_semanticFields);
            if (fields.TryGetValue("embedder", out var embedder))
            {
                if (embedder.ValueKind == JsonValueKind.String && embedder.GetString() is "hash" or "vectors" or "provider")
                {
                    semantic = semantic with { Embedder = embedder.GetString()! };
                }
                else
                {
                    Error($"{path}.embedder", $"{Describe(embedder)} is not an embedder", "write \"hash\", \"vectors\" or \"provider\"");
                }
            }
            if (fields.TryGetValue("threshold", out var threshold))
            {
                if (threshold.ValueKind == JsonValueKind.Number && threshold.GetDouble() is > 0 and <= 1)
                {
                    semantic = semantic with { Threshold = threshold.GetDouble() };
                }
                else
                {
                    Error($"{path}.threshold", $"expected a similarity above 0 and at most 1, got {Describe(threshold)}", "write e.g. 0.9");
                }
            }
            if (fields.TryGetValue("maxEntries", out var max) && Integer(max, $"{path}.maxEntries", 1, 10_000_000, "a whole number of questions from 1 to 10000000") is { } entries)
            {
                semantic = semantic with { MaxEntries = (int)entries };
            }
            if (fields.TryGetValue("vectors", out var vectors))
            {
                if (vectors.ValueKind == JsonValueKind.String && vectors.GetString() is { Length: > 0 } file)
                {
                    semantic = semantic with { Vectors = file };
                }
                else
                {
                    Error($"{path}.vectors", $"expected a file name, got {Describe(vectors)}", "write the path of the file deploy/vectors/build.sh made");
                }
            }
            if (fields.TryGetValue("provider", out var provider))
            {
                if (provider.ValueKind == JsonValueKind.String && providers.TryGetValue(provider.GetString()!, out var named)
                    && named.Kind is ProviderKind.OpenAI or ProviderKind.OpenAICompatible or ProviderKind.Sim)
                {
                    semantic = semantic with { Provider = named.Name };
                }
                else
                {
                    Error($"{path}.provider", $"{Describe(provider)} is not a configured provider with an OpenAI-format embeddings endpoint",
                        "name a provider of kind openai, openai-compatible or sim");
                }
            }
            if (fields.TryGetValue("model", out var model))
            {
                if (model.ValueKind == JsonValueKind.String && model.GetString() is { Length: > 0 } name)
                {
                    semantic = semantic with { Model = name };
                }
                else
                {
                    Error($"{path}.model", $"expected a model name, got {Describe(model)}", "write e.g. \"text-embedding-3-small\"");
                }
            }
            if (fields.TryGetValue("dimensions", out var dimensions) && Integer(dimensions, $"{path}.dimensions", 1, 65_535, "the length of the model's vectors, e.g. 1536") is { } length)
            {
                semantic = semantic with { Dimensions = (int)length };
            }
            if (fields.TryGetValue("timeoutMs", out var timeout) && Integer(timeout, $"{path}.timeoutMs", 1, 60_000, "a whole number of milliseconds from 1 to 60000") is { } ms)
            {
                semantic = semantic with { TimeoutMs = (int)ms };
            }
            if (semantic.Embedder == "provider" && (semantic.Provider is null || semantic.Model is null || semantic.Dimensions is null))
            {
                Error($"{path}.embedder", "the provider embedder needs provider, model and dimensions",
                    "write e.g. \"provider\": \"openai\", \"model\": \"text-embedding-3-small\", \"dimensions\": 1536");
            }
            if (semantic.Embedder == "vectors" && semantic.Vectors is null)
            {
                Error($"{path}.vectors", "the vectors embedder needs its word-vector file", "write \"vectors\": \"/path/to/wink-100d.omv\"");
            }
            return semantic;
        }
    }
}
