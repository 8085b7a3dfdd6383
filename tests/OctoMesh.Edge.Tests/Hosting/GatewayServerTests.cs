using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace OctoMesh.Edge.Tests.Hosting;

/// <summary>The proxy path through in-process Kestrel, with the simulator as the upstream.</summary>
public class GatewayServerTests
{
    private const string Hello = """{"model":"fast","messages":[{"role":"user","content":"Hello there"}]}""";

    private static HttpRequestMessage Post(string body, string path = "/v1/chat/completions", params (string Name, string Value)[] headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        return request;
    }

    private static async Task<JsonElement> ErrorOf(HttpResponseMessage response)
    {
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var error = document.RootElement.GetProperty("error").Clone();
        Assert.Equal(JsonValueKind.String, error.GetProperty("message").ValueKind);
        Assert.Equal(JsonValueKind.String, error.GetProperty("type").ValueKind);
        Assert.True(error.TryGetProperty("param", out _));
        Assert.True(error.TryGetProperty("code", out _));
        return error;
    }

    [Fact]
    public async Task NonStreamedAnswerIsTheUpstreamsAnswerForTheUpstreamModel()
    {
        await using var test = await TestGateway.StartAsync();
        using var response = await test.Client.SendAsync(Post(Hello, headers: ("x-request-id", "req-123")));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("req-123", response.Headers.GetValues("x-request-id").Single());
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = document.RootElement;
        Assert.Equal("sim-small", root.GetProperty("model").GetString());
        Assert.Equal("stop", root.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.True(root.GetProperty("usage").GetProperty("completion_tokens").GetInt32() > 0);
        Assert.Equal(response.Content.Headers.ContentLength, Encoding.UTF8.GetByteCount(root.GetRawText()));
    }

    [Fact]
    public async Task UpstreamGetsTheProviderKeyAndTheRewrittenBodyNeverTheClientsSecrets()
    {
        await using var test = await TestGateway.StartAsync();
        using var response = await test.Client.SendAsync(Post("""{"model":"fast","stream":true,"messages":[{"role":"user","content":"hi"}]}""",
            headers: [("authorization", "Bearer client-secret"), ("x-api-key", "client-secret"), ("cookie", "session=1"),
                ("x-forwarded-for", "10.1.2.3"), ("x-octomesh-task", "chat"), ("openai-beta", "assistants=v2"), ("user-agent", "test-agent/1.0")]));
        await response.Content.ReadAsStringAsync();

        var (protocol, target, headers, body) = test.Simulator.Stats.LastChatRequest!;
        Assert.Equal("HTTP/1.1", protocol);
        Assert.Equal("/v1/chat/completions", target);
        Assert.Equal($"Bearer {TestGateway.ProviderKey}", headers["authorization"]);
        Assert.DoesNotContain(headers, h => h.Value.Contains("client-secret"));
        Assert.False(headers.ContainsKey("x-api-key"));
        Assert.False(headers.ContainsKey("cookie"));
        Assert.False(headers.ContainsKey("x-forwarded-for"));
        Assert.False(headers.ContainsKey("x-octomesh-task"));
        Assert.Equal("assistants=v2", headers["openai-beta"]);
        Assert.Equal("test-agent/1.0", headers["user-agent"]);
        Assert.Equal(response.Headers.GetValues("x-request-id").Single(), headers["x-request-id"]);
        Assert.Equal("""{"model":"sim-small","stream":true,"messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usage":true}}""", body);
    }

    [Fact]
    public async Task StreamHidesTheUsageChunkUnlessAskedFor()
    {
        await using var test = await TestGateway.StartAsync();
        using var plain = await test.Client.SendAsync(Post("""{"model":"fast","stream":true,"messages":[{"role":"user","content":"Hello there"}]}"""));
        var plainText = await plain.Content.ReadAsStringAsync();
        using var withUsage = await test.Client.SendAsync(Post("""{"model":"fast","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hello there"}]}"""));
        var usageText = await withUsage.Content.ReadAsStringAsync();

        Assert.Equal("text/event-stream", plain.Content.Headers.ContentType?.MediaType);
        Assert.EndsWith("data: [DONE]\n\n", plainText);
        Assert.DoesNotContain("\"choices\":[]", plainText);
        Assert.Contains("\"choices\":[],\"usage\":{\"prompt_tokens\":", usageText);
        Assert.EndsWith("data: [DONE]\n\n", usageText);
        // Same answer either way: the streamed deltas add up to the non-streamed content.
        using var whole = await test.Client.SendAsync(Post("""{"model":"fast","messages":[{"role":"user","content":"Hello there"}]}"""));
        using var document = JsonDocument.Parse(await whole.Content.ReadAsStringAsync());
        Assert.Equal(document.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString(), ContentOf(plainText));
    }

    private static string ContentOf(string sse) => string.Concat(sse.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
        .Select(e => e["data: ".Length..]).Where(d => d != "[DONE]")
        .Select(d => JsonDocument.Parse(d).RootElement.GetProperty("choices"))
        .Where(c => c.GetArrayLength() > 0 && c[0].GetProperty("delta").TryGetProperty("content", out _))
        .Select(c => c[0].GetProperty("delta").GetProperty("content").GetString()));

    [Fact]
    public async Task EmbeddingsAndModelsAreServed()
    {
        await using var test = await TestGateway.StartAsync();
        using var embeddings = await test.Client.SendAsync(Post("""{"model":"fast","input":["a cat","a dog"],"dimensions":8}""", "/v1/embeddings"));
        Assert.Equal(HttpStatusCode.OK, embeddings.StatusCode);
        using (var document = JsonDocument.Parse(await embeddings.Content.ReadAsStringAsync()))
        {
            Assert.Equal(2, document.RootElement.GetProperty("data").GetArrayLength());
            Assert.Equal(8, document.RootElement.GetProperty("data")[1].GetProperty("embedding").GetArrayLength());
            Assert.Equal("sim-small", document.RootElement.GetProperty("model").GetString());
        }

        using var models = await test.Client.GetAsync("/v1/models");
        Assert.Equal("""{"object":"list","data":[{"id":"fast","object":"model","created":0,"owned_by":"sim"}]}""", await models.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task KeysAreCheckedWhenConfigured()
    {
        var hash = Convert.ToHexString(SHA256.HashData("om-test-key"u8)).ToLowerInvariant();
        await using var test = await TestGateway.StartAsync($$"""
            {
              "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}" } },
              "models": { "*": { "provider": "sim" } },
              "clientKeys": [ { "name": "t", "sha256": "{{hash}}", "workspace": "w" } ]
            }
            """);

        foreach (var headers in new[] { Array.Empty<(string, string)>(), [("authorization", "Bearer wrong")], [("x-api-key", "om-test-keyX")] })
        {
            using var refused = await test.Client.SendAsync(Post(Hello, headers: headers));
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Equal("invalid_api_key", (await ErrorOf(refused)).GetProperty("code").GetString());
        }
        using var models = await test.Client.GetAsync("/v1/models");
        Assert.Equal(HttpStatusCode.Unauthorized, models.StatusCode);

        using var bearer = await test.Client.SendAsync(Post(Hello, headers: ("authorization", "Bearer om-test-key")));
        Assert.Equal(HttpStatusCode.OK, bearer.StatusCode);
        using var apiKey = await test.Client.SendAsync(Post(Hello, headers: ("x-api-key", "om-test-key")));
        Assert.Equal(HttpStatusCode.OK, apiKey.StatusCode);
        Assert.Equal(0, test.Simulator.Stats.ChatCompletions - 2);
    }

    [Theory]
    [InlineData("{\"model\":", 400, "invalid_json", null)]
    [InlineData("{\"model\":\"fast\",\"messages\":[{}],\"stream\":\"yes\"}", 400, null, "stream")]
    [InlineData("{\"messages\":[{}]}", 400, null, "model")]
    // A model name that could not be a header value is refused before any upstream call (it would be billed there).
    [InlineData("{\"model\":\"fast\\r\\nx-injected: 1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", 400, null, "model")]
    [InlineData("{\"model\":\"fast\\u0007\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", 400, null, "model")]
    [InlineData("[]", 400, null, null)]
    [InlineData("", 400, "invalid_json", null)]
    public async Task BadRequestsGetOpenAIErrors(string body, int status, string? code, string? param)
    {
        await using var test = await TestGateway.StartAsync();
        using var response = await test.Client.SendAsync(Post(body));
        Assert.Equal(status, (int)response.StatusCode);
        var error = await ErrorOf(response);
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.Equal(0, test.Simulator.Stats.ChatCompletions);
    }

    [Fact]
    public async Task UnknownModelIs404()
    {
        await using var test = await TestGateway.StartAsync("""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}" } }, "models": { "fast": { "provider": "sim" } } }
            """);
        using var response = await test.Client.SendAsync(Post("""{"model":"nope\u0021","messages":[{}]}"""));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var error = await ErrorOf(response);
        Assert.Equal("model_not_found", error.GetProperty("code").GetString());
        Assert.StartsWith("The model 'nope!' does not exist", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task BodiesPastTheLimitAre413()
    {
        await using var test = await TestGateway.StartAsync("""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}" } }, "models": { "*": { "provider": "sim" } }, "limits": { "maxBodyBytes": 2048 } }
            """);
        var big = $$"""{"model":"m","messages":[{"role":"user","content":"{{new string('x', 4000)}}"}]}""";
        using var declared = await test.Client.SendAsync(Post(big));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, declared.StatusCode);
        Assert.Equal("request_too_large", (await ErrorOf(declared)).GetProperty("code").GetString());

        // Chunked, so the size is only known while reading.
        var chunked = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(big))) };
        chunked.Headers.TransferEncodingChunked = true;
        using var streamed = await test.Client.SendAsync(chunked);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, streamed.StatusCode);
    }

