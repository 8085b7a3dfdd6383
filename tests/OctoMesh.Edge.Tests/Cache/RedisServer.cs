using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace OctoMesh.Edge.Tests.Cache;

/// <summary>A real Redis (Debian's <c>redis-server</c>, which <c>.ci/run</c> installs) on a free loopback port, without persistence; stopped on dispose.</summary>
internal sealed class RedisServer : IAsyncDisposable
{
    private Process _process;

    private readonly string? _password;

    private RedisServer(Process process, int port, string? password)
    {
        _process = process;
        Port = port;
        _password = password;
    }

    public int Port { get; }

    /// <param name="password">Asked of every client (<c>requirepass</c>), or none.</param>
    public static async Task<RedisServer> StartAsync(string? password = null)
    {
        var port = Programs.FreePort();
        return new RedisServer(await LaunchAsync(port, password), port, password);
    }

    /// <summary>Runs one command with <c>redis-cli</c> (installed with redis-server) and returns its output lines.</summary>
    public async Task<string[]> CliAsync(params string[] command)
    {
        string[] auth = _password is null ? [] : ["-a", _password, "--no-auth-warning"];
        using var cli = Process.Start(new ProcessStartInfo(Programs.Find("redis-cli"),
            ["-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), .. auth, .. command])
        {
            RedirectStandardOutput = true,
        })!;
        var output = await cli.StandardOutput.ReadToEndAsync();
        await cli.WaitForExitAsync();
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>Kills the server at once, as a crash would.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync();
    }

    /// <summary>Starts it again on the same port (empty: there is no persistence).</summary>
    public async Task RestartAsync()
    {
        _process.Dispose();
        _process = await LaunchAsync(Port, _password);
    }

    private static async Task<Process> LaunchAsync(int port, string? password)
    {
        string[] auth = password is null ? [] : ["--requirepass", password];
        var process = Process.Start(new ProcessStartInfo(Programs.Find("redis-server"),
            ["--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", .. auth])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        for (var i = 0; i < 200; i++)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port);
                return process;
            }
            catch (SocketException)
            {
                Assert.False(process.HasExited, $"redis-server exited with {(process.HasExited ? process.ExitCode : 0)}");
                await Task.Delay(20);
            }
        }
        throw new TimeoutException("redis-server did not listen within 4 s");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
