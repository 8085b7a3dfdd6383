using System.Diagnostics;

namespace OctoMesh.Edge.Tests.Telemetry;

/// <summary>Prometheus' own checker (Debian package <c>prometheus</c>, which <c>.ci/run</c> installs).</summary>
internal static class Promtool
{
    /// <summary>Runs <c>promtool check metrics</c> on <paramref name="exposition"/>; returns its exit code and everything it printed.</summary>
    public static async Task<(int ExitCode, string Output)> CheckMetricsAsync(string exposition)
    {
        using var process = Process.Start(new ProcessStartInfo(Find("promtool"), "check metrics")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(exposition);
        process.StandardInput.Close();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>The full path of a program on PATH; fails the test with what to install when it is missing.</summary>
    public static string Find(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(dir => Path.Combine(dir, program)).FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException($"'{program}' is not installed: run `bash .ci/run` once, or `apt-get install prometheus`.");
}
