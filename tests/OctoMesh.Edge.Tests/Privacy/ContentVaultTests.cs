using System.Runtime.Versioning;
using OctoMesh.Edge.Privacy;

namespace OctoMesh.Edge.Tests.Privacy;

/// <summary>File modes are checked as the gateway runs: on Linux.</summary>
[SupportedOSPlatform("linux")]
public sealed class ContentVaultTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"octomesh-vault-{Guid.NewGuid():N}");

    private static KeptExchange Exchange(string question) =>
        new(DateTimeOffset.UtcNow, "req-1", "chat_completions", "chat", "sim", "sim-small", $$"""{"q":"{{question}}"}""", """{"a":"fine"}""");

    [Fact]
    public async Task KeptContentIsEncryptedRedactedAndReadableUntilForgotten()
    {
        var keyring = Path.Combine(_directory, "keyring.json");
        await using (var vault = new ContentVault(_directory, new Keyring(keyring)))
        {
            vault.Keep("team", 0, Exchange("mail me at ann@example.com"));
            await vault.FlushAsync();
            // Rotation: new exchanges under key 2, the first still readable with key 1.
            Assert.Equal(2, vault.Keyring.Rotate("team").Id);
            vault.Keep("team", 0, Exchange("second"));
            await vault.FlushAsync();

            var file = await File.ReadAllTextAsync(vault.PathOf("team"));
            Assert.DoesNotContain("ann@", file);
            Assert.DoesNotContain("second", file);
            Assert.Equal(["1.", "2."], file.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l[..2]));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyring));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(vault.PathOf("team")));
        }

        // A new process reads them back with the keyring on disk.
        await using var reopened = new ContentVault(_directory, new Keyring(keyring));
        Assert.Equal(["""{"q":"mail me at [REDACTED:email]"}""", """{"q":"second"}"""], reopened.Read("team").Select(e => e!.Request));
        var copy = await File.ReadAllLinesAsync(reopened.PathOf("team"));

        Assert.Equal(2, reopened.Forget("team"));
        Assert.False(File.Exists(reopened.PathOf("team")));
        Assert.Equal(0, reopened.Keyring.Count("team"));
        // A copy of the file made before (a backup, a disk block) cannot be read: the keys are gone, from the file too.
        Assert.All(copy, line => Assert.Null(reopened.Decrypt("team", line)));
        Assert.All(copy, line => Assert.Null(new ContentVault(_directory, new Keyring(keyring)).Decrypt("team", line)));
        Assert.DoesNotContain("\"team\"", await File.ReadAllTextAsync(keyring));
    }

    [Fact]
    public async Task AnExchangeUnderWayAcrossAForgetIsNotWrittenAfterIt()
    {
        await using var vault = new ContentVault(_directory, new Keyring(Path.Combine(_directory, "keyring.json")));
        // A request that started before the forget and ended after it (its generation was taken at the start).
        var started = vault.Generation("team");
        vault.Forget("team");
        vault.Keep("team", started, Exchange("one"));
        vault.Keep("team", vault.Generation("team"), Exchange("two"));
        await vault.FlushAsync();
        Assert.Equal(["""{"q":"two"}"""], vault.Read("team").Select(e => e!.Request));
        Assert.Equal(1, vault.Keyring.Count("team"));
    }

    [Fact]
    public async Task ATruncatedLineIsUnreadableNotAFailure()
    {
        await using var vault = new ContentVault(_directory, new Keyring(Path.Combine(_directory, "keyring.json")));
        vault.Keep("a", 0, Exchange("whole"));
        await vault.FlushAsync();
        var line = (await File.ReadAllLinesAsync(vault.PathOf("a"))).Single();
        await File.AppendAllTextAsync(vault.PathOf("a"), line[..10] + "\n");
        Assert.Equal([false, true], vault.Read("a").Select(e => e is null));
    }

    [Fact]
    public async Task AnotherWorkspacesKeyCannotOpenARecord()
    {
        await using var vault = new ContentVault(_directory, new Keyring(Path.Combine(_directory, "keyring.json")));
        vault.Keep("a", 0, Exchange("for a"));
        vault.Keep("b", 0, Exchange("for b"));
        await vault.FlushAsync();
        var line = (await File.ReadAllLinesAsync(vault.PathOf("a"))).Single();
        // Both are key 1 of their workspace; the workspace's name is bound in as associated data too.
        Assert.NotNull(vault.Decrypt("a", line));
        Assert.Null(vault.Decrypt("b", line));
    }

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}
