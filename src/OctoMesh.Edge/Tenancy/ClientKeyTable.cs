using System.Collections.Frozen;
using System.Security.Cryptography;
using System.Text;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Tenancy;

/// <summary>
/// Client keys, known only by their SHA-256. A presented key is hashed, its hash found by its first
/// eight bytes (which reveal nothing usable: SHA-256 cannot be inverted), then compared in full in
/// constant time.
/// </summary>
internal sealed class ClientKeyTable
{
    private const int MaxKeyChars = 512;
    private readonly FrozenDictionary<ulong, ClientKeyConfig[]> _byPrefix;

    public ClientKeyTable(IEnumerable<ClientKeyConfig> keys)
    {
        _byPrefix = keys
            .GroupBy(k => BitConverter.ToUInt64(k.Sha256, 0))
            .ToFrozenDictionary(g => g.Key, g => g.ToArray());
        IsEnabled = _byPrefix.Count > 0;
    }

    /// <summary>False when no keys are configured: authentication is off.</summary>
    public bool IsEnabled { get; }

    public ClientKeyConfig? Authenticate(ReadOnlySpan<char> presented)
    {
        if (presented.IsEmpty || presented.Length > MaxKeyChars)
        {
            return null;
        }
        Span<byte> utf8 = stackalloc byte[MaxKeyChars * 3];
        var length = Encoding.UTF8.GetBytes(presented, utf8);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
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
