using Microsoft.AspNetCore.Hosting;

namespace OctoMesh.Edge.Kestrel;

/// <summary>
/// Inline I/O: each connection's work runs on the socket engine thread that received its bytes (.NET runs one per core
/// in this mode), as an nginx worker does, instead of hopping to the thread pool for every read and write. On one core at
/// a steady 3,000 requests/s, CPU per proxied request went from 211–219 µs to 161–167 µs, and to 122–128 µs with the
/// thread pool's spinning off as well (docs/performance.md).
/// It holds because nothing on the request path blocks: no sync-over-async, no file I/O (the trace log, kept content and
/// shadow results are written by background writers). Admin calls, which read and write files, run on the thread pool
/// (<c>GatewayServer.OffIo</c>), and so does the tenancy store's work after a Redis reply (<c>ForceYielding</c>).
/// <c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=0</c> in the environment turns it off.
/// </summary>
internal static class InlineIo
{
    private const string Variable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    public static bool Enabled => Environment.GetEnvironmentVariable(Variable) == "1";

    /// <summary>On unless the environment says otherwise; first thing in Main, before the socket engine starts.</summary>
    public static void SetDefault()
    {
        if (Environment.GetEnvironmentVariable(Variable) is null)
        {
            Environment.SetEnvironmentVariable(Variable, "1");
        }
    }

    /// <summary>Kestrel runs requests where their sockets complete (not queued to the thread pool) when inline I/O is on.</summary>
    public static void Apply(IWebHostBuilder web)
    {
        if (Enabled)
        {
            web.UseSockets(sockets => sockets.UnsafePreferInlineScheduling = true);
        }
    }
}