    [Fact]
    public async Task WrongMethodUrlAndEncodingAreRefused()
    {
        await using var test = await TestGateway.StartAsync();
        using var get = await test.Client.GetAsync("/v1/chat/completions");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, get.StatusCode);
        Assert.Equal("POST", get.Content.Headers.Allow.Single());
        await ErrorOf(get);

        using var unknown = await test.Client.SendAsync(Post(Hello, "/v1/assistants"));
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("unknown_url", (await ErrorOf(unknown)).GetProperty("code").GetString());

        var gzip = Post(Hello);
        gzip.Content!.Headers.ContentEncoding.Add("gzip");
        using var compressed = await test.Client.SendAsync(gzip);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, compressed.StatusCode);
    }

    [Theory]
    [InlineData("/v1/chat/completions", HttpStatusCode.OK)]
    [InlineData("/V1/Chat/Completions/", HttpStatusCode.OK)]
    [InlineData("/v1/chat/completions/extra", HttpStatusCode.NotFound)]
    [InlineData("/v1/chat", HttpStatusCode.NotFound)]
    public async Task ApiPathsMatchAsRoutingWould(string path, HttpStatusCode status)
    {
        await using var test = await TestGateway.StartAsync();
        using var response = await test.Client.SendAsync(Post(Hello, path));
        Assert.Equal(status, response.StatusCode);
    }

    [Theory]
    [InlineData("429", 429, "rate_limit_exceeded")]
    [InlineData("500", 500, null)]
    [InlineData("503", 503, null)]
    public async Task UpstreamErrorsPassThrough(string fault, int status, string? code)
    {
        await using var test = await TestGateway.StartAsync();
        using var response = await test.Client.SendAsync(Post(Hello, headers: [("x-sim-fault", fault), ("x-sim-retry-after", "7")]));
        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal(code, (await ErrorOf(response)).GetProperty("code").GetString());
        if (status == 429)
        {
            Assert.Equal(TimeSpan.FromSeconds(7), response.Headers.RetryAfter?.Delta);
        }
    }

    [Fact]
    public async Task UpstreamResetIs502AndRefusedConnectionIs502()
    {
        await using var test = await TestGateway.StartAsync();
        using var reset = await test.Client.SendAsync(Post(Hello, headers: ("x-sim-fault", "reset")));
        Assert.Equal(HttpStatusCode.BadGateway, reset.StatusCode);
        Assert.Equal("upstream_unreachable", (await ErrorOf(reset)).GetProperty("code").GetString());

        // A port nothing listens on (or can, while the test holds it).
        using var closed = Programs.DeadPort();
        var port = closed.Port;
        await using var dead = await TestGateway.StartAsync($$"""
            { "providers": { "gone": { "kind": "openai-compatible", "baseUrl": "http://127.0.0.1:{{port}}/v1" } }, "models": { "*": { "provider": "gone" } } }
            """);
        using var refused = await dead.Client.SendAsync(Post(Hello));
        Assert.Equal(HttpStatusCode.BadGateway, refused.StatusCode);
        var message = (await ErrorOf(refused)).GetProperty("message").GetString();
        Assert.Equal("The upstream provider 'gone' could not be reached (ConnectionError).", message);
    }

    [Fact]
    public async Task SlowUpstreamIs504()
    {
        await using var test = await TestGateway.StartAsync("""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}", "timeouts": { "firstByteMs": 200 } } }, "models": { "*": { "provider": "sim" } } }
            """);
        using var response = await test.Client.SendAsync(Post(Hello, headers: ("x-sim-ttft-ms", "10000")));
        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Equal("upstream_timeout", (await ErrorOf(response)).GetProperty("code").GetString());
    }

    [Fact]
    public async Task StreamCutAfterTheFirstByteEndsWithAnErrorEvent()
    {
        await using var test = await TestGateway.StartAsync();
        using var response = await test.Client.SendAsync(
            Post("""{"model":"fast","stream":true,"messages":[{"role":"user","content":"Hello there"}]}""", headers: ("x-sim-fault", "cut:3")));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        var events = text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, events.Length);
        Assert.Equal("data: {\"error\":{\"message\":\"The upstream provider's stream ended before it was complete.\",\"type\":\"upstream_error\",\"param\":null,\"code\":\"upstream_stream_cut\"}}", events[^1]);
    }

    [Fact]
    public async Task ClientThatLeavesCancelsTheUpstreamCall()
    {
        await using var test = await TestGateway.StartAsync();
        var request = Post("""{"model":"fast","stream":true,"messages":[{"role":"user","content":"Hello there"}]}""",
            headers: [("x-sim-tokens", "1000"), ("x-sim-tpot-ms", "20")]);
        using (var response = await test.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
            var stream = await response.Content.ReadAsStreamAsync();
            var buffer = new byte[64];
            Assert.True(await stream.ReadAsync(buffer) > 0);
        }
        // Disposing the response closed the client's connection; the gateway must drop its upstream call.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (test.Simulator.Stats.Aborted == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }
        Assert.Equal(1, test.Simulator.Stats.Aborted);
    }

    [Fact]
    public async Task H2cUpstreamIsSpokenWhenConfigured()
    {
        await using var test = await TestGateway.StartAsync("""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}", "http": "2" } }, "models": { "*": { "provider": "sim" } } }
            """, h2c: true);
        using var response = await test.Client.SendAsync(Post("""{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}"""));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.EndsWith("data: [DONE]\n\n", await response.Content.ReadAsStringAsync());
        Assert.Equal("HTTP/2", test.Simulator.Stats.LastChatRequest!.Protocol);
    }

    [Fact]
    public async Task HealthAndReadiness()
    {
        await using var test = await TestGateway.StartAsync();
        Assert.Equal("{\"status\":\"ok\"}", await test.Client.GetStringAsync("/healthz"));
        Assert.Equal("{\"status\":\"ready\"}", await test.Client.GetStringAsync("/readyz"));
    }
}
