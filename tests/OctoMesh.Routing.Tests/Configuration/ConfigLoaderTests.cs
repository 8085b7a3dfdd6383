using System.Text;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Routing.Tests.Configuration;

public class ConfigLoaderTests
{
    private static readonly Dictionary<string, string> s_environment = new() { ["OPENAI_API_KEY"] = "sk-test-secret-value" };

    private static ConfigLoadResult Load(string json) =>
        ConfigLoader.Load(Encoding.UTF8.GetBytes(json), name => s_environment.GetValueOrDefault(name));

    private static string[] Errors(string json) => Load(json).Errors.Select(e => e.ToString()).ToArray();

    [Fact]
    public void FullExampleLoads()
    {
        var result = Load("""
            // comments and trailing commas are allowed
            {
              "urls": ["http://127.0.0.1:9000"],
              "providers": {
                "openai": { "kind": "openai", "apiKey": "${OPENAI_API_KEY}", "timeouts": { "connectMs": 2000, "firstByteMs": 30000, "totalMs": 300000 } },
                "local": { "kind": "openai-compatible", "baseUrl": "http://127.0.0.1:8000/v1/", "http": "2" },
                "sim": { "kind": "sim" },
              },
              "models": {
                "fast": { "provider": "openai", "model": "gpt-4o-mini" },
                "gpt-*": { "provider": "openai" },
                "*": { "provider": "sim" },
              },
              "clientKeys": [ { "name": "ci", "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "workspace": "team-a" } ],
              "limits": { "maxBodyBytes": 1048576, "headerTimeoutMs": 5000 },
            }
            """);

        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        var config = result.Config!;
        Assert.Equal(["http://127.0.0.1:9000"], config.Urls.ToArray());
        var openai = config.Providers["openai"];
        Assert.Equal(new Uri("https://api.openai.com/v1"), openai.BaseUrl);
        Assert.Equal("sk-test-secret-value", openai.ApiKey);
        Assert.Equal(TimeSpan.FromSeconds(2), openai.Timeouts.Connect);
        Assert.Equal(new Uri("http://127.0.0.1:8000/v1"), config.Providers["local"].BaseUrl);
        Assert.Equal(UpstreamHttpVersion.Http2, config.Providers["local"].Http);
        Assert.Null(config.Providers["sim"].BaseUrl);
        Assert.Equal(["fast", "gpt-*", "*"], config.Models.Select(m => m.Pattern));
        Assert.Equal("gpt-4o-mini", config.Models[0].UpstreamModel);
        Assert.Equal("team-a", config.ClientKeys[0].Workspace);
        Assert.Equal(32, config.ClientKeys[0].Sha256.Length);
        Assert.Equal(1048576, config.Limits.MaxBodyBytes);
        Assert.Equal(TimeSpan.FromSeconds(5), config.Limits.HeaderTimeout);
    }

    [Fact]
    public void EveryErrorIsReportedWithPathValueAndFix()
    {
        var errors = Errors("""
            {
              "providers": {
                "openai": { "kind": "opnai", "baseurl": "x" },
                "Bad Name": { "kind": "sim" },
                "local": { "kind": "openai-compatible", "baseUrl": "ftp://host/v1", "http": "3", "timeouts": { "connectMs": 0 } },
              },
              "models": {
                "fast": { "provider": "nowhere" },
                "gp*t": { "provider": "local" },
                "x": { "provider": "local", "model": "" },
              },
              "clientKeys": [ { "name": "ci", "sha256": "abc", "workspace": "w" }, { "sha256": 5 } ],
              "limits": { "maxBodyBytes": 10 },
              "extra": true
            }
            """);

        Assert.Equal(
        [
            "$.extra: unknown field. Fix: remove it; the fields here are urls, providers, models, routes, tasks, clientKeys, adminKeys, limits, prices, metrics, trace, tracing, cache, budgets, rateLimits, redis, workspaces, tenancy, taskModel, shutdown.",
            "$.providers.openai.baseurl: unknown field. Fix: write it as 'baseUrl'.",
            "$.providers.openai.kind: unknown provider kind 'opnai'. Fix: use one of openai, openai-compatible, azure-openai, anthropic, gemini, sim.",
            "$.providers.Bad Name: provider name 'Bad Name' has characters other than a-z, 0-9, '-' and '_'. Fix: rename it, e.g. 'openai' or 'local-vllm'.",
            "$.providers.local.baseUrl: 'ftp://host/v1' is not an http(s) URL without query or fragment. Fix: write the API root, e.g. \"https://api.openai.com/v1\".",
            "$.providers.local.http: unknown HTTP version '3'. Fix: use \"1.1\" or \"2\" (h2c over plain http, ALPN over https).",
            "$.providers.local.timeouts.connectMs: 0 is out of range. Fix: write a whole number of milliseconds from 1 to 86400000.",
            "$.models['fast'].provider: no provider is named 'nowhere'. Fix: name one of the providers: Bad Name.",
            "$.models['gp*t']: 'gp*t' is not a model name or pattern. Fix: write an exact name, a prefix ending in '*' such as 'gpt-*', or '*' alone.",
            "$.models['x'].model: expected the upstream model name, got ''. Fix: write the provider's model name, e.g. \"gpt-4o-mini\", or omit it to send the client's name unchanged.",
            "$.clientKeys[0].sha256: expected 64 hex digits, got 3 characters. Fix: write the SHA-256 of the key in hex: printf %s \"$KEY\" | sha256sum.",
            "$.clientKeys[1].name: missing. Fix: write a label such as \"ci\".",
            "$.clientKeys[1].workspace: missing. Fix: write the workspace id, e.g. \"team-a\".",
            "$.clientKeys[1].sha256: expected a non-empty string, got 5. Fix: write the SHA-256 of the key in hex: printf %s \"$KEY\" | sha256sum.",
            "$.limits.maxBodyBytes: 10 is out of range. Fix: write a whole number of bytes from 1024 to 1073741824.",
        ], errors);
    }

