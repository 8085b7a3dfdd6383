namespace OctoMesh.Edge.Wire;

/// <summary>How a proxied exchange ended; recorded with every request.</summary>
internal enum ProxyOutcome
{
    /// <summary>The upstream answered (any status) and the whole answer reached the client.</summary>
    Completed,
    /// <summary>The upstream refused the gateway's own provider key (401/403): the client gets a 502, the operator a warning.</summary>
    UpstreamRefusedCredentials,
    /// <summary>The upstream did not answer in time: 504, or an error event mid-stream.</summary>
    UpstreamTimeout,
    /// <summary>The upstream's body ended early or broke after the first byte reached the client.</summary>
    UpstreamCut,
    /// <summary>The client went away; the upstream call was cancelled.</summary>
    ClientGone,
}
