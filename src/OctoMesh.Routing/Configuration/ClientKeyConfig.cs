using System.Collections.Immutable;

namespace OctoMesh.Routing.Configuration;

/// <summary>
/// A client key, known only by a hash of its text: the SHA-256 of the whole key (any key text), or, for a key the
/// gateway issued (<c>om-ID-SECRET</c>), the SHA-256 of a random salt followed by the secret, found by its id.
/// </summary>
/// <param name="Name">A label for logs and metrics; never the key.</param>
/// <param name="Sha256">The 32-byte hash.</param>
/// <param name="Workspace">The workspace the key acts for.</param>
public sealed record ClientKeyConfig(string Name, byte[] Sha256, string Workspace)
{
    /// <summary>The public id of an issued key (the part between <c>om-</c> and the secret); null for a key hashed whole.</summary>
    public string? Id { get; init; }

    /// <summary>The 16-byte salt hashed before the secret of an issued key.</summary>
    public byte[]? Salt { get; init; }

    /// <summary>Model names (or <c>prefix*</c> patterns) the key may ask for; empty: any.</summary>
    public ImmutableArray<string> Models { get; init; } = [];

    /// <summary>Routes the key's requests may take; empty: any.</summary>
    public ImmutableArray<string> Routes { get; init; } = [];

    /// <summary>From this instant on the key is refused; null: it does not expire.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>When the admin API made it; null for a key from the configuration file.</summary>
    public DateTimeOffset? CreatedAt { get; init; }

    /// <summary>When it was revoked (refused from then on); null while it is valid.</summary>
    public DateTimeOffset? RevokedAt { get; init; }
}

/// <summary>The public ids of issued keys: <see cref="Length"/> characters of lowercase base32 (a-z, 2-7).</summary>
public static class KeyIds
{
    public const int Length = 12;

    public static bool IsValid(ReadOnlySpan<char> id)
    {
        if (id.Length != Length)
        {
            return false;
        }
        foreach (var c in id)
        {
            if (c is not (>= 'a' and <= 'z' or >= '2' and <= '7'))
            {
                return false;
            }
        }
        return true;
    }
}