    [Fact]
    public void SecretsMustComeFromTheEnvironmentAndAreNeverEchoed()
    {
        var errors = Errors("""
            {
              "providers": {
                "a": { "kind": "openai", "apiKey": "sk-live-literal-key" },
                "b": { "kind": "openai", "apiKey": "${MISSING_KEY}" },
                "c": { "kind": "openai" }
              },
              "models": { "*": { "provider": "a" } }
            }
            """);

        Assert.Equal(
        [
            "$.providers.a.apiKey: a key must be a ${ENV_NAME} reference; literal keys are not accepted in config files. Fix: put the key in an environment variable and write \"${ITS_NAME}\".",
            "$.providers.b.apiKey: environment variable MISSING_KEY is not set. Fix: export MISSING_KEY before starting, or remove this provider.",
            "$.providers.c.apiKey: missing; OpenAI requires a key. Fix: add \"apiKey\": \"${OPENAI_API_KEY}\".",
        ], errors);
        Assert.DoesNotContain(errors, e => e.Contains("sk-live"));
    }

    [Fact]
    public void InvalidJsonNamesTheLine()
    {
        Assert.Equal(["$: not valid JSON at line 3, column 3. Fix: correct the JSON syntax (comments and trailing commas are allowed)."],
            Errors("{\n  \"providers\": {\n}}}"));
    }

    [Fact]
    public void DuplicateFieldsAreErrors()
    {
        Assert.Contains("$.providers: appears twice. Fix: keep one of the two.",
            Errors("""{ "providers": { "s": { "kind": "sim" } }, "providers": {}, "models": { "*": { "provider": "s" } } }"""));
    }

    [Fact]
    public void EmptyConfigurationSaysWhatIsMissing()
    {
        Assert.Equal(
        [
            "$.providers: no providers are configured. Fix: add at least one, e.g. \"providers\": { \"sim\": { \"kind\": \"sim\" } }.",
            "$.models: no models are configured. Fix: add at least one, e.g. \"models\": { \"*\": { \"provider\": \"sim\" } }.",
        ], Errors("{}"));
    }

    [Fact]
    public void GeminiDefaultsAndRequirements()
    {
        var result = Load("""{ "providers": { "g": { "kind": "gemini", "apiKey": "${OPENAI_API_KEY}" } }, "models": { "*": { "provider": "g" } } }""");
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        Assert.Equal(new Uri("https://generativelanguage.googleapis.com/v1beta"), result.Config!.Providers["g"].BaseUrl);
        Assert.Equal(
            ["$.providers.g.apiKey: missing; Gemini requires a key. Fix: add \"apiKey\": \"${GEMINI_API_KEY}\"."],
            Errors("""{ "providers": { "g": { "kind": "gemini" } }, "models": { "*": { "provider": "g" } } }"""));
    }

    [Fact]
    public void AnthropicDefaultsAndRequirements()
    {
        var result = Load("""
            { "providers": { "claude": { "kind": "anthropic", "apiKey": "${OPENAI_API_KEY}", "defaultMaxTokens": 8192 } }, "models": { "*": { "provider": "claude" } } }
            """);
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        Assert.Equal(new Uri("https://api.anthropic.com/v1"), result.Config!.Providers["claude"].BaseUrl);
        Assert.Equal(8192, result.Config.Providers["claude"].DefaultMaxTokens);

        Assert.Equal(
        [
            "$.providers.claude.apiKey: missing; Anthropic requires a key. Fix: add \"apiKey\": \"${ANTHROPIC_API_KEY}\".",
            "$.providers.claude.defaultMaxTokens: 0 is out of range. Fix: write a whole number of tokens from 1 to 1000000.",
        ], Errors("""{ "providers": { "claude": { "kind": "anthropic", "defaultMaxTokens": 0 } }, "models": { "*": { "provider": "claude" } } }"""));
    }

