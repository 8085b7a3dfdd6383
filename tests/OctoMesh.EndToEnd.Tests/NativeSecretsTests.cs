using System.Security.Cryptography;
using System.Text;
using OctoMesh.Edge.Tests.Redis;

namespace OctoMesh.EndToEnd.Tests;

/// <summary>
/// No secret leaves the native gateway: after a run with every kind of secret in play (provider key, client keys,
/// an admin key, Redis passwords) and every kind of answer (served, cached, refused keys, a provider refusing its
/// key, bad JSON, budgets, admin calls), none of them is in the logs (at Debug), /metrics, the trace log's
/// export, or any answer's headers and body.
/// </summary>
public sealed class NativeSecretsTests
{
    private const string ProviderSecret = "sk-provider-SECRET-7f3a", ClientSecret = "sk-client-SECRET-91bc", AdminSecret = "admin-SECRET-55d0",
        RedisSecret = "redis-SECRET-c4e8", WrongSecret = "sk-wrong-SECRET-0a1b";

    private static string Sha256(string key) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key))).ToLowerInvariant();

    [Fact]
    public async Task NoSecretIsInLogsMetricsTracesOrAnswers()
    {
        await using var redis = await RedisServer.StartAsync(RedisSecret);
        await using var simulator = await OctoMeshProcess.StartAsync("sim", "--urls", "http://127.0.0.1:0");
        using var work = new WorkDirectory();
        var config = await work.WriteConfigAsync($$"""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{{simulator.Address}}v1", "apiKey": "${PROVIDER_KEY}" },
                             "anthro": { "kind": "anthropic", "baseUrl": "{{simulator.Address}}v1", "apiKey": "${PROVIDER_KEY}" } },
              "models": { "claude": { "provider": "anthro", "model": "sim-large" }, "*": { "provider": "sim" } },
              "clientKeys": [ { "name": "client", "sha256": "{{Sha256(ClientSecret)}}", "workspace": "team" } ],
              "adminKeys": [ { "name": "ops", "sha256": "{{Sha256(AdminSecret)}}" } ],
              "workspaces": [ { "name": "team", "content": "cache" } ],
              "cache": { "exact": true, "semantic": { "embedder": "hash" } },
              "budgets": [ { "name": "team", "workspace": "team", "usd": 1000 } ],
              "rateLimits": [ { "name": "team", "workspace": "team", "requestsPerMinute": 1000 } ],
              "redis": { "connection": "127.0.0.1:{{redis.Port}}", "password": "${REDIS_PASSWORD}" } }
            """);
        var seen = new StringBuilder();
        await using (var gateway = await OctoMeshProcess.StartInAsync(work.Path,
            [new("PROVIDER_KEY", ProviderSecret), new("REDIS_PASSWORD", RedisSecret)],
            "serve", "--config", config, "--urls", "http://127.0.0.1:0", "--log-level", "Trace"))
        {
            using var client = new HttpClient { BaseAddress = gateway.Address };
            async Task Send(HttpMethod method, string path, string? body, string? key, params (string, string)[] headers)
            {
                using var request = new HttpRequestMessage(method, path);
                if (body is not null)
                {
                    request.Content = new StringContent(body, Encoding.UTF8, "application/json");
                }
                if (key is not null)
                {
                    request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + key);
                    request.Headers.TryAddWithoutValidation("x-api-key", key);
                }
                foreach (var (name, value) in headers)
                {
                    request.Headers.TryAddWithoutValidation(name, value);
                }
                using var response = await client.SendAsync(request);
                seen.AppendLine(response.ToString()).AppendLine(await response.Content.ReadAsStringAsync());
            }
            const string Chat = """{"model":"sim-small","max_tokens":20,"messages":[{"role":"user","content":"Hello there"}]}""";
            await Send(HttpMethod.Post, "/v1/chat/completions", Chat, ClientSecret);
            await Send(HttpMethod.Post, "/v1/chat/completions", Chat, ClientSecret);                       // a cache hit
            await Send(HttpMethod.Post, "/v1/chat/completions", Chat.Replace("Hello there", "hello there!"), ClientSecret);  // semantic
            await Send(HttpMethod.Post, "/v1/chat/completions", Chat.Replace("sim-small", "sim-medium").Replace("20", "20,\"stream\":true"), ClientSecret);
            await Send(HttpMethod.Post, "/v1/messages", """{"model":"claude","max_tokens":20,"messages":[{"role":"user","content":"Hi"}]}""", ClientSecret);
            await Send(HttpMethod.Post, "/v1/chat/completions", Chat, WrongSecret);                         // 401
            await Send(HttpMethod.Post, "/v1/chat/completions", Chat, null);                                // 401
            await Send(HttpMethod.Post, "/v1/chat/completions", Chat.Replace("Hello", "Refused"), ClientSecret, ("x-sim-fault", "401"));
            await Send(HttpMethod.Post, "/v1/chat/completions", "{not json", ClientSecret);
            await Send(HttpMethod.Post, "/v1/chat/completions", Chat.Replace("sim-small", "fail-500"), ClientSecret);
            await Send(HttpMethod.Post, "/v1/embeddings", """{"model":"text-embedding-3-small","input":"hi"}""", ClientSecret);
            await Send(HttpMethod.Get, "/admin/usage", null, AdminSecret);
            await Send(HttpMethod.Get, "/admin/routes", null, WrongSecret);
            await Send(HttpMethod.Delete, "/admin/cache?workspace=team", null, AdminSecret);
            await Send(HttpMethod.Get, "/metrics", null, null);
            await Send(HttpMethod.Get, "/v1/models", null, ClientSecret);
            Assert.Equal(0, await gateway.StopAsync());
            seen.AppendLine(gateway.Output);
        }
        var export = work.Combine("export.jsonl");
        var (code, text) = await OctoMeshProcess.RunAsync("export", "--trace", work.Trace, "--format", "jsonl", "--out", export);
        Assert.True(code == 0, text);
        seen.AppendLine(text).AppendLine(await File.ReadAllTextAsync(export));
        // The admin calls are audited (who by key name, never the key), apart from billing.
        var (auditCode, audit) = await OctoMeshProcess.RunAsync("export", "--trace", work.Trace, "--audit", "--format", "jsonl");
        Assert.True(auditCode == 0, audit);
        Assert.Contains("\"admin\":\"ops\",\"action\":\"purge_cache\",\"workspace\":\"team\",\"subject\":\"\",\"status\":200", audit);
        Assert.Contains("\"action\":\"read_usage\"", audit);
        seen.AppendLine(audit);
        foreach (var file in Directory.EnumerateFiles(work.Trace, "*.tsv"))
        {
            seen.AppendLine(await File.ReadAllTextAsync(file));
        }
        var everything = seen.ToString();
        // The run did happen: served, refused, logged and exported.
        Assert.Contains("StatusCode: 200", everything);
        Assert.Contains("StatusCode: 401", everything);
        Assert.Contains("dbug", everything);
        Assert.Contains("\"workspace\":\"team\"", everything);
        Assert.Contains("hit-exact", everything);
        foreach (var secret in new[] { ProviderSecret, ClientSecret, AdminSecret, RedisSecret, WrongSecret })
        {
            Assert.DoesNotContain(secret, everything);
        }
    }
}
