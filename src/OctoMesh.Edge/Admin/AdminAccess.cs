using Microsoft.AspNetCore.Http;
using OctoMesh.Edge.Hosting;
using OctoMesh.Edge.Proxy;
using OctoMesh.Edge.Tenancy;

namespace OctoMesh.Edge.Admin;

/// <summary>The <c>/admin</c> endpoints' door: closed (403) without admin keys, 401 without a right one.</summary>
internal static class AdminAccess
{
    public static async ValueTask<bool> AdmitAsync(GatewayRuntime runtime, HttpContext context)
    {
        if (!runtime.AdminKeys.IsEnabled)
        {
            await OpenAIError.WriteAsync(context.Response, StatusCodes.Status403Forbidden,
                "The admin endpoints are closed: configure adminKeys to open them.", OpenAIError.InvalidRequest, code: "admin_closed");
            return false;
        }
        var headers = context.Request.Headers;
        if (runtime.AdminKeys.Authenticate(ClientKeyTable.ReadPresentedKey(headers.Authorization.ToString(), headers["x-api-key"].ToString())) is null)
        {
            await OpenAIError.WriteAsync(context.Response, StatusCodes.Status401Unauthorized,
                "Incorrect or missing admin key. Send it as 'Authorization: Bearer <key>'.", OpenAIError.InvalidRequest, code: "invalid_api_key");
            return false;
        }
        return true;
    }
}
