using Microsoft.AspNetCore.Http;

namespace OctoMesh.Edge.Wire;

/// <summary>An error in the format of the client's own API: OpenAI's for OpenAI paths, Anthropic's for <c>/v1/messages</c> and <c>count_tokens</c>.</summary>
internal static class ClientError
{
    /// <summary>
    /// A provider's 401/403 is about the gateway's key, not the client's: passing it on would tell the
    /// client its own key is wrong, and OpenAI's message even quotes the key's last characters.
    /// </summary>
    public static bool IsUpstreamCredentialRefusal(System.Net.HttpStatusCode status) =>
        status is System.Net.HttpStatusCode.Unauthorized or System.Net.HttpStatusCode.Forbidden or System.Net.HttpStatusCode.ProxyAuthenticationRequired;

    /// <summary>The client's side of <see cref="IsUpstreamCredentialRefusal"/>: a 502 that names no secret.</summary>
    public static async Task<(ProxyOutcome Outcome, TokenUsage? Usage)> WriteUpstreamCredentialRefusalAsync(HttpResponse response, ApiOperation operation, int status)
    {
        await WriteAsync(response, operation, StatusCodes.Status502BadGateway,
            $"The upstream provider refused this gateway's credentials (HTTP {status}). The gateway's operator has to fix the provider key.",
            code: "upstream_auth_failed");
        return (ProxyOutcome.UpstreamRefusedCredentials, null);
    }

    /// <param name="param">OpenAI's <c>param</c>; Anthropic's format has none.</param>
    /// <param name="code">OpenAI's <c>code</c>; Anthropic's format has none.</param>
    public static Task WriteAsync(HttpResponse response, ApiOperation operation, int status, string message, string? param = null, string? code = null) =>
        operation.IsAnthropic()
            ? AnthropicError.WriteAsync(response, status, message)
            : OpenAIError.WriteAsync(response, status, message, status >= 500 ? OpenAIError.Upstream : OpenAIError.InvalidRequest, param, code);
}
