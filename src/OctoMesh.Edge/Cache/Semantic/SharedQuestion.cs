using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace OctoMesh.Edge.Cache.Semantic;

/// <summary>
/// A semantic-cache entry as replicas share it through Redis: which embedder made the vector, the partition, the
/// workspace, the key of the answer in the exact cache, when it expires (Unix ms), what the guards know, and the
/// vector. Never the question's text.
/// </summary>
internal sealed record SharedQuestion(string Embedder, string Partition, string Workspace, string AnswerKey, long ExpiresAtUnixMs,
    GuardFacts Guards, float[] Vector)
{
    private const byte Version = 1;

    /// <summary>Version, six length-prefixed texts, the expiry, the dimensions, then the vector (float32, little-endian).</summary>
    public byte[] Encode()
    {
        string[] texts = [Embedder, Partition, Workspace, AnswerKey, Guards.Signature, string.Join(' ', Guards.Words)];
        var sizes = texts.Select(Encoding.UTF8.GetByteCount).ToArray();
        var bytes = new byte[1 + sizes.Sum(s => 4 + s) + 8 + 2 + Vector.Length * sizeof(float)];
        bytes[0] = Version;
        var at = 1;
        for (var i = 0; i < texts.Length; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(at), sizes[i]);
            at += 4 + Encoding.UTF8.GetBytes(texts[i], bytes.AsSpan(at + 4));
        }
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(at), ExpiresAtUnixMs);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(at + 8), (ushort)Vector.Length);
        at += 10;
        foreach (var x in Vector)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(at), x);
            at += sizeof(float);
        }
        return bytes;
    }

    /// <summary>The entry in <paramref name="bytes"/>; <see cref="InvalidDataException"/> for anything else.</summary>
    public static SharedQuestion Decode(ReadOnlySpan<byte> bytes)
    {
        try
        {
            if (bytes.IsEmpty || bytes[0] != Version)
            {
                throw new InvalidDataException("not a shared question of this version");
            }
            var at = 1;
            var texts = new string[6];
            for (var i = 0; i < texts.Length; i++)
            {
                var size = BinaryPrimitives.ReadInt32LittleEndian(bytes[at..]);
                texts[i] = Encoding.UTF8.GetString(bytes.Slice(at + 4, size));
                at += 4 + size;
            }
            var expires = BinaryPrimitives.ReadInt64LittleEndian(bytes[at..]);
            var dimensions = BinaryPrimitives.ReadUInt16LittleEndian(bytes[(at + 8)..]);
            at += 10;
            var vector = new float[dimensions];
            MemoryMarshal.Cast<byte, float>(bytes.Slice(at, dimensions * sizeof(float))).CopyTo(vector);
            if (!BitConverter.IsLittleEndian || at + dimensions * sizeof(float) != bytes.Length)
            {
                throw new InvalidDataException("a shared question of the wrong length");
            }
            var words = texts[5].Length == 0 ? [] : texts[5].Split(' ');
            return new SharedQuestion(texts[0], texts[1], texts[2], texts[3], expires, new GuardFacts(texts[4], words), vector);
        }
        catch (Exception e) when (e is ArgumentOutOfRangeException or ArgumentException or IndexOutOfRangeException or OverflowException)
        {
            throw new InvalidDataException("a shared question cut short or corrupt", e);
        }
    }
}
