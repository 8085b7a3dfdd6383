using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using OctoMesh.Edge.Metering;
using OctoMesh.Edge.Tests.Hosting;

namespace OctoMesh.Edge.Tests.Tenancy;

/// <summary>Workspaces and keys through the admin API, content policies, forgetting and the access export, on the running gateway.</summary>
public class TenancyApiTests
{
    private const string Admin = "admin-secret";

    private static string Sha256(string key) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key))).ToLowerInvariant();

    private static readonly string s_config = $$"""
        { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}" } }, "models": { "*": { "provider": "sim" } },
          "routes": [ { "name": "chat", "match": { "model": "chat" }, "targets": [ { "provider": "sim", "model": "sim-small" } ] },
                      { "name": "code", "match": { "task": "code" }, "targets": [ { "provider": "sim", "model": "sim-large" } ] } ],
          "adminKeys": [ { "name": "ops", "sha256": "{{Sha256(Admin)}}" } ],
          "clientKeys": [ { "name": "static", "sha256": "{{Sha256("sk-static")}}", "workspace": "fixed" } ],
          "workspaces": [ { "name": "fixed", "content": "cache" } ],
          "cache": { "exact": true, "ttlSeconds": 60 } }
        """;

    internal static async Task<(HttpStatusCode Status, JsonElement Body)> AdminCall(HttpClient client, HttpMethod method, string path, string? body = null)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new("Bearer", Admin);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }
        var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.StartsWith('{') && !text.Contains('\n') ? JsonDocument.Parse(text).RootElement.Clone() : default);
    }

    internal static async Task<HttpResponseMessage> Chat(HttpClient client, string key, string content = "Hello", string model = "sim-small")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent($$"""{"model":"{{model}}","messages":[{"role":"user","content":"{{content}}"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new("Bearer", key);
        return await client.SendAsync(request);
    }

    private static async Task<string> ErrorCode(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("code").GetString()!;

    [Fact]
    public async Task KeysAreShownOnceStoredHashedLimitedToTheirModelsAndRevocable()
    {
        await using var test = await TestGateway.StartAsync(s_config);
        var client = test.Client;
        Assert.Equal(HttpStatusCode.Created, (await AdminCall(client, HttpMethod.Post, "/admin/workspaces", """{"name":"team-a"}""")).Status);
        var (conflict, _) = await AdminCall(client, HttpMethod.Post, "/admin/workspaces", """{"name":"fixed","content":"full"}""");
        var (fromFile, _) = await AdminCall(client, HttpMethod.Patch, "/admin/workspaces/fixed", """{"content":"full"}""");
        Assert.Equal((HttpStatusCode.Conflict, HttpStatusCode.Conflict), (conflict, fromFile));
        Assert.Equal(HttpStatusCode.NotFound, (await AdminCall(client, HttpMethod.Post, "/admin/keys", """{"name":"x","workspace":"nobody"}""")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await AdminCall(client, HttpMethod.Post, "/admin/keys", """{"name":"x","workspace":"team-a","routes":["nope"]}""")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await AdminCall(client, HttpMethod.Post, "/admin/keys", """{"name":"x","workspace":"team-a","expires":"2001-01-01"}""")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await AdminCall(client, HttpMethod.Post, "/admin/keys", """{"name":"x","workspace":"team-a","expires":1767225600}""")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await AdminCall(client, HttpMethod.Post, "/admin/keys", "[1,2")).Status);

        var (created, key) = await AdminCall(client, HttpMethod.Post, "/admin/keys", """{"name":"ci","workspace":"team-a","models":["sim-small","chat"]}""");
        Assert.Equal(HttpStatusCode.Created, created);
        var secret = key.GetProperty("key").GetString()!;
        var id = key.GetProperty("id").GetString()!;
        Assert.Equal(("ci", "team-a", "active", "api"), (key.GetProperty("name").GetString(), key.GetProperty("workspace").GetString(),
            key.GetProperty("status").GetString(), key.GetProperty("source").GetString()));

        // Shown once: never again in a listing, and only its salted hash on disk.
        var (_, listed) = await AdminCall(client, HttpMethod.Get, "/admin/keys?workspace=team-a");
        Assert.DoesNotContain(secret[16..], listed.GetRawText());
        Assert.False(listed.GetProperty("data")[0].TryGetProperty("key", out _));
        var store = await File.ReadAllTextAsync(Path.Combine(test.TraceDirectory, "tenancy", "store.json"));
        Assert.DoesNotContain(secret[16..], store);
        Assert.Contains(id, store);
        Assert.Equal(2, (await AdminCall(client, HttpMethod.Get, "/admin/keys")).Body.GetProperty("data").GetArrayLength());

        Assert.Equal(HttpStatusCode.OK, (await Chat(client, secret)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Chat(client, secret, model: "chat")).StatusCode);
        var denied = await Chat(client, secret, model: "sim-large");
        Assert.Equal((HttpStatusCode.Forbidden, "model_not_allowed"), (denied.StatusCode, await ErrorCode(denied)));
        // Asking for an allowed name but declaring a task whose route goes to another model: refused too.
        var byTask = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent("""{"model":"sim-small","messages":[{"role":"user","content":"Hi"}]}""", Encoding.UTF8, "application/json"),
        };
        byTask.Headers.Authorization = new("Bearer", secret);
        byTask.Headers.Add("x-octomesh-task", "code");
        Assert.Equal(HttpStatusCode.Forbidden, (await client.SendAsync(byTask)).StatusCode);

        var (revoked, after) = await AdminCall(client, HttpMethod.Delete, $"/admin/keys/{id}");
        Assert.Equal((HttpStatusCode.OK, "revoked"), (revoked, after.GetProperty("status").GetString()));
        var refused = await Chat(client, secret);
        Assert.Equal((HttpStatusCode.Unauthorized, "key_revoked"), (refused.StatusCode, await ErrorCode(refused)));
        Assert.Equal(HttpStatusCode.OK, (await Chat(client, "sk-static")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await AdminCall(client, HttpMethod.Delete, "/admin/keys/abcdefgh2345")).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Chat(client, "sk-unknown")).StatusCode);

        // Every call is in the audit log, with the key it acted on.
        var audit = await AuditRows(test, 12);
        Assert.Contains(audit, row => row.EndsWith($",ops,create_key,team-a,{id},201", StringComparison.Ordinal));
        Assert.Contains(audit, row => row.EndsWith($",ops,revoke_key,team-a,{id},200", StringComparison.Ordinal));
        Assert.Contains(audit, row => row.EndsWith(",ops,update_workspace,fixed,,409", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RequireKeysRefusesEvenBeforeAnyKeyExists()
    {
        const string NoKeys = """
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}" } }, "models": { "*": { "provider": "sim" } } TENANCY }
            """;
        await using var open = await TestGateway.StartAsync(NoKeys.Replace("TENANCY", ""));
        Assert.Equal(HttpStatusCode.OK, (await Chat(open.Client, "anything")).StatusCode);
        // A gateway whose keys all come through the admin API: no key known yet is no reason to let requests in.
        await using var closed = await TestGateway.StartAsync(NoKeys.Replace("TENANCY", """, "tenancy": { "requireKeys": true }"""));
        var refused = await Chat(closed.Client, "anything");
        Assert.Equal((HttpStatusCode.Unauthorized, "invalid_api_key"), (refused.StatusCode, await ErrorCode(refused)));
    }

    [Fact]
    public async Task IssuedKeysSurviveARestartAndExpire()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"octomesh-tenancy-{Guid.NewGuid():N}");
        var config = s_config.Replace("\"cache\":", $$"""  "tenancy": { "directory": "{{directory}}" }, "cache":""");
        string secret;
        try
        {
            await using (var first = await TestGateway.StartAsync(config))
            {
                await AdminCall(first.Client, HttpMethod.Post, "/admin/workspaces", """{"name":"team-a","content":"cache"}""");
                secret = (await AdminCall(first.Client, HttpMethod.Post, "/admin/keys", """{"name":"ci","workspace":"team-a"}""")).Body.GetProperty("key").GetString()!;
                var soon = DateTimeOffset.UtcNow.AddSeconds(1).ToString("O");
                var expiring = (await AdminCall(first.Client, HttpMethod.Post, "/admin/keys", $$"""{"name":"short","workspace":"team-a","expires":"{{soon}}"}""")).Body;
                var shortSecret = expiring.GetProperty("key").GetString()!;
                Assert.Equal(HttpStatusCode.OK, (await Chat(first.Client, shortSecret)).StatusCode);
                await Task.Delay(DateTimeOffset.Parse(soon) - DateTimeOffset.UtcNow + TimeSpan.FromMilliseconds(50));
                var expired = await Chat(first.Client, shortSecret);
                Assert.Equal((HttpStatusCode.Unauthorized, "key_expired"), (expired.StatusCode, await ErrorCode(expired)));
            }
            await using var second = await TestGateway.StartAsync(config);
            Assert.Equal(HttpStatusCode.OK, (await Chat(second.Client, secret)).StatusCode);
            Assert.Equal("cache", (await AdminCall(second.Client, HttpMethod.Get, "/admin/workspaces/team-a")).Body.GetProperty("content").GetString());
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task ContentIsKeptOnlyByChoiceAndForgettingLeavesBillingWhole()
    {
        await using var test = await TestGateway.StartAsync(s_config);
        var client = test.Client;
        await AdminCall(client, HttpMethod.Post, "/admin/workspaces", """{"name":"quiet"}""");
        await AdminCall(client, HttpMethod.Post, "/admin/workspaces", """{"name":"open","content":"full"}""");
        var quiet = (await AdminCall(client, HttpMethod.Post, "/admin/keys", """{"name":"q","workspace":"quiet"}""")).Body.GetProperty("key").GetString()!;
        var open = (await AdminCall(client, HttpMethod.Post, "/admin/keys", """{"name":"o","workspace":"open"}""")).Body.GetProperty("key").GetString()!;

        // "none": never cached, nothing kept.
        await Chat(client, quiet, "My card is 4111 1111 1111 1111");
        var again = await Chat(client, quiet, "My card is 4111 1111 1111 1111");
        Assert.False(again.Headers.Contains("x-octomesh-cache"));
        // "full": cached, and kept redacted and encrypted.
        var first = await Chat(client, open, "Mail bob@example.com the plan");
        var second = await Chat(client, open, "Mail bob@example.com the plan");
        Assert.Equal(("miss", "hit-exact"), (first.Headers.GetValues("x-octomesh-cache").Single(), second.Headers.GetValues("x-octomesh-cache").Single()));
        var vault = await KeptAsync(test, "open", 1);
        Assert.False(File.Exists(vault.PathOf("quiet")));
        var file = await File.ReadAllTextAsync(vault.PathOf("open"));
        Assert.DoesNotContain("bob@", file);
        Assert.DoesNotContain("plan", file);

        // The access export: the workspace, its key, the kept exchange (redacted), the cached answer and the usage records.
        var export = await Export(client, "open");
        Assert.Equal(["workspace", "key", "exchange", "cached_answer", "request", "request"], export.Select(l => l.GetProperty("type").GetString()));
        Assert.Contains("Mail [REDACTED:email] the plan", export[2].GetProperty("request").GetString());
        Assert.Contains("chat.completion", export[2].GetProperty("answer").GetString());
        var billed = export.Where(l => l.GetProperty("type").GetString() == "request").Sum(l => l.GetProperty("record").GetProperty("cost_micros").GetInt64());

        // Kept traffic is a workload for the optimizer: each OpenAI-format exchange an open (judged) item of its task.
        var exportFile = Path.Combine(test.TraceDirectory, "export.jsonl");
        await File.WriteAllLinesAsync(exportFile, export.Select(l => l.GetRawText()));
        var sampled = OctoMesh.Edge.Optimizer.LiveTraffic.Items(exportFile, "general", null, 1).Single();
        Assert.Equal(("general", OctoMesh.Edge.Optimizer.CheckerKind.Judge), (sampled.Task, sampled.Checker.Kind));
        Assert.Contains("Mail [REDACTED:email] the plan", sampled.LastUserText);

        var (forgot, result) = await AdminCall(client, HttpMethod.Post, "/admin/workspaces/open/forget");
        Assert.Equal((HttpStatusCode.OK, 1), (forgot, result.GetProperty("exchanges_destroyed").GetInt32()));
        Assert.False(File.Exists(vault.PathOf("open")));
        Assert.Equal(0, vault.Keyring.Count("open"));
        Assert.All(file.Split('\n', StringSplitOptions.RemoveEmptyEntries), line => Assert.Null(vault.Decrypt("open", line)));
        // The cache is purged; billing records are whole.
        var afterForget = await Export(client, "open");
        Assert.Equal(["workspace", "key", "request", "request"], afterForget.Select(l => l.GetProperty("type").GetString()));
        Assert.Equal(billed, afterForget.Where(l => l.GetProperty("type").GetString() == "request").Sum(l => l.GetProperty("record").GetProperty("cost_micros").GetInt64()));
        Assert.Equal("miss", (await Chat(client, open, "Mail bob@example.com the plan")).Headers.GetValues("x-octomesh-cache").Single());
    }

    [Fact]
    public async Task AStreamedAnswerIsKeptWholeSoASecretSplitAcrossDeltasIsRedacted()
    {
        await using var test = await TestGateway.StartAsync(s_config);
        await AdminCall(test.Client, HttpMethod.Post, "/admin/workspaces", """{"name":"open","content":"full"}""");
        var key = (await AdminCall(test.Client, HttpMethod.Post, "/admin/keys", """{"name":"o","workspace":"open"}""")).Body.GetProperty("key").GetString()!;
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent("""{"model":"sim-small","stream":true,"messages":[{"role":"user","content":"my key is sk-proj-AbCdEfGhIjKlMnOpQrStUv123 ok"}]}""",
                Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new("Bearer", key);
        request.Headers.Add("x-sim-echo", "1");
        var streamed = await (await test.Client.SendAsync(request)).Content.ReadAsStringAsync();
        // The simulator echoed the key back in several deltas.
        Assert.DoesNotContain("sk-proj-AbCdEfGhIjKlMnOpQrStUv123", streamed);
        Assert.Contains("data: ", streamed);

        var kept = Assert.Single((await KeptAsync(test, "open", 1)).Read("open"))!;
        Assert.Equal("my key is [REDACTED:secret] ok", JsonDocument.Parse(kept.Answer).RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        Assert.DoesNotContain("AbCdEf", kept.Request);
    }

    /// <summary>
    /// The gateway's vault once it holds <paramref name="count"/> exchanges of the workspace: an exchange is handed to
    /// the vault as its request ends, which may be just after the client has read the whole answer.
    /// </summary>
    internal static async Task<OctoMesh.Edge.Privacy.ContentVault> KeptAsync(TestGateway test, string workspace, int count)
    {
        var vault = (OctoMesh.Edge.Privacy.ContentVault)test.Gateway.Services.GetService(typeof(OctoMesh.Edge.Privacy.ContentVault))!;
        for (var i = 0; i < 1000; i++)
        {
            await vault.FlushAsync();
            if (vault.Read(workspace).Count() >= count)
            {
                break;
            }
            await Task.Delay(10);
        }
        return vault;
    }

    private static async Task<List<JsonElement>> Export(HttpClient client, string workspace)
    {
        // The trace log commits every 100 ms: wait until the records of the requests so far are readable.
        for (var i = 0; ; i++)
        {
            var request = new HttpRequestMessage(HttpMethod.Get, $"/admin/workspaces/{workspace}/export");
            request.Headers.Authorization = new("Bearer", Admin);
            var response = await client.SendAsync(request);
            Assert.Equal("application/x-ndjson", response.Content.Headers.ContentType?.MediaType);
            var lines = (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
            if (lines.Count(l => l.GetProperty("type").GetString() == "request") >= 2 || i == 100)
            {
                return lines;
            }
            await Task.Delay(20);
        }
    }

    private static async Task<string[]> AuditRows(TestGateway test, int atLeast)
    {
        for (var i = 0; ; i++)
        {
            using var output = new MemoryStream();
            using (var reader = TraceReader.Open(test.TraceDirectory))
            {
                if (BillingExport.ExportAudit(reader, output, ExportFormat.Csv, null, null) >= atLeast || i == 100)
                {
                    return Encoding.UTF8.GetString(output.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
                }
            }
            await Task.Delay(20);
        }
    }
}
