namespace OctoMesh.Routing.Configuration;

/// <summary>One entry under <c>models</c>: a name clients send, and where it goes.</summary>
/// <param name="Pattern">An exact alias, a <c>prefix*</c> pattern, or <c>*</c> for every other name.</param>
/// <param name="Provider">A key under <c>providers</c>.</param>
/// <param name="UpstreamModel">The name sent upstream; null sends the client's name unchanged.</param>
public sealed record ModelConfig(string Pattern, string Provider, string? UpstreamModel)
{
    public bool IsPattern => Pattern.EndsWith('*');
}
