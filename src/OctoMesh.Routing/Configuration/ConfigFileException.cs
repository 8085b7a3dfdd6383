namespace OctoMesh.Routing.Configuration;

/// <summary>A file the configuration names (a CA, a model) is missing or cannot be read: the configuration is not used.</summary>
/// <param name="configPath">Where the configuration names the file, e.g. <c>$.providers.vllm.caFile</c>.</param>
public sealed class ConfigFileException(string configPath, string message, Exception? inner = null) : Exception(message, inner)
{
    public string ConfigPath { get; } = configPath;
}
