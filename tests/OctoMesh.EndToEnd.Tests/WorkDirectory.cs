namespace OctoMesh.EndToEnd.Tests;

/// <summary>
/// A fresh working directory for one test's gateway processes (their <c>data/trace</c> and <c>data/tenancy</c> go under
/// it), deleted with everything they wrote when disposed: declare it before the processes, so they stop first.
/// </summary>
internal sealed class WorkDirectory : IDisposable
{
    public string Path { get; } = OctoMeshProcess.NewWorkingDirectory();

    /// <summary>The default trace log of a gateway run here.</summary>
    public string Trace => Combine("data", "trace");

    public string Combine(params string[] names) => System.IO.Path.Combine([Path, .. names]);

    /// <summary>Writes <c>octomesh.json</c> here and returns its path.</summary>
    public async Task<string> WriteConfigAsync(string json)
    {
        var config = Combine("octomesh.json");
        await File.WriteAllTextAsync(config, json);
        return config;
    }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
