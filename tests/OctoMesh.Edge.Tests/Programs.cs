namespace OctoMesh.Edge.Tests;

/// <summary>The real programs tests drive (promtool, prometheus, redis-server), found on PATH.</summary>
internal static class Programs
{
    /// <summary>The full path of <paramref name="program"/>; fails the test with what to install when it is missing.</summary>
    public static string Find(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(dir => Path.Combine(dir, program)).FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException($"'{program}' is not installed: run `bash .ci/run` once (it installs what the tests need).");
}
