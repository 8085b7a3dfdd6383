using OctoMesh.Edge.Providers;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Tests.Providers;

public class UpstreamProviderTests
{
    private static readonly ProviderConfig s_provider = new("vllm", ProviderKind.OpenAICompatible, new Uri("https://vllm.internal/v1"), null,
        UpstreamHttpVersion.Http11, TimeoutsConfig.Default);

    [Fact]
    public void ACaFileThatCannotBeReadStopsTheConfigurationWithItsPath()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"octomesh-no-such-ca-{Guid.NewGuid():N}.pem");
        var refused = Assert.Throws<ConfigFileException>(() => new UpstreamProvider(s_provider with { CaFile = missing }, s_provider.BaseUrl!));
        Assert.Equal("$.providers.vllm.caFile", refused.ConfigPath);
        Assert.StartsWith(missing, refused.Message);

        var empty = Path.GetTempFileName();
        try
        {
            File.WriteAllText(empty, "not a certificate\n");
            Assert.Equal($"{empty} holds no PEM certificate",
                Assert.Throws<ConfigFileException>(() => new UpstreamProvider(s_provider with { CaFile = empty }, s_provider.BaseUrl!)).Message);
        }
        finally
        {
            File.Delete(empty);
        }
        using var trusted = new UpstreamProvider(s_provider with { CaFile = TestCertificates.CaFile }, s_provider.BaseUrl!);
    }
}
