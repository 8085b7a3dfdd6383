namespace OctoMesh.Routing.Configuration;

/// <summary>One thing wrong with a configuration: where, what, and how to fix it.</summary>
/// <param name="Path">A JSON path such as <c>$.providers.openai.baseUrl</c>.</param>
/// <param name="Problem">What is wrong, quoting the bad value unless it is a secret.</param>
/// <param name="Fix">What to write instead.</param>
public sealed record ConfigError(string Path, string Problem, string Fix)
{
    public override string ToString() => $"{Path}: {Problem}. Fix: {Fix}.";
}
