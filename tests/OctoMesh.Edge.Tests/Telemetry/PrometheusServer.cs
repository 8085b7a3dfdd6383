using System.Diagnostics;
using System.Text.Json;

namespace OctoMesh.Edge.Tests.Telemetry;

/// <summary>
/// A real Prometheus (Debian's <c>prometheus</c>) on a free loopback port (another one when that port is taken first),
/// checked to be the server started here (its configuration file), scraping one target every second; stopped and its
/// data removed on dispose.
/// </summary>
internal sealed class PrometheusServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _directory;
    private readonly HttpClient _client;

    private PrometheusServer(Process process, string directory, Uri address)
    {
        _process = process;
        _directory = directory;
        _client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(10) };
    }

    public static async Task<PrometheusServer> StartAsync(Uri target)
    {
        var directory = Directory.CreateTempSubdirectory("octomesh-prometheus-").FullName;
        var config = Path.Combine(directory, "prometheus.yml");
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
              scrape_timeout: 900ms
            scrape_configs:
              - job_name: octomesh
                static_configs:
                  - targets: ["{target.Authority}"]
            """);
        return (await Programs.OnFreePortAsync(port => LaunchAsync(directory, config, port))).Server;
    }

    private static async Task<PrometheusServer> LaunchAsync(string directory, string config, int port)
    {
        var process = Programs.StartServer("prometheus",
            [$"--config.file={config}", $"--storage.tsdb.path={Path.Combine(directory, "data")}", $"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"], out var log);
        var server = new PrometheusServer(process, directory, new Uri($"http://127.0.0.1:{port}"));
        try
        {
            await server.WaitAsync(async () => process.HasExited || (await server._client.GetAsync("/-/ready")).IsSuccessStatusCode, "Prometheus did not become ready");
            if (process.HasExited)
            {
                await process.WaitForExitAsync();
                var said = string.Join('\n', log);
                throw said.Contains("address already in use", StringComparison.Ordinal)
                    ? new IOException($"port {port}: address already in use")
                    : new InvalidOperationException($"prometheus exited with {process.ExitCode}: {said}");
            }
            // The server answering is the one started here: it reads this run's configuration file.
            var flags = JsonDocument.Parse(await server._client.GetStringAsync("/api/v1/status/flags")).RootElement.GetProperty("data");
            Assert.Equal(config, flags.GetProperty("config.file").GetString());
            return server;
        }
        catch
        {
            await server.StopAsync(removeData: false);
            throw;
        }
    }

    /// <summary>An instant query through the HTTP API; the first result's value, or null when the result is empty.</summary>
    public async Task<double?> QueryAsync(string promql)
    {
        using var response = await _client.GetAsync($"/api/v1/query?query={Uri.EscapeDataString(promql)}");
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.True(body.GetProperty("status").GetString() == "success", body.ToString());
        var result = body.GetProperty("data").GetProperty("result");
        return result.GetArrayLength() == 0 ? null : double.Parse(result[0].GetProperty("value")[1].GetString()!, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Polls (every 200 ms, up to 30 s) until <paramref name="condition"/> holds.</summary>
    public async Task WaitAsync(Func<Task<bool>> condition, string failure)
    {
        for (var i = 0; i < 150; i++)
        {
            try
            {
                if (await condition())
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            Assert.False(_process.HasExited, $"{failure}: prometheus exited with {(_process.HasExited ? _process.ExitCode : 0)}");
            await Task.Delay(200);
        }
        Assert.Fail(failure);
    }

    public ValueTask DisposeAsync() => new(StopAsync(removeData: true));

    private async Task StopAsync(bool removeData)
    {
        _client.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        if (removeData)
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}
