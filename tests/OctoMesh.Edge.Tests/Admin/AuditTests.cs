using System.Net;
using System.Security.Cryptography;
using System.Text;
using OctoMesh.Edge.Metering;
using OctoMesh.Edge.Tests.Hosting;

namespace OctoMesh.Edge.Tests.Admin;

/// <summary>Admin calls leave audit records in the trace log, which billing never counts.</summary>
public class AuditTests
{
    [Fact]
    public async Task AdminCallsAreAuditedApartFromBilling()
    {
        var admin = Convert.ToHexString(SHA256.HashData("admin-secret"u8)).ToLowerInvariant();
        await using var test = await TestGateway.StartAsync($$"""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}" } }, "models": { "*": { "provider": "sim" } },
              "adminKeys": [ { "name": "ops-alice", "sha256": "{{admin}}" } ], "cache": { "exact": true } }
            """);
        async Task<HttpStatusCode> Call(HttpMethod method, string path, string key = "admin-secret")
        {
            var request = new HttpRequestMessage(method, path);
            request.Headers.Authorization = new("Bearer", key);
            return (await test.Client.SendAsync(request)).StatusCode;
        }
        await test.Client.PostAsync("/v1/chat/completions",
            new StringContent("""{"model":"sim-small","messages":[{"role":"user","content":"Hi"}]}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, await Call(HttpMethod.Delete, "/admin/cache?workspace=team-a"));
        Assert.Equal(HttpStatusCode.BadRequest, await Call(HttpMethod.Delete, "/admin/cache"));
        Assert.Equal(HttpStatusCode.OK, await Call(HttpMethod.Get, "/admin/routes"));
        Assert.Equal(HttpStatusCode.Unauthorized, await Call(HttpMethod.Get, "/admin/routes", "wrong"));

        // Read while the gateway runs, once the group commit (every 100 ms) has them.
        using var output = new MemoryStream();
        for (var i = 0; i < 100; i++)
        {
            output.SetLength(0);
            using var attempt = TraceReader.Open(test.TraceDirectory);
            if (BillingExport.ExportAudit(attempt, output, ExportFormat.Csv, null, null) == 3)
            {
                break;
            }
            await Task.Delay(20);
        }
        using var reader = TraceReader.Open(test.TraceDirectory);
        var rows = Encoding.UTF8.GetString(output.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("time,admin,action,workspace,subject,status", rows[0]);
        Assert.EndsWith(",ops-alice,purge_cache,team-a,,200", rows[1]);
        Assert.EndsWith(",ops-alice,purge_cache,,,400", rows[2]);
        Assert.EndsWith(",ops-alice,read_routes,,,200", rows[3]);
        // Billing sees the one request, not the admin calls (a refused admin key leaves no audit: nobody to name).
        Assert.Single(reader.Read());
    }
}
