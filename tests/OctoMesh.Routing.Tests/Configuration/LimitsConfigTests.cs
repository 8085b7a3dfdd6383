using System.Text;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Routing.Tests.Configuration;

public class LimitsConfigTests
{
    private static ConfigLoadResult Load(string limits) => ConfigLoader.Load(Encoding.UTF8.GetBytes(
        $$"""{ "providers": { "a": { "kind": "sim" } }, "models": { "*": { "provider": "a" } }, "limits": {{limits}} }"""), _ => null);

    [Fact]
    public void HeaderSizesSlowClientsAndConnectionsAreConfigured()
    {
        Assert.Equal(new LimitsConfig(), Load("{}").Config!.Limits);
        Assert.Equal((32 * 1024, 100, 240, (long?)null), (new LimitsConfig().MaxHeaderBytes, new LimitsConfig().MaxHeaderCount,
            new LimitsConfig().MinBodyBytesPerSecond, new LimitsConfig().MaxConnections));
        var limits = Load("""{ "maxHeaderBytes": 8192, "maxHeaderCount": 50, "minBodyBytesPerSecond": 0, "maxConnections": 1000, "maxRequestsPerConnectionPerSecond": 20 }""").Config!.Limits;
        Assert.Equal((8192, 50, 0, (long?)1000, (int?)20), (limits.MaxHeaderBytes, limits.MaxHeaderCount, limits.MinBodyBytesPerSecond, limits.MaxConnections,
            limits.MaxRequestsPerConnectionPerSecond));
        Assert.Equal("$.limits.maxHeaderBytes: 10 is out of range. Fix: write a whole number of bytes from 1024 to 1048576.",
            Load("""{ "maxHeaderBytes": 10 }""").Errors.Single().ToString());
    }

    [Fact]
    public void ShutdownSaysHowToDrain()
    {
        static ConfigLoadResult With(string shutdown) => ConfigLoader.Load(Encoding.UTF8.GetBytes(
            $$"""{ "providers": { "a": { "kind": "sim" } }, "models": { "*": { "provider": "a" } }, "shutdown": {{shutdown}} }"""), _ => null);
        Assert.Equal(new ShutdownConfig(0, 30_000), Load("{}").Config!.Shutdown);
        Assert.Equal(new ShutdownConfig(5000, 60_000), With("""{ "delayMs": 5000, "timeoutMs": 60000 }""").Config!.Shutdown);
        Assert.Equal("$.shutdown.delayMs: -1 is out of range. Fix: write a whole number of milliseconds from 0 to 600000.",
            With("""{ "delayMs": -1 }""").Errors.Single().ToString());
    }
}
