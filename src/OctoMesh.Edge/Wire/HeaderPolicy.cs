using System.Collections.Frozen;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace OctoMesh.Edge.Wire;

/// <summary>
/// Which headers cross the gateway. Towards the upstream: everything but hop-by-hop headers (RFC 9110
/// §7.6.1), the client's credentials, and headers that would tell the provider who the client is or
/// re-aim the request. Towards the client: only what an OpenAI client uses, never the provider
/// account's identity or limits.
/// </summary>
internal static class HeaderPolicy
{
    private static readonly FrozenSet<string> s_notToUpstream = FrozenSet.ToFrozenSet(
    [
        "host", "connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "trailer",
        "transfer-encoding", "upgrade", "http2-settings", "expect", "content-length", "content-type",
        // The client's credentials are for the gateway; the provider gets the provider key.
        "authorization", "x-api-key", "api-key", "cookie",
        // The usage scanner reads plain bytes; the provider account is the gateway's, not the client's.
        "accept-encoding", "openai-organization", "openai-project",
        // Privacy: the client's address stays here.
        "forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-real-ip",
        "x-request-id",
    ], StringComparer.OrdinalIgnoreCase);

    private static readonly FrozenSet<string> s_toClient = FrozenSet.ToFrozenSet(
    [
        "content-type", "content-encoding", "cache-control", "retry-after", "retry-after-ms",
        "x-should-retry", "openai-processing-ms", "openai-version",
    ], StringComparer.OrdinalIgnoreCase);

    public static bool ForwardToUpstream(string name) =>
        !s_notToUpstream.Contains(name) && !name.StartsWith("x-octomesh-", StringComparison.OrdinalIgnoreCase);

    public static bool ForwardToClient(string name) => s_toClient.Contains(name);

    /// <summary>Copies the headers an OpenAI client may see from an upstream response.</summary>
    public static void CopyToClient(System.Net.Http.Headers.HttpHeaders from, IHeaderDictionary to)
    {
        foreach (var (name, values) in from.NonValidated)
        {
            if (ForwardToClient(name))
            {
                to[name] = values.Count == 1 ? new StringValues(values.ToString()) : new StringValues(values.ToArray());
            }
        }
    }
}
