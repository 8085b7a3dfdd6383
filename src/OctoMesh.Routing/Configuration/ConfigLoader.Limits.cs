using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Text;
using System.Text.Json;

namespace OctoMesh.Routing.Configuration;

public static partial class ConfigLoader
{
    /// <summary>The <c>limits</c> and <c>shutdown</c> sections.</summary>
    private sealed partial class ConfigReader
    {
        private LimitsConfig ReadLimits(JsonElement element, string path)
        {
            var limits = new LimitsConfig();
            if (!ExpectObject(element, path, "write { \"maxBodyBytes\": 16777216, \"headerTimeoutMs\": 10000 }"))
            {
                return limits;
            }
            var fields = Fields(element, path, s_limitFields);
            if (fields.TryGetValue("maxBodyBytes", out var max)
                && Integer(max, $"{path}.maxBodyBytes", 1024, 1L << 30, "a whole number of bytes from 1024 to 1073741824") is { } bytes)
            {
                limits = limits with { MaxBodyBytes = bytes };
            }
            if (fields.TryGetValue("headerTimeoutMs", out var timeout)
                && Integer(timeout, $"{path}.headerTimeoutMs", 100, 600_000, "a whole number of milliseconds from 100 to 600000") is { } ms)
            {
                limits = limits with { HeaderTimeout = TimeSpan.FromMilliseconds(ms) };
            }
            if (fields.TryGetValue("maxHeaderBytes", out var headerBytes)
                && Integer(headerBytes, $"{path}.maxHeaderBytes", 1024, 1 << 20, "a whole number of bytes from 1024 to 1048576") is { } hb)
            {
                limits = limits with { MaxHeaderBytes = (int)hb };
            }
            if (fields.TryGetValue("maxHeaderCount", out var headerCount)
                && Integer(headerCount, $"{path}.maxHeaderCount", 10, 10_000, "a whole number of headers from 10 to 10000") is { } hc)
            {
                limits = limits with { MaxHeaderCount = (int)hc };
            }
            if (fields.TryGetValue("minBodyBytesPerSecond", out var rate)
                && Integer(rate, $"{path}.minBodyBytesPerSecond", 0, 10_000_000, "a whole number of bytes per second, or 0 for no minimum") is { } bps)
            {
                limits = limits with { MinBodyBytesPerSecond = (int)bps };
            }
            if (fields.TryGetValue("maxConnections", out var connections)
                && Integer(connections, $"{path}.maxConnections", 1, 10_000_000, "a whole number of connections") is { } mc)
            {
                limits = limits with { MaxConnections = mc };
            }
            if (fields.TryGetValue("maxRequestsPerConnectionPerSecond", out var perConnection)
                && Integer(perConnection, $"{path}.maxRequestsPerConnectionPerSecond", 1, 1_000_000, "a whole number of requests per second") is { } rps)
            {
                limits = limits with { MaxRequestsPerConnectionPerSecond = (int)rps };
            }
            return limits;
        }

        // ---- helpers -------------------------------------------------------------------------

        private ShutdownConfig ReadShutdown(JsonElement element, string path)
        {
            var shutdown = new ShutdownConfig();
            if (!ExpectObject(element, path, "write { \"delayMs\": 5000, \"timeoutMs\": 30000 }"))
            {
                return shutdown;
            }
            var fields = Fields(element, path, s_shutdownFields);
            if (fields.TryGetValue("delayMs", out var delay) && Integer(delay, $"{path}.delayMs", 0, 600_000, "a whole number of milliseconds from 0 to 600000") is { } ms)
            {
                shutdown = shutdown with { DelayMs = (int)ms };
            }
            if (fields.TryGetValue("timeoutMs", out var timeout) && Integer(timeout, $"{path}.timeoutMs", 0, 3_600_000, "a whole number of milliseconds from 0 to 3600000") is { } t)
            {
                shutdown = shutdown with { TimeoutMs = (int)t };
            }
            return shutdown;
        }
    }
}
