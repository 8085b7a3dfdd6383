using System.Globalization;
using System.Text;
using System.Text.Json;

namespace OctoMesh.EndToEnd.Tests;

/// <summary>The native gateway's trace log through <c>kill -9</c>: what was committed reads back whole, nothing torn, nothing twice.</summary>
public sealed class TraceLogCrashTests
{
    [Fact]
    public async Task CommittedRecordsSurviveKill9AndAreExportedExactlyOnce()
    {
        await using var simulator = await OctoMeshProcess.StartAsync("sim", "--urls", "http://127.0.0.1:0");
        using var work = new WorkDirectory();
        var config = await work.WriteConfigAsync($$"""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{{simulator.Address}}v1" } }, "models": { "*": { "provider": "sim" } } }
            """);
        var trace = work.Trace;
        long committedBeforeCrash;
        await using (var gateway = await OctoMeshProcess.StartInAsync(work.Path, [], "serve", "--config", config, "--urls", "http://127.0.0.1:0"))
        {
            using var client = new HttpClient { BaseAddress = gateway.Address };
            for (var i = 0; i < 40; i++)
            {
                await ChatAsync(client, i);
            }
            // Wait for the 40 to be durable, then crash in the middle of more traffic.
            await WaitAsync(async () => await MetricAsync(client, "octomesh_trace_committed_records_total") >= 40);
            var load = Enumerable.Range(40, 200).Select(i => ChatAsync(client, i, tolerateFailure: true)).ToList();
            await Task.Delay(50);
            committedBeforeCrash = (long)await MetricAsync(client, "octomesh_trace_committed_records_total");
            await gateway.CrashAsync();
            await Task.WhenAll(load);
        }

        // Every committed record reads back, each whole (a row that parses, with a unique id).
        var crashed = await ExportAsync(trace);
        Assert.InRange(crashed.Count, Math.Max(40, committedBeforeCrash), 240);
        Assert.Equal(crashed.Count, crashed.Select(r => r.GetProperty("id").GetString()).Distinct().Count());
        Assert.All(crashed, r => Assert.True(r.GetProperty("status").GetInt32() == 200 && r.GetProperty("prompt_tokens").GetInt32() > 0, r.ToString()));

        // The next run recovers the log and goes on after it; a graceful stop commits everything.
        await using (var gateway = await OctoMeshProcess.StartInAsync(work.Path, [], "serve", "--config", config, "--urls", "http://127.0.0.1:0"))
        {
            using var client = new HttpClient { BaseAddress = gateway.Address };
            for (var i = 0; i < 10; i++)
            {
                await ChatAsync(client, 1000 + i);
            }
            Assert.Equal(0, await gateway.StopAsync());
        }
        var all = await ExportAsync(trace);
        Assert.Equal(crashed.Count + 10, all.Count);

        // A follow cursor run twice exports every record once.
        var billing = work.Combine("billing.csv");
        var (first, firstOutput) = await OctoMeshProcess.RunAsync("export", "--trace", trace, "--follow", "billing", "--once", "--out", billing);
        Assert.True(first == 0, firstOutput);
        var (second, secondOutput) = await OctoMeshProcess.RunAsync("export", "--trace", trace, "--follow", "billing", "--once", "--out", billing);
        Assert.True(second == 0, secondOutput);
        Assert.Contains($"exported {all.Count} records", firstOutput);
        Assert.Contains("exported 0 records", secondOutput);
        Assert.Equal(all.Count + 1, File.ReadAllLines(billing).Length);
    }

    [Fact]
    public async Task AFullDiskIsCountedAndShownWhileTrafficIsStillServed()
    {
        using var work = new WorkDirectory();
        // The log's first segment file is /dev/full: every write to it fails with ENOSPC, as on a full disk.
        Directory.CreateDirectory(work.Trace);
        File.CreateSymbolicLink(work.Combine("data", "trace", "fasterlog.log.0"), "/dev/full");
        await using var gateway = await OctoMeshProcess.StartInAsync(work.Path, [], "serve", "--urls", "http://127.0.0.1:0");
        using var client = new HttpClient { BaseAddress = gateway.Address };
        for (var i = 0; i < 20; i++)
        {
            await ChatAsync(client, i);
        }
        await WaitAsync(async () => await MetricAsync(client, "octomesh_trace_commit_failures_total") > 0);
        using var ready = await client.GetAsync("/readyz");
        Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Contains("trace-log-failing", await ready.Content.ReadAsStringAsync());
        Assert.Equal(0, await MetricAsync(client, "octomesh_trace_committed_records_total"));
        await gateway.WaitForOutputAsync("failed to commit");
        Assert.Equal(0, await gateway.StopAsync());
    }

