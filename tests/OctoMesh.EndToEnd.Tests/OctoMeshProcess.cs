using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace OctoMesh.EndToEnd.Tests;

/// <summary>A running <c>octomesh</c> process: its output, the address it announced, and a SIGTERM stop.</summary>
internal sealed partial class OctoMeshProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly bool _ownsDirectory;

    private OctoMeshProcess(Process process, string workingDirectory, bool ownsDirectory)
    {
        _process = process;
        WorkingDirectory = workingDirectory;
        _ownsDirectory = ownsDirectory;
        _process.OutputDataReceived += (_, e) => OnLine(e.Data);
        _process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public Uri Address => _listening.Task.Result;

    public int ProcessId => _process.Id;

    /// <summary>Where the process runs: its default <c>data/trace</c> log is under here.</summary>
    public string WorkingDirectory { get; }

    /// <summary>A fresh working directory, so processes running side by side never share a trace log.</summary>
    public static string NewWorkingDirectory() => Directory.CreateTempSubdirectory("octomesh-e2e-").FullName;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Starts <c>octomesh ARGS</c> and waits until it prints the address it listens on.</summary>
    public static Task<OctoMeshProcess> StartAsync(params string[] args) => StartAsync([], args);

    /// <summary>Starts <c>octomesh ARGS</c> with extra environment variables (provider keys), in a working directory of its own.</summary>
    public static Task<OctoMeshProcess> StartAsync(IEnumerable<KeyValuePair<string, string>> environment, params string[] args) =>
        StartInAsync(null, environment, args);

    /// <summary>
    /// Starts <c>octomesh ARGS</c> in <paramref name="workingDirectory"/> (kept afterwards, for a next process to
    /// recover its trace log), or in a fresh one removed on dispose.
    /// </summary>
    public static async Task<OctoMeshProcess> StartInAsync(string? workingDirectory, IEnumerable<KeyValuePair<string, string>> environment, params string[] args)
    {
        var start = new ProcessStartInfo(NativeBinary.Path, args)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? NewWorkingDirectory(),
        };
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }
        var process = Process.Start(start)!;
        var running = new OctoMeshProcess(process, start.WorkingDirectory, ownsDirectory: workingDirectory is null);
        var started = await Task.WhenAny(running._listening.Task, process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(30)));
        if (started != running._listening.Task && process.HasExited && running.Output.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
        {
            // A port it was told to use was taken first (Programs.OnFreePortAsync tries another).
            await running.DisposeAsync();
            throw new IOException($"octomesh {string.Join(' ', args)}: address already in use");
        }
        Assert.True(started == running._listening.Task, $"octomesh {string.Join(' ', args)} did not start:\n{running.Output}");
        return running;
    }

    /// <summary>Runs <c>octomesh ARGS</c> to its end.</summary>
    public static Task<(int ExitCode, string Output)> RunAsync(params string[] args) => RunAsync([], args);

    /// <summary>Runs <c>octomesh ARGS</c> to its end with extra environment variables.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(IEnumerable<KeyValuePair<string, string>> environment, params string[] args)
    {
        var start = new ProcessStartInfo(NativeBinary.Path, args)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }
        var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>Waits until the process has printed <paramref name="text"/> (output arrives line by line, after the address).</summary>
    public async Task WaitForOutputAsync(string text)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, $"octomesh never printed '{text}':\n{Output}");
            await Task.Delay(10);
        }
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            _output.AppendLine(line);
        }
        if (ListeningLine().Match(line) is { Success: true } match)
        {
            _listening.TrySetResult(new Uri(match.Groups[1].Value));
        }
    }

    [GeneratedRegex(@"listening on (http://[^\s,]+)")]
    private static partial Regex ListeningLine();

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);

    private const int SigTerm = 15;

    /// <summary>Kills the process with SIGKILL, as a crash would: no shutdown code runs.</summary>
    public async Task CrashAsync()
    {
        Assert.Equal(0, kill(_process.Id, SigKill));
        await _process.WaitForExitAsync();
    }

    private const int SigKill = 9;

    /// <summary>Sends SIGTERM and waits for the exit code.</summary>
    public async Task<int> StopAsync()
    {
        if (!_process.HasExited)
        {
            Assert.Equal(0, kill(_process.Id, SigTerm));
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await _process.WaitForExitAsync(timeout.Token);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        if (_ownsDirectory)
        {
            Directory.Delete(WorkingDirectory, recursive: true);
        }
    }
}
