using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace OctoMesh.Edge.Kestrel;

/// <summary>The ASP.NET host both servers (gateway and simulator) are built on.</summary>
internal static class SlimHost
{
    /// <summary>
    /// A slim builder that does not watch <c>appsettings.json</c>. The default watch is a recursive inotify watcher on the
    /// working directory: every directory below it (about 5,000 from <c>/</c>, the image's working directory), and an event
    /// to read for every write of the trace log beneath it, which was a tenth of the wake-ups at 2,000 requests/s. The
    /// gateway's configuration is its own file, watched by <see cref="ConfigReloader"/>.
    /// <para>
    /// Nor does the host log requests. While its category logs at any level, ASP.NET starts an <c>Activity</c> and a
    /// logging scope for every request, for log lines nobody here writes (its per-request lines are Information, below
    /// what <c>Microsoft.*</c> logs at): 2% of the gateway's CPU at 2,000 requests/s. An error in a request is still
    /// logged, by Kestrel; the gateway's own spans (<see cref="Telemetry.GatewayTracing"/>) do not depend on it.
    /// </para>
    /// </summary>
    public static WebApplicationBuilder CreateBuilder()
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = ["--hostBuilder:reloadConfigOnChange=false"] });
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        return builder;
    }
}
