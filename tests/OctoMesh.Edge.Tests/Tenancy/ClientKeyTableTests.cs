using System.Security.Cryptography;
using System.Text;
using OctoMesh.Edge.Tenancy;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Tests.Tenancy;

public class ClientKeyTableTests
{
    private static ClientKeyConfig Key(string name, string secret, string workspace) =>
        new(name, SHA256.HashData(Encoding.UTF8.GetBytes(secret)), workspace);

    [Fact]
    public void FindsTheKeyByItsHashOnly()
    {
        var table = new ClientKeyTable([Key("a", "om-secret-a", "w1"), Key("b", "om-secret-b", "w2")]);
        Assert.True(table.IsEnabled);
        Assert.Equal("w1", table.Authenticate("om-secret-a")?.Workspace);
        Assert.Equal("w2", table.Authenticate("om-secret-b")?.Workspace);
        Assert.Null(table.Authenticate("om-secret-c"));
        Assert.Null(table.Authenticate(""));
        Assert.Null(table.Authenticate(new string('x', 10_000)));
    }

    [Fact]
    public void NoKeysMeansAuthenticationIsOff()
    {
        Assert.False(new ClientKeyTable([]).IsEnabled);
    }

    [Theory]
    [InlineData("Bearer abc", null, "abc")]
    [InlineData("bearer  abc ", null, "abc")]
    [InlineData(null, "xyz", "xyz")]
    [InlineData("Basic zzz", "xyz", "xyz")]
    [InlineData(null, null, "")]
    public void ReadsBearerOrApiKeyHeader(string? authorization, string? apiKey, string expected)
    {
        Assert.Equal(expected, ClientKeyTable.ReadPresentedKey(authorization, apiKey).ToString());
    }
}
