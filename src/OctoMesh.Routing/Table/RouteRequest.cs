namespace OctoMesh.Routing.Table;

/// <summary>Request headers, as the host has them; the routing table never copies them.</summary>
public interface IRouteHeaders
{
    /// <summary>The header's value, or null when absent. Names are compared case-insensitively.</summary>
    string? Get(string name);
}

/// <summary>
/// What the routing table looks at in a request: features the inspector already extracted, passed by
/// reference and spans so that deciding allocates nothing.
/// </summary>
public readonly ref struct RouteRequest
{
    public RouteRequest(ReadOnlySpan<char> model)
    {
        Model = model;
    }

    public ReadOnlySpan<char> Model { get; }
    public string? Workspace { get; init; }
    /// <summary>The declared or detected task class, if any.</summary>
    public string? Task { get; init; }
    public IRouteHeaders? Headers { get; init; }
    public bool HasTools { get; init; }
    public bool HasImages { get; init; }
    public bool Stream { get; init; }
    public int PromptTokens { get; init; }
}
