using Microsoft.AspNetCore.Http;
using OctoMesh.Edge.Wire;
using OctoMesh.Routing;

namespace OctoMesh.Edge.Providers;

/// <summary>An operation a provider lacks: every request gets a typed 400 that says so, in the client's format.</summary>
internal sealed class UnsupportedAdapter(string message) : IProviderAdapter
{
    public HttpRequestMessage? CreateRequest(UpstreamProvider provider, ApiOperation operation, BodyBuffer body, in InspectedRequest inspected,
        ModelTarget target, out ForwardContext context, out string? unsupported)
    {
        context = default;
        unsupported = message;
        return null;
    }

    public Task<(ProxyOutcome Outcome, TokenUsage? Usage)> SendResponseAsync(HttpResponseMessage upstream, HttpResponse client, ForwardContext context,
        CancellationToken clientAborted, CancellationToken deadline) => throw new InvalidOperationException("An unsupported exchange never reaches the upstream.");
}
