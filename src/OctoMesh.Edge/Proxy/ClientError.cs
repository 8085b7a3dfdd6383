using Microsoft.AspNetCore.Http;

namespace OctoMesh.Edge.Proxy;

/// <summary>An error in the format of the client's own API: OpenAI's for OpenAI paths, Anthropic's for <c>/v1/messages</c> and <c>count_tokens</c>.</summary>
internal static class ClientError
{
    /// <param name="param">OpenAI's <c>param</c>; Anthropic's format has none.</param>
    /// <param name="code">OpenAI's <c>code</c>; Anthropic's format has none.</param>
    public static Task WriteAsync(HttpResponse response, ApiOperation operation, int status, string message, string? param = null, string? code = null) =>
        operation.IsAnthropic()
            ? AnthropicError.WriteAsync(response, status, message)
            : OpenAIError.WriteAsync(response, status, message, status >= 500 ? OpenAIError.Upstream : OpenAIError.InvalidRequest, param, code);
}
