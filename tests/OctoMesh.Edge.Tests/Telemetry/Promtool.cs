using System.Diagnostics;

namespace OctoMesh.Edge.Tests.Telemetry;

/// <summary>Prometheus' own checker (Debian package <c>prometheus</c>, which <c>.ci/run</c> installs).</summary>
internal static class Promtool
{
    /// <summary>Runs <c>promtool check metrics</c> on <paramref name="exposition"/>; returns its exit code and everything it printed.</summary>
    public static async Task<(int ExitCode, string Output)> CheckMetricsAsync(string exposition)
    {
        using var process = Process.Start(new ProcessStartInfo(Programs.Find("promtool"), "check metrics")
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
}
