namespace OctoMesh.Edge.Tests;

/// <summary>The real programs and files tests use: promtool, prometheus, redis-server on PATH; the repository's files.</summary>
internal static class Programs
{
    /// <summary>The full path of <paramref name="program"/>; fails the test with what to install when it is missing.</summary>
    public static string Find(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(dir => Path.Combine(dir, program)).FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException($"'{program}' is not installed: run `bash .ci/run` once (it installs what the tests need).");

    /// <summary>Runs a tool to its end; its exit code and everything it printed.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string program, IEnumerable<string> arguments, string? workingDirectory = null)
    {
        using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(Find(program), arguments)
        {
            WorkingDirectory = workingDirectory ?? "",
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output + await errors);
    }

    /// <summary>Starts a server program, its output (both streams) gathered in <paramref name="log"/> as it comes.</summary>
    public static System.Diagnostics.Process StartServer(string program, IEnumerable<string> arguments, out System.Collections.Concurrent.ConcurrentQueue<string> log)
    {
        var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(Find(program), arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var lines = log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        process.OutputDataReceived += (_, line) => lines.Enqueue(line.Data ?? "");
        process.ErrorDataReceived += (_, line) => lines.Enqueue(line.Data ?? "");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>
    /// A port free on 127.0.0.1 a moment ago, for servers that must be told their port. Another process may take it
    /// before the server binds it: start the server with <see cref="OnFreePortAsync"/>, which tries again on a new one.
    /// </summary>
    public static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>
    /// Starts a server that must be told its port on a free one, and on another when the port was taken before the server
    /// bound it (<paramref name="start"/> throws an <see cref="IOException"/> saying "address already in use").
    /// </summary>
    public static async Task<(T Server, int Port)> OnFreePortAsync<T>(Func<int, Task<T>> start)
    {
        for (var attempt = 1; ; attempt++)
        {
            var port = FreePort();
            try
            {
                return (await start(port), port);
            }
            catch (IOException e) when (e.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase) && attempt < 5)
            {
                // Taken by another process between choosing and binding: another port.
            }
        }
    }

    /// <summary>
    /// A loopback port that refuses every connection and that no other process can take while this lives: a socket bound
    /// to it, never listening. For tests of an upstream that cannot be reached.
    /// </summary>
    public static ClosedPort DeadPort() => new();
    /// <summary>The repository's root: the directory above the test binaries that holds OctoMesh.sln.</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "OctoMesh.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("OctoMesh.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>The vectors embedder's word-vector file (OCTOMESH_VECTORS, else artifacts/vectors); fails the test with how to build it.</summary>
    public static string WordVectors()
    {
        var path = Environment.GetEnvironmentVariable("OCTOMESH_VECTORS") ?? Path.Combine(RepositoryRoot(), "artifacts", "vectors", "wink-100d.omv");
        return File.Exists(path) ? path
            : throw new InvalidOperationException($"{path} is missing: run `deploy/vectors/build.sh` (or `bash .ci/run`, which does).");
    }
}

/// <summary>A loopback port held bound and never listened on: connections to it are refused.</summary>
internal sealed class ClosedPort : IDisposable
{
    private readonly System.Net.Sockets.Socket _socket = new(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream,
        System.Net.Sockets.ProtocolType.Tcp);

    public ClosedPort() => _socket.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));

    public int Port => ((System.Net.IPEndPoint)_socket.LocalEndPoint!).Port;

    public void Dispose() => _socket.Dispose();
}
