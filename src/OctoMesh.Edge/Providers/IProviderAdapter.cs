using Microsoft.AspNetCore.Http;
using OctoMesh.Edge.Wire;
using OctoMesh.Routing;

namespace OctoMesh.Edge.Providers;

/// <summary>
/// Speaks one provider's wire format for one client format: builds the upstream request and turns the
/// upstream answer into the client's format. Same format on both sides passes bytes through
/// (<see cref="OpenAI.OpenAIAdapter"/>, <see cref="Anthropic.AnthropicPassThroughAdapter"/>); otherwise
/// the adapter translates both ways, streams event by event. <see cref="UpstreamProvider.AdapterFor"/> picks one.
/// </summary>
internal interface IProviderAdapter
{
    /// <summary>
    /// Builds the upstream request, or returns null with <paramref name="unsupported"/> saying what
    /// this provider cannot do (the client gets a 400 in its own format).
    /// </summary>
    HttpRequestMessage? CreateRequest(UpstreamProvider provider, ApiOperation operation, BodyBuffer body, in InspectedRequest inspected,
        ModelTarget target, out ForwardContext context, out string? unsupported);

    /// <summary>Writes status, headers and body to the client; returns how the exchange ended and the usage the upstream reported.</summary>
    Task<(ProxyOutcome Outcome, TokenUsage? Usage)> SendResponseAsync(HttpResponseMessage upstream, HttpResponse client, ForwardContext context,
        CancellationToken clientAborted, CancellationToken deadline);
}