    [Fact]
    public void AProviderOverHttpsMayTrustAPrivateCa()
    {
        var result = Load("""
            { "providers": { "vllm": { "kind": "openai-compatible", "baseUrl": "https://vllm.internal/v1", "caFile": "/etc/octomesh/vllm-ca.pem" } },
              "models": { "*": { "provider": "vllm" } } }
            """);
        Assert.Equal("/etc/octomesh/vllm-ca.pem", result.Config!.Providers["vllm"].CaFile);
        Assert.Equal(
        [
            "$.providers.a.caFile: a CA is for TLS, and the baseUrl is plain http. Fix: remove it, or write the baseUrl with https://.",
            "$.providers.b.caFile: expected a file name, got ''. Fix: write the path of the PEM file of the CA that signed the provider's certificate.",
        ], Errors("""
            { "providers": { "a": { "kind": "openai-compatible", "baseUrl": "http://127.0.0.1:8000/v1", "caFile": "/ca.pem" },
                             "b": { "kind": "openai-compatible", "baseUrl": "https://b.internal/v1", "caFile": "" } },
              "models": { "*": { "provider": "a" } } }
            """));
    }

    [Fact]
    public void AzureTakesAnApiVersionAndOthersDoNot()
    {
        var result = Load("""
            { "providers": { "az": { "kind": "azure-openai", "baseUrl": "https://r.openai.azure.com", "apiKey": "${OPENAI_API_KEY}" } }, "models": { "*": { "provider": "az" } } }
            """);
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        Assert.Equal(ProviderConfig.DefaultAzureApiVersion, result.Config!.Providers["az"].ApiVersion);

        Assert.Equal(
        [
            "$.providers.az.apiVersion: '2024 10' is not an API version. Fix: write e.g. \"2024-10-21\".",
            "$.providers.local.apiVersion: only Azure OpenAI providers take an apiVersion. Fix: remove it.",
            "$.providers.local.streamUsage: expected true or false, got 'no'. Fix: write false for servers that reject stream_options, else leave it out.",
        ], Errors("""
            { "providers": {
                "az": { "kind": "azure-openai", "baseUrl": "https://r.openai.azure.com", "apiKey": "${OPENAI_API_KEY}", "apiVersion": "2024 10" },
                "local": { "kind": "openai-compatible", "baseUrl": "http://127.0.0.1:8000/v1", "apiVersion": "1", "streamUsage": "no" } },
              "models": { "*": { "provider": "az" } } }
            """));
    }

    [Fact]
    public void CredentialsInUrlsAndImpossibleTimeoutsAreErrors()
    {
        var errors = Errors("""
            { "providers": { "p": { "kind": "openai-compatible", "baseUrl": "https://user:secret@llm.example/v1", "timeouts": { "firstByteMs": 9000, "totalMs": 5000 } } },
              "models": { "*": { "provider": "p" } } }
            """);
        Assert.Equal(
        [
            "$.providers.p.baseUrl: the URL carries a user name or password. Fix: remove them from the URL and put the key in \"apiKey\": \"${ENV_NAME}\".",
            "$.providers.p.timeouts.firstByteMs: 9000 is longer than totalMs (5000). Fix: make firstByteMs at most totalMs: the total deadline includes the wait for the first byte.",
        ], errors);
        Assert.DoesNotContain(errors, e => e.Contains("secret"));
    }

    [Fact]
    public void AdminKeysHaveNoWorkspace()
    {
        var result = Load("""
            { "providers": { "s": { "kind": "sim" } }, "models": { "*": { "provider": "s" } },
              "adminKeys": [ { "name": "ops", "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" } ] }
            """);
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        Assert.Equal("ops", result.Config!.AdminKeys.Single().Name);
        Assert.Contains("$.adminKeys[0].workspace: unknown field. Fix: remove it; the fields here are name, sha256.", Errors("""
            { "providers": { "s": { "kind": "sim" } }, "models": { "*": { "provider": "s" } },
              "adminKeys": [ { "name": "ops", "workspace": "w", "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" } ] }
            """));
    }

    [Fact]
    public void EmptySectionsAreErrors()
    {
        Assert.Equal(
        [
            "$.providers: no providers are configured. Fix: add at least one, e.g. { \"sim\": { \"kind\": \"sim\" } }.",
            "$.models: no models are configured. Fix: add at least one, e.g. { \"*\": { \"provider\": \"sim\" } }.",
        ], Errors("""{ "providers": {}, "models": {} }"""));
    }

    [Fact]
    public void UnreadableFileIsAnError()
    {
        var result = ConfigLoader.LoadFile("/nonexistent/octomesh.json", _ => null);
        Assert.False(result.Succeeded);
        Assert.StartsWith("$: cannot read '/nonexistent/octomesh.json'", result.Errors.Single().ToString());
    }
}
