using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace OctoMesh.Edge.Cache;

/// <summary>
/// The exact cache's key: SHA-256 over the request as it decides the answer. Its scope (workspace), the
/// provider and upstream model it resolved to, then every JSON token of the body in order (type and
/// bytes, so whitespace does not matter), leaving out the top-level fields that do not change the answer:
/// <c>model</c> (the resolved one counts instead), <c>stream</c>, <c>stream_options</c>, <c>user</c>,
/// <c>metadata</c>, <c>store</c>. Two bodies that differ only in those fields or in spacing share a key;
/// a different key order or escaping gives another key (a miss, never a wrong hit).
/// </summary>
internal static class ExactCacheKey
{
    public const int Size = 32;

    private static readonly byte[][] s_ignored = [.. new[] { "model", "stream", "stream_options", "user", "metadata", "store" }.Select(Encoding.UTF8.GetBytes)];

    /// <summary>
    /// Writes the key of <paramref name="body"/> (valid JSON, as the inspector checked) into <paramref name="key"/>,
    /// leaving out the tokens that start inside <paramref name="skip"/> too (the semantic cache's last user turn).
    /// </summary>
    public static void Compute(ReadOnlySpan<byte> body, string scope, string provider, string upstreamModel, Span<byte> key, Range skip = default)
    {
        var (skipFrom, skipLength) = skip.GetOffsetAndLength(body.Length);
        // Each token becomes its type, its bytes (a string without quotes) and a separator: never more than twice the body.
        var names = Encoding.UTF8.GetByteCount(scope) + Encoding.UTF8.GetByteCount(provider) + Encoding.UTF8.GetByteCount(upstreamModel) + 3;
        var buffer = ArrayPool<byte>.Shared.Rent(body.Length * 2 + names);
        try
        {
            var length = 0;
            Append(buffer, ref length, scope);
            Append(buffer, ref length, provider);
            Append(buffer, ref length, upstreamModel);
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
                buffer[length++] = (byte)reader.TokenType;
                reader.ValueSpan.CopyTo(buffer.AsSpan(length));
                length += reader.ValueSpan.Length;
                // A separator no token byte can take, so that ["ab","c"] and ["a","bc"] differ.
                buffer[length++] = 0xFF;
            }
            SHA256.HashData(buffer.AsSpan(0, length), key);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
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

    private static void Append(byte[] buffer, ref int length, string text)
    {
        length += Encoding.UTF8.GetBytes(text, buffer.AsSpan(length));
        buffer[length++] = 0xFF;
    }

    /// <summary>The key as 64 hex digits, as a Redis or log key.</summary>
    public static string ToHex(ReadOnlySpan<byte> key) => Convert.ToHexString(key).ToLowerInvariant();
}
