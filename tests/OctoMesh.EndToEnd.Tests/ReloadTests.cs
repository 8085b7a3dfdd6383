using System.Runtime.InteropServices;

namespace OctoMesh.EndToEnd.Tests;

/// <summary>SIGHUP reloads the native gateway's configuration.</summary>
public sealed class ReloadTests
{
    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);

    private const int SigHup = 1;

    [Fact]
    public async Task SighupReloadsTheConfiguration()
    {
        await using var simulator = await OctoMeshProcess.StartAsync("sim", "--urls", "http://127.0.0.1:0");
        // The gateway reads the config through a link in a folder of its own, while the file changes in another:
        // the file watch sees nothing, so only the signal can make the gateway reload.
        var folder = Directory.CreateTempSubdirectory("octomesh-reload-");
        var real = Path.Combine(folder.FullName, "real.json");
        var linkFolder = Directory.CreateDirectory(Path.Combine(folder.FullName, "conf"));
        var link = Path.Combine(linkFolder.FullName, "octomesh.json");
        string Config(string alias) => $$"""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{{simulator.Address}}v1" } }, "models": { "{{alias}}": { "provider": "sim", "model": "sim-small" } } }
            """;
        await File.WriteAllTextAsync(real, Config("before"));
        File.CreateSymbolicLink(link, real);
        try
        {
            await using var gateway = await OctoMeshProcess.StartAsync("serve", "--config", link, "--urls", "http://127.0.0.1:0");
            using var client = new HttpClient { BaseAddress = gateway.Address };
            Assert.Contains("\"before\"", await client.GetStringAsync("/v1/models"));

            await File.WriteAllTextAsync(real, Config("after"));
            Assert.Equal(0, kill(gateway.ProcessId, SigHup));
            await gateway.WaitForOutputAsync("Reloaded");
            Assert.Contains("\"after\"", await client.GetStringAsync("/v1/models"));
            Assert.Equal(0, await gateway.StopAsync());
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
