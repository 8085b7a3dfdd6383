using System.Diagnostics;
using System.Text.Json;

namespace OctoMesh.EndToEnd.Tests;

/// <summary><c>octomesh serve</c> with no configuration, as the README's first command runs it.</summary>
public sealed class EmbeddedDefaultTests
{
    [Fact]
    public async Task BannerCurlLineGetsASimulatedCompletion()
    {
        await using var gateway = await OctoMeshProcess.StartAsync("serve", "--urls", "http://127.0.0.1:0");
        await gateway.WaitForOutputAsync("curl ");
        Assert.Contains("SIMULATED", gateway.Output);
        Assert.Contains("authentication is OFF", gateway.Output);

        // Paste the banner's curl line into a shell, as a user would.
        var curl = gateway.Output.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith("curl ", StringComparison.Ordinal));
        using var shell = Process.Start(new ProcessStartInfo("bash", ["-c", curl]) { RedirectStandardOutput = true })!;
        var output = await shell.StandardOutput.ReadToEndAsync();
        await shell.WaitForExitAsync();

        Assert.Equal(0, shell.ExitCode);
        using var document = JsonDocument.Parse(output);
        Assert.Equal("sim-small", document.RootElement.GetProperty("model").GetString());
        Assert.StartsWith("The answer is", document.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        Assert.Equal(0, await gateway.StopAsync());
    }
}
