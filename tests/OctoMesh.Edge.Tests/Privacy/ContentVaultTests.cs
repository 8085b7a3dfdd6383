using OctoMesh.Edge.Privacy;

namespace OctoMesh.Edge.Tests.Privacy;

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
            vault.Keep("team", Exchange("mail me at ann@example.com"));
            await vault.FlushAsync();
            // Rotation: new exchanges under key 2, the first still readable with key 1.
            Assert.Equal(2, vault.Keyring.Rotate("team").Id);
            vault.Keep("team", Exchange("second"));
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
    public async Task AnExchangeQueuedBeforeAForgetIsNotWrittenAfterIt()
    {
        await using var vault = new ContentVault(_directory, new Keyring(Path.Combine(_directory, "keyring.json")));
        vault.Keep("team", Exchange("one"));
        vault.Forget("team");
        await vault.FlushAsync();
        Assert.Empty(vault.Read("team"));
        Assert.Equal(0, vault.Keyring.Count("team"));
    }

    [Fact]
    public async Task AnotherWorkspacesKeyCannotOpenARecord()
    {
        await using var vault = new ContentVault(_directory, new Keyring(Path.Combine(_directory, "keyring.json")));
        vault.Keep("a", Exchange("for a"));
        vault.Keep("b", Exchange("for b"));
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
