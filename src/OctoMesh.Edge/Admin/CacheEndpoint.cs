using Microsoft.AspNetCore.Http;
using OctoMesh.Edge.Cache;
using OctoMesh.Edge.Wire;
using OctoMesh.Edge.Pipeline;

namespace OctoMesh.Edge.Admin;

/// <summary>
/// <c>DELETE /admin/cache?workspace=W</c> removes every cached answer a request of that workspace put in;
/// <c>?all=true</c> removes them all. Admin keys only.
/// </summary>
internal sealed class CacheEndpoint(GatewayRuntimeHolder runtimes, ExactCache cache, Metering.RequestMeter meter)
{
    public async Task HandleAsync(HttpContext context)
    {
        if (await AdminAccess.AdmitAsync(runtimes.Current, context) is not { } admin)
        {
            return;
        }
        try
        {
            await PurgeAsync(context);
        }
        finally
        {
            meter.Audit(admin, Metering.AuditAction.PurgeCache, context.Request.Query["workspace"].FirstOrDefault(), context.Response.StatusCode,
                context.TraceIdentifier);
        }
    }

    private async Task PurgeAsync(HttpContext context)
    {
        var query = context.Request.Query;
        var workspace = query["workspace"].FirstOrDefault();
        var all = string.Equals(query["all"].FirstOrDefault(), "true", StringComparison.OrdinalIgnoreCase);
        if (workspace is null == !all)
        {
            await OpenAIError.WriteAsync(context.Response, StatusCodes.Status400BadRequest,
                "Say which answers to purge: ?workspace=NAME, or ?all=true.", OpenAIError.InvalidRequest, code: "invalid_query");
            return;
        }
        await cache.PurgeAsync(workspace);
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(64);
        using (var json = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("purged", workspace ?? "all");
            json.WriteEndObject();
        }
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
    }
}
