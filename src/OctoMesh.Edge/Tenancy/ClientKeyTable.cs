using System.Collections.Frozen;
using System.Security.Cryptography;
using System.Text;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Tenancy;

/// <summary>
/// Client keys, known only by hashes. An issued key (<c>om-ID-SECRET</c>, <see cref="IssuedKeys"/>) is found by its
/// id and its secret checked against the SHA-256 of salt + secret; any other key text is hashed whole and found by
/// the hash's first eight bytes (which reveal nothing usable: SHA-256 cannot be inverted). Either way the hash is
/// compared in full in constant time. Expiry and revocation are the caller's to judge (it says which to the client).
/// </summary>
internal sealed class ClientKeyTable
{
    private const int MaxKeyChars = 512;
    private readonly FrozenDictionary<ulong, ClientKeyConfig[]> _byPrefix;
    private readonly FrozenDictionary<string, ClientKeyConfig> _byId;
    private readonly FrozenDictionary<string, ClientKeyConfig>.AlternateLookup<ReadOnlySpan<char>> _byIdSpan;

    public ClientKeyTable(IEnumerable<ClientKeyConfig> keys)
    {
        var all = keys.ToArray();
        _byPrefix = all.Where(k => k.Id is null)
            .GroupBy(k => BitConverter.ToUInt64(k.Sha256, 0))
            .ToFrozenDictionary(g => g.Key, g => g.ToArray());
        // One key per id; should the file and the store both hold one (a record copied by hand), the store's wins.
        _byId = all.Where(k => k.Id is not null).GroupBy(k => k.Id!, StringComparer.Ordinal)
            .ToFrozenDictionary(g => g.Key, g => g.Last(), StringComparer.Ordinal);
        _byIdSpan = _byId.GetAlternateLookup<ReadOnlySpan<char>>();
        IsEnabled = all.Length > 0;
    }

    /// <summary>False when no keys are configured: authentication is off.</summary>
    public bool IsEnabled { get; }

    /// <summary>Issued keys by id, revoked and expired ones too.</summary>
    public IEnumerable<ClientKeyConfig> Issued => _byId.Values;

    /// <summary>The issued key with this id, if any.</summary>
    public ClientKeyConfig? Find(string id) => _byId.GetValueOrDefault(id);

    public ClientKeyConfig? Authenticate(ReadOnlySpan<char> presented)
    {
        if (presented.IsEmpty || presented.Length > MaxKeyChars)
        {
            return null;
        }
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        if (IssuedKeys.TrySplit(presented, out var id, out var secret))
        {
            var found = _byIdSpan.TryGetValue(id, out var issued);
            // An unknown id costs the same hash as a known one.
            IssuedKeys.Hash(found ? issued!.Salt : s_noSalt, secret, hash);
            return found && CryptographicOperations.FixedTimeEquals(issued!.Sha256, hash) ? issued : null;
        }
        Span<byte> utf8 = stackalloc byte[MaxKeyChars * 3];
        var length = Encoding.UTF8.GetBytes(presented, utf8);
        SHA256.HashData(utf8[..length], hash);
        utf8[..length].Clear();

        if (!_byPrefix.TryGetValue(BitConverter.ToUInt64(hash), out var candidates))
        {
            return null;
        }
        ClientKeyConfig? match = null;
        foreach (var candidate in candidates)
        {
            if (CryptographicOperations.FixedTimeEquals(candidate.Sha256, hash))
            {
                match = candidate;
            }
        }
        return match;
    }

    private static readonly byte[] s_noSalt = new byte[IssuedKeys.SaltBytes];

    /// <summary>The key from <c>Authorization: Bearer …</c>, else from <c>x-api-key</c> (Anthropic's header).</summary>
    public static ReadOnlySpan<char> ReadPresentedKey(string? authorization, string? apiKeyHeader)
    {
        if (authorization is not null && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return authorization.AsSpan(7).Trim();
        }
        return apiKeyHeader.AsSpan().Trim();
    }
}

/// <summary>
/// Keys the gateway makes: <c>om-</c>, a public id of <see cref="KeyIds.Length"/> base32 characters, <c>-</c>, and a
/// secret of 32 random bytes in base64url. Only a random salt and SHA-256(salt + secret) are kept: the secret has 256
/// bits of entropy, so a fast hash cannot be searched, and the salt makes equal hashes impossible to spot.
/// </summary>
internal static class IssuedKeys
{
    public const int SaltBytes = 16;
    private const string Prefix = "om-";
    private const int SecretBytes = 32;
    private const string Base32 = "abcdefghijklmnopqrstuvwxyz234567";

    /// <summary>A new key's text (shown once), and its id, salt and hash (kept).</summary>
    public static (string Key, string Id, byte[] Salt, byte[] Hash) Create()
    {
        Span<char> id = stackalloc char[KeyIds.Length];
        Span<byte> random = stackalloc byte[KeyIds.Length];
        RandomNumberGenerator.Fill(random);
        for (var i = 0; i < id.Length; i++)
        {
            id[i] = Base32[random[i] & 31];
        }
        var secret = RandomNumberGenerator.GetBytes(SecretBytes);
        var secretText = Convert.ToBase64String(secret).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        var hash = new byte[SHA256.HashSizeInBytes];
        Hash(salt, secretText, hash);
        return ($"{Prefix}{id}-{secretText}", id.ToString(), salt, hash);
    }

    public static bool TrySplit(ReadOnlySpan<char> key, out ReadOnlySpan<char> id, out ReadOnlySpan<char> secret)
    {
        id = secret = default;
        if (key.Length <= Prefix.Length + KeyIds.Length + 1 || !key.StartsWith(Prefix) || key[Prefix.Length + KeyIds.Length] != '-'
            || !KeyIds.IsValid(key.Slice(Prefix.Length, KeyIds.Length)))
        {
            return false;
        }
        id = key.Slice(Prefix.Length, KeyIds.Length);
        secret = key[(Prefix.Length + KeyIds.Length + 1)..];
        return true;
    }

    /// <summary>SHA-256 of the salt followed by the secret's UTF-8.</summary>
    public static void Hash(ReadOnlySpan<byte> salt, ReadOnlySpan<char> secret, Span<byte> hash)
    {
        Span<byte> input = stackalloc byte[SaltBytes + 512 * 3];
        salt.CopyTo(input);
        var length = SaltBytes + Encoding.UTF8.GetBytes(secret, input[SaltBytes..]);
        SHA256.HashData(input[..length], hash);
        input.Clear();
    }
}
