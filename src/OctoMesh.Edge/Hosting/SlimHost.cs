using Microsoft.AspNetCore.Builder;

namespace OctoMesh.Edge.Hosting;

/// <summary>The ASP.NET host both servers (gateway and simulator) are built on.</summary>
internal static class SlimHost
{
    /// <summary>
    /// A slim builder that does not watch <c>appsettings.json</c>. The default watch is a recursive inotify watcher on the
    /// working directory: every directory below it (about 5,000 from <c>/</c>, the image's working directory), and an event
    /// to read for every write of the trace log beneath it, which was a tenth of the wake-ups at 2,000 requests/s. The
    /// gateway's configuration is its own file, watched by <see cref="ConfigReloader"/>.
    /// </summary>
    public static WebApplicationBuilder CreateBuilder() =>
        WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = ["--hostBuilder:reloadConfigOnChange=false"] });
}
