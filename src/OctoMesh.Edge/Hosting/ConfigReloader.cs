using System.Runtime.InteropServices;
using OctoMesh.Edge.Pipeline;

namespace OctoMesh.Edge.Hosting;

/// <summary>
/// Reloads the configuration file when it changes (a file watch, debounced, since editors write in
/// several steps) and on SIGHUP. Each reload validates in full and swaps atomically, or keeps the
/// running configuration and logs why (<see cref="GatewayRuntimeHolder.Reload"/>).
/// </summary>
internal sealed class ConfigReloader : IDisposable
{
    private static readonly TimeSpan s_debounce = TimeSpan.FromMilliseconds(250);

    private readonly GatewayRuntimeHolder _runtimes;
    private readonly string _path;
    private readonly FileSystemWatcher _watcher;
    private readonly Timer _debounce;
    private readonly PosixSignalRegistration? _sighup;

    public ConfigReloader(GatewayRuntimeHolder runtimes, string path, bool listenForSignal)
    {
        _runtimes = runtimes;
        _path = Path.GetFullPath(path);
        _debounce = new Timer(_ => Reload(), null, Timeout.Infinite, Timeout.Infinite);
        _watcher = new FileSystemWatcher(Path.GetDirectoryName(_path)!, Path.GetFileName(_path))
        {
            NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.FileName | NotifyFilters.Size | NotifyFilters.CreationTime,
        };
        _watcher.Changed += (_, _) => Schedule();
        _watcher.Created += (_, _) => Schedule();
        _watcher.Renamed += (_, _) => Schedule();
        _watcher.EnableRaisingEvents = true;
        if (listenForSignal)
        {
            _sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
            {
                context.Cancel = true;
                Reload();
            });
        }
    }

    private void Schedule() => _debounce.Change(s_debounce, Timeout.InfiniteTimeSpan);

    private void Reload() => _runtimes.Reload(_path, Environment.GetEnvironmentVariable);

    public void Dispose()
    {
        _sighup?.Dispose();
        _watcher.Dispose();
        _debounce.Dispose();
    }
}
