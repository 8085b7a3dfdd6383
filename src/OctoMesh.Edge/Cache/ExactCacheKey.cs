using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using System.Text.Json;

namespace OctoMesh.Edge.Cache;

/// <summary>
/// The exact cache's key, in two parts. <see cref="Digest"/>: XxHash128 over every JSON token of the body in order (type
/// and bytes, so whitespace does not matter), leaving out the top-level fields that do not change the answer:
/// <c>model</c> (the resolved one counts instead), <c>stream</c>, <c>stream_options</c>, <c>user</c>, <c>metadata</c>,
/// <c>store</c>; made once per request. <see cref="Key"/>: XxHash128 over that digest, the scope (workspace, API), the answer
/// shape, and the provider and upstream model the request resolved to; made per target and shape from the digest alone.
/// Two bodies that differ only in the left-out fields or in spacing share a key; a different key order or escaping gives
/// another key (a miss, never a wrong hit). A key is not a secret: it names an entry, it does not protect one.
/// </summary>
internal static class ExactCacheKey
{
    private static readonly byte[][] s_ignored = [.. new[] { "model", "stream", "stream_options", "user", "metadata", "store" }.Select(Encoding.UTF8.GetBytes)];

    /// <summary>A separator no token byte or UTF-8 text can take, so that ["ab","c"] and ["a","bc"] differ.</summary>
    private const byte Separator = 0xFF;

    /// <summary>
    /// The digest of <paramref name="body"/> (valid JSON, as the inspector checked), leaving out the tokens that start
    /// inside <paramref name="skip"/> too (the semantic cache's last user turn).
    /// </summary>
    public static UInt128 Digest(ReadOnlySpan<byte> body, Range skip = default)
    {
        var (skipFrom, skipLength) = skip.GetOffsetAndLength(body.Length);
        var hash = new XxHash128();
        // Tokens are gathered into a small buffer and hashed a buffer at a time; a long string goes in by itself.
        Span<byte> buffer = stackalloc byte[512];
        var length = 0;
        var reader = new Utf8JsonReader(body);
        while (reader.Read())
        {
            if ((ulong)(reader.TokenStartIndex - skipFrom) < (ulong)skipLength)
            {
                continue;
            }
            if (reader.CurrentDepth == 1 && reader.TokenType == JsonTokenType.PropertyName && IsIgnored(ref reader))
            {
                reader.Read();
                reader.TrySkip();
                continue;
            }
            var value = reader.ValueSpan;
            if (length + value.Length + 2 > buffer.Length)
            {
                hash.Append(buffer[..length]);
                length = 0;
            }
            buffer[length++] = (byte)reader.TokenType;
            if (value.Length + 1 > buffer.Length - length)
            {
                hash.Append(buffer[..length]);
                hash.Append(value);
                length = 0;
            }
            else
            {
                value.CopyTo(buffer[length..]);
                length += value.Length;
            }
            buffer[length++] = Separator;
        }
        hash.Append(buffer[..length]);
        return hash.GetCurrentHashAsUInt128();
    }

    /// <summary>
    /// The key of a body's <paramref name="digest"/> in <paramref name="scope"/> (workspace and API) and answer
    /// <paramref name="shape"/>, for a provider and upstream model, as 32 hex digits: one hash over bytes on the stack.
    /// </summary>
    public static string Key(UInt128 digest, string scope, string shape, string provider, string upstreamModel)
    {
        var most = 16 + Encoding.UTF8.GetMaxByteCount(scope.Length + shape.Length + provider.Length + upstreamModel.Length) + 4;
        byte[]? rented = null;
        var bytes = most <= 1024 ? stackalloc byte[1024] : (rented = ArrayPool<byte>.Shared.Rent(most));
        BinaryPrimitives.WriteUInt128LittleEndian(bytes, digest);
        var length = 16;
        foreach (var text in (ReadOnlySpan<string>)[scope, shape, provider, upstreamModel])
        {
            length += Encoding.UTF8.GetBytes(text, bytes[length..]);
            bytes[length++] = Separator;
        }
        var key = XxHash128.HashToUInt128(bytes[..length]);
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
        return key.ToString("x32", System.Globalization.CultureInfo.InvariantCulture);
    }

    private static bool IsIgnored(ref Utf8JsonReader reader)
    {
        foreach (var name in s_ignored)
        {
            if (reader.ValueTextEquals(name))
            {
                return true;
            }
        }
        return false;
    }
}
