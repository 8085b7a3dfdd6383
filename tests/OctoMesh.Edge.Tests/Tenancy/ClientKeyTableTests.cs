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
    public void AnIssuedKeyIsFoundByItsIdAndCheckedAgainstItsSaltedHash()
    {
        var (text, id, salt, hash) = IssuedKeys.Create();
        var (other, otherId, otherSalt, otherHash) = IssuedKeys.Create();
        Assert.Matches("^om-[a-z2-7]{12}-[A-Za-z0-9_-]{43}$", text);
        // The same secret under another salt hashes apart: nothing in the store says two keys are alike.
        Span<byte> again = stackalloc byte[32];
        IssuedKeys.Hash(otherSalt, text.AsSpan(16), again);
        Assert.False(again.SequenceEqual(hash));

        var table = new ClientKeyTable([new("ci", hash, "w1") { Id = id, Salt = salt }, Key("old", "plain-secret", "w2")]);
        Assert.Equal("ci", table.Authenticate(text)?.Name);
        Assert.Equal("old", table.Authenticate("plain-secret")?.Name);
        Assert.Null(table.Authenticate(text[..^1] + (text[^1] == 'A' ? 'B' : 'A')));
        Assert.Null(table.Authenticate(other));
        Assert.Null(table.Authenticate($"om-{otherId}-{text[16..]}"));
        Assert.Equal([id], table.Issued.Select(k => k.Id));
    }

    [Fact]
    public void ARevocationIsNeverUndoneByAnOlderOrNewerRecord()
    {
        var key = new ClientKeyConfig("ci", new byte[32], "w") { Id = "abcdefgh2345", Salt = new byte[16] };
        var revoked = new TenancyRecord(5, null, key with { RevokedAt = DateTimeOffset.UnixEpoch });
        var renamed = new TenancyRecord(7, null, key with { Name = "ci-2" });
        Assert.Equal(revoked, TenancyRecord.Merge(null, revoked));
        // A later change made before the revocation was seen keeps the revocation.
        var merged = TenancyRecord.Merge(revoked, renamed)!;
        Assert.Equal(("ci-2", DateTimeOffset.UnixEpoch), (merged.Key!.Name, merged.Key.RevokedAt));
        Assert.Equal(DateTimeOffset.UnixEpoch, TenancyRecord.Merge(renamed, revoked)!.Key!.RevokedAt);
        // The same record again changes nothing.
        Assert.Null(TenancyRecord.Merge(revoked, revoked));
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
