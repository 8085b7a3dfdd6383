using System.Diagnostics;

namespace OctoMesh.EndToEnd.Tests;

/// <summary>
/// The published native <c>octomesh</c>: <c>OCTOMESH_BIN</c> when set (CI publishes first), else
/// <c>artifacts/native/octomesh</c>, published here once if it is missing.
/// </summary>
internal static class NativeBinary
{
    private static readonly Lazy<string> s_path = new(Locate);

    public static string Path => s_path.Value;

    public static string RepositoryRoot { get; } = FindRoot();

    private static string Locate()
    {
        if (Environment.GetEnvironmentVariable("OCTOMESH_BIN") is { Length: > 0 } configured)
        {
            Assert.True(File.Exists(configured), $"OCTOMESH_BIN points at {configured}, which does not exist");
            return configured;
        }
        var path = System.IO.Path.Combine(RepositoryRoot, "artifacts", "native", "octomesh");
        if (!File.Exists(path))
        {
            var publish = Process.Start(new ProcessStartInfo("dotnet",
                ["publish", "src/OctoMesh.Edge", "-c", "Release", "-r", "linux-x64", "-o", "artifacts/native"])
            {
                WorkingDirectory = RepositoryRoot,
                RedirectStandardOutput = true,
            })!;
            publish.StandardOutput.ReadToEnd();
            publish.WaitForExit();
            Assert.True(publish.ExitCode == 0 && File.Exists(path), "dotnet publish of the native binary failed");
        }
        return path;
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "OctoMesh.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("OctoMesh.sln not found above " + AppContext.BaseDirectory);
    }
}
