using Microsoft.AspNetCore.Http;
using OctoMesh.Edge.Wire;
using OctoMesh.Edge.Tenancy;
using OctoMesh.Edge.Pipeline;

namespace OctoMesh.Edge.Admin;

/// <summary>The <c>/admin</c> endpoints' door: closed (403) without admin keys, 401 without a right one.</summary>
internal static class AdminAccess
{
    /// <summary>The admin key's name when the request carries a valid one; else null, with the error sent.</summary>
    public static async ValueTask<string?> AdmitAsync(GatewayRuntime runtime, HttpContext context)
    {
        if (!runtime.AdminKeys.IsEnabled)
        {
            await OpenAIError.WriteAsync(context.Response, StatusCodes.Status403Forbidden,
                "The admin endpoints are closed: configure adminKeys to open them.", OpenAIError.InvalidRequest, code: "admin_closed");
            return null;
        }
        var headers = context.Request.Headers;
        if (runtime.AdminKeys.Authenticate(ClientKeyTable.ReadPresentedKey(headers.Authorization.ToString(), headers["x-api-key"].ToString())) is not { } admin)
        {
            await OpenAIError.WriteAsync(context.Response, StatusCodes.Status401Unauthorized,
                "Incorrect or missing admin key. Send it as 'Authorization: Bearer <key>'.", OpenAIError.InvalidRequest, code: "invalid_api_key");
            return null;
        }
        return admin.Name;
    }
}
