using System.Text;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Routing.Tests.Configuration;

public class WorkspaceConfigTests
{
    private static readonly string s_hash = new('a', 64), s_salt = new('b', 32);

    private static ConfigLoadResult Load(string extra) => ConfigLoader.Load(Encoding.UTF8.GetBytes($$"""
        { "providers": { "a": { "kind": "sim" } }, "models": { "*": { "provider": "a" } } {{extra}} }
        """), _ => null);

    private static string[] Errors(string extra) => [.. Load(extra).Errors.Select(e => e.ToString())];

    [Fact]
    public void WorkspacesChooseWhatIsKeptOfTheirContent()
    {
        var config = Load("""
            , "workspaces": [ { "name": "a" }, { "name": "b", "content": "cache" }, { "name": "c", "content": "full" } ],
              "tenancy": { "directory": "/var/lib/octomesh", "keyring": "/run/secrets/keyring.json", "requireKeys": true }
            """).Config!;
        Assert.Equal([new("a", ContentPolicy.None), new("b", ContentPolicy.Cache), new WorkspaceConfig("c", ContentPolicy.Full)], config.Workspaces.ToArray());
        Assert.Equal(("/run/secrets/keyring.json", true), (config.Tenancy.KeyringPath, config.Tenancy.RequireKeys));
        Assert.Equal(Path.Combine("data/tenancy", "keyring.json"), Load("").Config!.Tenancy.KeyringPath);
        Assert.Equal(
        [
            "$.workspaces[0].content: 'all' is not a content policy. Fix: write \"none\", \"cache\" or \"full\".",
            "$.workspaces[1].name: workspace 'a' appears twice. Fix: keep one of the two.",
        ], Errors("""
            , "workspaces": [ { "name": "a", "content": "all" }, { "name": "a" } ]
            """));
    }

    [Fact]
    public void AnIssuedKeyIsFoundByItsIdAndCheckedWithItsSalt()
    {
        var key = Load($$"""
            , "clientKeys": [ { "name": "ci", "workspace": "w", "id": "abcdefgh2345", "salt": "{{s_salt}}", "sha256": "{{s_hash}}",
                                "models": [ "gpt-4o-mini", "claude-*" ], "routes": [ "chat" ], "expires": "2027-01-31T00:00:00Z" } ]
            """).Config!.ClientKeys.Single();
        Assert.Equal(("abcdefgh2345", 16, new DateTimeOffset(2027, 1, 31, 0, 0, 0, TimeSpan.Zero)), (key.Id, key.Salt!.Length, key.ExpiresAt!.Value));
        Assert.Equal(["gpt-4o-mini", "claude-*"], key.Models.ToArray());
        Assert.Equal(["chat"], key.Routes.ToArray());
        Assert.Null(key.CreatedAt);
    }

    [Fact]
    public void BadKeyFieldsAreReportedWithTheirFixes() => Assert.Equal(
    [
        "$.clientKeys[0]: an issued key needs both its id and its salt. Fix: copy the entry `octomesh key new` printed whole.",
        "$.clientKeys[1].id: 'ABC' is not a key id. Fix: write the 12 characters (a-z, 2-7) `octomesh key new` printed.",
        "$.clientKeys[1].salt: expected 32 hex digits, got 2 characters. Fix: write the 32 hex digits `octomesh key new` printed.",
        "$.clientKeys[2].models[0]: 5 is not a model name or pattern. Fix: write a non-empty name.",
        "$.clientKeys[2].expires: 'soon' is not a date and time. Fix: write ISO 8601, e.g. \"2027-01-31T00:00:00Z\".",
        "$.clientKeys[3].id: the same key appears twice. Fix: remove the duplicate entry.",
    ], Errors($$"""
        , "clientKeys": [ { "name": "a", "workspace": "w", "id": "abcdefgh2345", "sha256": "{{s_hash}}" },
                          { "name": "b", "workspace": "w", "id": "ABC", "salt": "ff", "sha256": "{{s_hash}}" },
                          { "name": "c", "workspace": "w", "sha256": "{{new string('c', 64)}}", "models": [ 5 ], "expires": "soon" },
                          { "name": "d", "workspace": "w", "id": "abcdefgh2345", "salt": "{{s_salt}}", "sha256": "{{s_hash}}" } ]
        """));
}
