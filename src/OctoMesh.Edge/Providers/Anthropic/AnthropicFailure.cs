using OctoMesh.Edge.Wire;

namespace OctoMesh.Edge.Providers.Anthropic;

/// <summary>The <c>event: error</c> that ends an Anthropic-format stream the upstream broke off or left unfinished.</summary>
internal static class AnthropicFailure
{
    private static readonly byte[] s_cut = AnthropicError.SerializeEvent("api_error", "The upstream provider's stream ended before it was complete.");
    private static readonly byte[] s_timeout = AnthropicError.SerializeEvent("api_error", "The upstream provider did not finish in time.");

    public static byte[] Event(ProxyOutcome outcome) => outcome == ProxyOutcome.UpstreamTimeout ? s_timeout : s_cut;
}
