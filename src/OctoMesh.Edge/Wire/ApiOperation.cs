namespace OctoMesh.Edge.Wire;

/// <summary>The operations the front door accepts, each in its client's API format.</summary>
internal enum ApiOperation
{
    /// <summary>OpenAI <c>POST /v1/chat/completions</c>.</summary>
    ChatCompletions,
    /// <summary>OpenAI <c>POST /v1/embeddings</c>.</summary>
    Embeddings,
    /// <summary>Anthropic <c>POST /v1/messages</c>: errors and answers in Anthropic's format.</summary>
    Messages,
    /// <summary>Anthropic <c>POST /v1/messages/count_tokens</c>.</summary>
    CountTokens,
}

internal static class ApiOperationExtensions
{
    /// <summary>The client speaks Anthropic's API: its errors are written in Anthropic's format.</summary>
    public static bool IsAnthropic(this ApiOperation operation) => operation is ApiOperation.Messages or ApiOperation.CountTokens;

    /// <summary>
    /// The operation served at <paramref name="path"/>, matched as endpoint routing would (any case, with or without a
    /// trailing slash); null for every other path.
    /// </summary>
    public static ApiOperation? AtPath(string? path)
    {
        var trimmed = path.AsSpan().TrimEnd('/');
        return trimmed.Equals("/v1/chat/completions", StringComparison.OrdinalIgnoreCase) ? ApiOperation.ChatCompletions
            : trimmed.Equals("/v1/messages", StringComparison.OrdinalIgnoreCase) ? ApiOperation.Messages
            : trimmed.Equals("/v1/embeddings", StringComparison.OrdinalIgnoreCase) ? ApiOperation.Embeddings
            : trimmed.Equals("/v1/messages/count_tokens", StringComparison.OrdinalIgnoreCase) ? ApiOperation.CountTokens
            : null;
    }

    /// <summary>The operation's name in metrics and traces (OpenTelemetry's <c>gen_ai.operation.name</c> where it has one).</summary>
    public static string MetricName(this ApiOperation operation) => operation switch
    {
        ApiOperation.ChatCompletions or ApiOperation.Messages => "chat",
        ApiOperation.Embeddings => "embeddings",
        _ => "count_tokens",
    };
}
