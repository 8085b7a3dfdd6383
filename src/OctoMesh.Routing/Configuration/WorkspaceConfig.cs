namespace OctoMesh.Routing.Configuration;

/// <summary>What a workspace lets the gateway keep of its prompts and answers.</summary>
public enum ContentPolicy
{
    /// <summary>Nothing, anywhere: its requests are not cached (the default).</summary>
    None,

    /// <summary>Answers may be cached (in memory, and on Redis when configured) for the cache's TTL.</summary>
    Cache,

    /// <summary>Cached, and each exchange also kept, redacted and encrypted, for evaluation.</summary>
    Full,
}

public static class ContentPolicies
{
    /// <summary>"none", "cache" or "full"; null for anything else.</summary>
    public static ContentPolicy? Parse(string? text) => text switch
    {
        "none" => ContentPolicy.None,
        "cache" => ContentPolicy.Cache,
        "full" => ContentPolicy.Full,
        _ => null,
    };

    public static string Name(ContentPolicy policy) => policy switch
    {
        ContentPolicy.Cache => "cache",
        ContentPolicy.Full => "full",
        _ => "none",
    };
}

/// <summary>A workspace: the tenant that client keys, budgets and rate limits name.</summary>
/// <param name="Name">Its id, as client keys and budgets name it.</param>
/// <param name="Content">What may be kept of its content.</param>
public sealed record WorkspaceConfig(string Name, ContentPolicy Content = ContentPolicy.None);

/// <summary>The <c>tenancy</c> section: where workspaces and keys made through the admin API, and kept content, live.</summary>
/// <param name="Directory">Holds <c>store.json</c> (workspaces and keys) and <c>content/</c> (kept exchanges, encrypted).</param>
/// <param name="Keyring">The file of per-workspace content keys; by default <c>keyring.json</c> in <paramref name="Directory"/>.</param>
/// <param name="RequireKeys">Refuse requests without a valid client key even while no key is known (a gateway whose keys
/// are all made through the admin API); otherwise authentication is on only once some key exists.</param>
public sealed record TenancyConfig(string Directory = TenancyConfig.DefaultDirectory, string? Keyring = null, bool RequireKeys = false)
{
    public const string DefaultDirectory = "data/tenancy";

    public string KeyringPath => Keyring ?? Path.Combine(Directory, "keyring.json");
}
