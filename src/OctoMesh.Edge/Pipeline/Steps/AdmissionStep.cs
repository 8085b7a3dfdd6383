using Microsoft.AspNetCore.Http;
using OctoMesh.Edge.Optimizer;
using OctoMesh.Edge.Privacy;
using OctoMesh.Edge.Tenancy;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Pipeline.Steps;

/// <summary>
/// Who is asking: POST only (405); the client key, hashed and compared in constant time, unless keys are off (401 when
/// wrong, revoked or expired); its workspace and that workspace's content policy; no compressed bodies (415). A request
/// this gateway mirrors to itself for shadow evaluation carries its own credential and no workspace.
/// </summary>
internal sealed class AdmissionStep(TenancyStore tenancy, ContentVault vault, ShadowEvaluator shadow) : IRequestStep
{
    public async ValueTask<StepResult> RunAsync(GatewayRequest request)
    {
        var http = request.Request;
        if (!HttpMethods.IsPost(http.Method))
        {
            request.Response.Headers.Allow = "POST";
            return await request.RefuseAsync(StatusCodes.Status405MethodNotAllowed, $"{http.Path} accepts POST only.", code: "method_not_allowed");
        }
        var exchange = request.Exchange;
        var runtime = request.Runtime;
        exchange.Shadow = shadow.IsShadow(http.Headers);
        // One view of keys and workspaces for the whole request.
        request.Tenants = tenancy.View(runtime.Config);
        if (!exchange.Shadow)
        {
            var (key, refusal, code) = Authenticate(runtime, request.Tenants, http.Headers);
            if (refusal is not null)
            {
                return await request.RefuseAsync(StatusCodes.Status401Unauthorized, refusal, code: code);
            }
            request.Key = key;
        }
        if (request.Key?.Workspace is { } workspace)
        {
            exchange.Workspace = workspace;
            request.Content = request.Tenants.ContentOf(workspace);
            // A forget while this request runs means its exchange is not kept (what it started under is gone).
            request.ContentGeneration = request.Content == ContentPolicy.Full ? vault.Generation(workspace) : 0;
        }
        exchange.KeyName = request.Key?.Name;
        exchange.WorkspaceLabel = runtime.Config.Metrics.WorkspaceLabel ? exchange.Workspace ?? "" : null;
        if (http.Headers.ContentEncoding is { Count: > 0 } encoding && encoding.ToString() != "identity")
        {
            return await request.RefuseAsync(StatusCodes.Status415UnsupportedMediaType,
                "Compressed request bodies are not accepted. Send the JSON body without Content-Encoding.", code: "unsupported_content_encoding");
        }
        return StepResult.Next;
    }

    /// <summary>
    /// The client key when there are keys (in the file or made through the admin API), or why it is refused (wrong,
    /// revoked or expired) with the error code to send.
    /// </summary>
    public static (ClientKeyConfig? Key, string? Refusal, string? Code) Authenticate(GatewayRuntime runtime, TenantView tenants, IHeaderDictionary headers)
    {
        var keys = tenants.Keys;
        if (!keys.IsEnabled && !runtime.Config.Tenancy.RequireKeys)
        {
            return (null, null, null);
        }
        var key = keys.Authenticate(ClientKeyTable.ReadPresentedKey(headers.Authorization.ToString(), headers["x-api-key"].ToString()));
        return key switch
        {
            null => (null, "Incorrect or missing API key. Send your OctoMesh key as 'Authorization: Bearer <key>' or 'x-api-key: <key>'.", "invalid_api_key"),
            { RevokedAt: not null } => (null, "This API key was revoked. Ask your administrator for a new one.", "key_revoked"),
            { ExpiresAt: { } expires } when expires <= DateTimeOffset.UtcNow => (null, "This API key expired. Ask your administrator for a new one.", "key_expired"),
            _ => (key, null, null),
        };
    }
}
