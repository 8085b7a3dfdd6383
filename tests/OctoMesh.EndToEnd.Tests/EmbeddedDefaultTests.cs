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

    /// <summary>
    /// The gateway and its in-process simulator watch no file of the working directory (ASP.NET's default watch for
    /// <c>appsettings.json</c> is one inotify watch per directory below it, woken by every trace log write); a config
    /// file's own watch is the one the gateway keeps.
    /// </summary>
    [Fact]
    public async Task NothingBelowTheWorkingDirectoryIsWatched()
    {
        using var work = new WorkDirectory();
        for (var i = 0; i < 20; i++)
        {
            Directory.CreateDirectory(work.Combine("tree", $"{i}"));
        }
        await using (var gateway = await OctoMeshProcess.StartInAsync(work.Path, [], "serve", "--urls", "http://127.0.0.1:0"))
        {
            await gateway.WaitForOutputAsync("curl ");
            Assert.Empty(InotifyWatches(gateway.ProcessId));
        }
        var config = await work.WriteConfigAsync("""{ "providers": { "sim": { "kind": "sim" } }, "models": { "*": { "provider": "sim" } } }""");
        await using (var gateway = await OctoMeshProcess.StartInAsync(work.Path, [], "serve", "--config", config, "--urls", "http://127.0.0.1:0"))
        {
            Assert.Single(InotifyWatches(gateway.ProcessId));
        }
    }

    /// <summary>The process's inotify watches: the <c>inotify wd:</c> lines of its descriptors' fdinfo (shown when a check fails).</summary>
    private static List<string> InotifyWatches(int processId) =>
        [.. Directory.EnumerateFiles($"/proc/{processId}/fdinfo").SelectMany(WatchLines)];

    private static IEnumerable<string> WatchLines(string fdinfo)
    {
        try
        {
            return File.ReadAllLines(fdinfo).Where(line => line.StartsWith("inotify wd:", StringComparison.Ordinal));
        }
        catch (IOException)
        {
            return []; // closed while being read
        }
    }
}
