using System.Text;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Routing.Tests.Configuration;

public class MetricsConfigTests
{
    [Fact]
    public void AManagementListenerNeedsAFixedPortOfItsOwn()
    {
        var loaded = ConfigLoader.Load(Encoding.UTF8.GetBytes("""
            { "urls": ["http://0.0.0.0:8080"], "providers": { "sim": { "kind": "sim" } }, "models": { "*": { "provider": "sim" } },
              "metrics": { "urls": ["http://0.0.0.0:8080", "http://127.0.0.1:0", "ftp://x"] } }
            """), _ => null);
        Assert.Equal(
        [
            "$.metrics.urls[2]: 'ftp://x' is not an http(s) listen URL. Fix: write e.g. \"http://127.0.0.1:8080\" or \"http://0.0.0.0:8080\".",
            "$.metrics.urls: http://127.0.0.1:0 has port 0; a management listener needs a fixed port (it is told apart from the API's by its port). Fix: write e.g. \"http://0.0.0.0:9464\".",
            "$.metrics.urls: http://0.0.0.0:8080 has port 8080, one of the API's (urls). Fix: give the management listener a port of its own, e.g. 9464.",
        ], loaded.Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void TheManagementListenerIsOffUnlessGiven()
    {
        var config = ConfigLoader.Load(Encoding.UTF8.GetBytes("""
            { "providers": { "sim": { "kind": "sim" } }, "models": { "*": { "provider": "sim" } }, "metrics": { "urls": "http://0.0.0.0:9464" } }
            """), _ => null).Config!;
        Assert.Equal("http://0.0.0.0:9464", Assert.Single(config.Metrics.Urls));
        Assert.Empty(new MetricsConfig().Urls);
        Assert.True(MetricsConfig.IsManagementPath("/readyz"));
        Assert.False(MetricsConfig.IsManagementPath("/v1/models"));
    }
}
