using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace OctoMesh.Edge.Tests.Redis;

/// <summary>How a <see cref="RedisServer"/> asks clients in.</summary>
/// <param name="Password">Asked of every client, or none.</param>
/// <param name="User">An ACL user to log in as (the default user is then off), or the default user.</param>
/// <param name="Tls">TLS only (no plain port), with a certificate from a CA made for the test run.</param>
internal sealed record RedisAccess(string? Password = null, string? User = null, bool Tls = false);

/// <summary>
/// A real Redis (Debian's <c>redis-server</c>, which <c>.ci/run</c> installs) on a loopback port, without persistence;
/// stopped on dispose. A port another process takes between choosing and binding it is given up for a new one, and the
/// server answering is checked to be the process started here (its <c>process_id</c>).
/// </summary>
internal sealed class RedisServer : IAsyncDisposable
{
    private readonly RedisAccess _access;
    private Process _process;

    private RedisServer(Process process, int port, RedisAccess access)
    {
        _process = process;
        Port = port;
        _access = access;
    }

    public int Port { get; }

    /// <summary>The configuration string a client connects with (<c>ssl=true</c> with TLS).</summary>
    public string Connection => $"127.0.0.1:{Port}" + (_access.Tls ? ",ssl=true" : "");

    /// <summary>The CA that signed the server's certificate (with TLS).</summary>
    public string? CaFile => _access.Tls ? TestCertificates.CaFile : null;

    /// <summary>
    /// The gateway's <c>redis</c> section for this server, the password as <c>${REDIS_PASSWORD}</c> (the tests' environment
    /// gives <see cref="Hosting.TestGateway.RedisPassword"/>).
    /// </summary>
    public string Section(int timeoutMs = 1000)
    {
        var fields = new List<string> { $"\"connection\": \"{Connection}\"", $"\"timeoutMs\": {timeoutMs}" };
        if (_access.Password is not null)
        {
            fields.Add("\"password\": \"${REDIS_PASSWORD}\"");
        }
        if (_access.User is { } user)
        {
            fields.Add($"\"user\": \"{user}\"");
        }
        if (CaFile is { } ca)
        {
            fields.Add($"\"caFile\": \"{ca}\"");
        }
        return "{ " + string.Join(", ", fields) + " }";
    }

    public static Task<RedisServer> StartAsync(string? password = null) => StartAsync(new RedisAccess(password));

    public static async Task<RedisServer> StartAsync(RedisAccess access)
    {
        for (var attempt = 1; ; attempt++)
        {
            var port = Programs.FreePort();
            if (await LaunchAsync(port, access) is { } process)
            {
                return new RedisServer(process, port, access);
            }
            Assert.True(attempt < 5, "redis-server found no free port in 5 tries");
        }
    }

    /// <summary>Runs one command with <c>redis-cli</c> (installed with redis-server) and returns its output lines.</summary>
    public Task<string[]> CliAsync(params string[] command) => CliAsync(Port, _access, command);

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
        _process = await LaunchAsync(Port, _access) ?? throw new InvalidOperationException($"port {Port} was taken while Redis was down");
    }

    private static async Task<string[]> CliAsync(int port, RedisAccess access, string[] command)
    {
        List<string> arguments = ["-p", port.ToString(CultureInfo.InvariantCulture)];
        if (access.Tls)
        {
            arguments.AddRange(["--tls", "--cacert", TestCertificates.CaFile]);
        }
        if (access.User is { } user)
        {
            arguments.AddRange(["--user", user]);
        }
        if (access.Password is { } password)
        {
            arguments.AddRange(["--pass", password, "--no-auth-warning"]);
        }
        using var cli = Process.Start(new ProcessStartInfo(Programs.Find("redis-cli"), [.. arguments, .. command]) { RedirectStandardOutput = true })!;
        var output = await cli.StandardOutput.ReadToEndAsync();
        await cli.WaitForExitAsync();
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>The server on <paramref name="port"/>, answering and checked to be this process; null when the port was taken.</summary>
    private static async Task<Process?> LaunchAsync(int port, RedisAccess access)
    {
        var portText = port.ToString(CultureInfo.InvariantCulture);
        List<string> arguments = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
        if (access.Tls)
        {
            arguments.AddRange(["--port", "0", "--tls-port", portText, "--tls-cert-file", TestCertificates.ServerCertificate,
                "--tls-key-file", TestCertificates.ServerKey, "--tls-ca-cert-file", TestCertificates.CaFile, "--tls-auth-clients", "no"]);
        }
        else
        {
            arguments.AddRange(["--port", portText]);
        }
        if (access.User is { } user)
        {
            arguments.AddRange(["--user", user, "on", ">" + access.Password, "~*", "&*", "+@all", "--user", "default", "off"]);
        }
        else if (access.Password is { } password)
        {
            arguments.AddRange(["--requirepass", password]);
        }
        var process = Programs.StartServer("redis-server", arguments, out var log);
        for (var i = 0; i < 200; i++)
        {
            if (process.HasExited)
            {
                await process.WaitForExitAsync();
                process.Dispose();
                // The port was taken (another process bound it first): the caller tries another. Anything else is a failure.
                Assert.True(log.Any(line => line.Contains("Address already in use", StringComparison.Ordinal)),
                    "redis-server exited: " + string.Join('\n', log.TakeLast(5)));
                return null;
            }
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port);
            }
            catch (SocketException)
            {
                await Task.Delay(20);
                continue;
            }
            // Something listens: it must be the server just started, not another process that took the port.
            var info = await CliAsync(port, access, ["INFO", "server"]);
            if (info.Any(line => line.TrimEnd() == $"process_id:{process.Id}"))
            {
                return process;
            }
            await Task.Delay(20);
        }
        process.Kill();
        process.Dispose();
        throw new TimeoutException($"redis-server did not answer on port {port} within 4 s");
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