    [Fact]
    public async Task RecordsWaitInMemoryWhileTheDiskIsFullAndAreWrittenWhenItHasRoomAgain()
    {
        // A real full file system: an 8 MB tmpfs, filled up after the log has started.
        var mount = Directory.CreateTempSubdirectory("octomesh-full-").FullName;
        var (mounted, mountOutput) = await RunAsync("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mount);
        Assert.True(mounted == 0, $"this test mounts a small tmpfs (root needed): {mountOutput}");
        using var work = new WorkDirectory();
        try
        {
            var config = await work.WriteConfigAsync($$"""
                { "providers": { "sim": { "kind": "sim" } }, "models": { "*": { "provider": "sim" } }, "trace": { "directory": "{{mount}}/trace" } }
                """);
            await using (var gateway = await OctoMeshProcess.StartAsync("serve", "--config", config, "--urls", "http://127.0.0.1:0"))
            {
                using var client = new HttpClient { BaseAddress = gateway.Address };
                for (var i = 0; i < 5; i++)
                {
                    await ChatAsync(client, i);
                }
                await WaitAsync(async () => await MetricAsync(client, "octomesh_trace_committed_records_total") == 5);

                await using (var filler = new FileStream(Path.Combine(mount, "filler"), FileMode.Create))
                {
                    var block = new byte[4096];
                    try
                    {
                        while (true)
                        {
                            filler.Write(block);
                            filler.Flush();
                        }
                    }
                    catch (IOException)
                    {
                        // The disk is full.
                    }
                }
                for (var i = 5; i < 150; i++)
                {
                    await ChatAsync(client, i);
                }
                await WaitAsync(async () => await MetricAsync(client, "octomesh_trace_commit_failures_total") > 0);
                using (var failing = await client.GetAsync("/readyz"))
                {
                    Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, failing.StatusCode);
                }
                // Requests served once the log is failing: their records wait in memory. (Those before may all have gone
                // into the group whose commit failed, which is kept for the retry but is not the backlog.)
                for (var i = 150; i < 200; i++)
                {
                    await ChatAsync(client, i);
                }
                Assert.True(await MetricAsync(client, "octomesh_trace_backlog") > 0, "records should wait in memory while the disk is full");

                File.Delete(Path.Combine(mount, "filler"));
                await WaitAsync(async () => await MetricAsync(client, "octomesh_trace_backlog") == 0
                    && await MetricAsync(client, "octomesh_trace_committed_records_total") == 200);
                using (var ready = await client.GetAsync("/readyz"))
                {
                    Assert.Equal(System.Net.HttpStatusCode.OK, ready.StatusCode);
                }
                Assert.Equal(0, await MetricAsync(client, "octomesh_trace_dropped_total"));
                Assert.Equal(0, await gateway.StopAsync());
            }
            // Every request, those served while the disk was full too, is in the log.
            Assert.Equal(200, (await ExportAsync(Path.Combine(mount, "trace"))).Count);
        }
        finally
        {
            await RunAsync("umount", mount);
            Directory.Delete(mount, recursive: true);
        }
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string program, params string[] args)
    {
        using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(program, args)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, output);
    }

    private static async Task ChatAsync(HttpClient client, int i, bool tolerateFailure = false)
    {
        try
        {
            using var response = await client.PostAsync("/v1/chat/completions", new StringContent(
                $$"""{"model":"sim-small","messages":[{"role":"user","content":"Question number {{i}}"}]}""", Encoding.UTF8, "application/json"));
            await response.Content.ReadAsStringAsync();
            Assert.True(tolerateFailure || response.IsSuccessStatusCode);
        }
        catch (HttpRequestException) when (tolerateFailure)
        {
            // The gateway died under this request.
        }
    }

    private static async Task<double> MetricAsync(HttpClient client, string name)
    {
        // A counter that has counted nothing yet may be absent: that is 0.
        var line = (await client.GetStringAsync("/metrics")).Split('\n').SingleOrDefault(l => l.StartsWith(name + " ", StringComparison.Ordinal));
        return line is null ? 0 : double.Parse(line[(name.Length + 1)..], CultureInfo.InvariantCulture);
    }

    private static async Task WaitAsync(Func<Task<bool>> condition)
    {
        for (var i = 0; i < 500 && !await condition(); i++)
        {
            await Task.Delay(10);
        }
        Assert.True(await condition());
    }

    private static async Task<List<JsonElement>> ExportAsync(string trace)
    {
        var output = Path.Combine(Path.GetTempPath(), $"octomesh-export-{Guid.NewGuid():N}.jsonl");
        try
        {
            var (code, text) = await OctoMeshProcess.RunAsync("export", "--trace", trace, "--format", "jsonl", "--out", output);
            Assert.True(code == 0, text);
            return File.ReadAllLines(output).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
        }
        finally
        {
            File.Delete(output);
        }
    }
}
