using System.Numerics;
using System.Runtime.InteropServices;

namespace OctoMesh.Edge.Cache.Semantic;

/// <summary>
/// The built-in embedder (<c>hash</c>): no model, no dependency. Text is lower-cased and split into words
/// (letters and digits); each word, each pair of neighbouring words, and each character trigram of a word
/// (with its boundaries, <c>#ca</c>, <c>cat</c>, <c>at#</c>) is hashed to one of <see cref="Dimensions"/> places
/// with a sign, and weighted (words 1, word pairs 0.7, trigrams 0.35); the vector is then L2-normalized. Word
/// pairs keep some order ("dog bites man" is not "man bites dog"), trigrams absorb inflections and typos.
/// Allocation-free; about a microsecond per short prompt.
/// </summary>
internal sealed class HashEmbedder(int dimensions = HashEmbedder.DefaultDimensions) : ILocalEmbedder
{
    public const int DefaultDimensions = 256;
    private const float WordWeight = 1f, PairWeight = 0.7f, TrigramWeight = 0.35f;
    private const uint WordSeed = 0x9E3779B9, PairSeed = 0x85EBCA6B, TrigramSeed = 0xC2B2AE35;

    public string Name => "hash";

    public int Dimensions { get; } = dimensions;

    public void Embed(ReadOnlySpan<char> text, Span<float> vector)
    {
        vector = vector[..Dimensions];
        vector.Clear();
        Span<char> word = stackalloc char[64];
        var previous = 0u;
        var havePrevious = false;
        var at = 0;
        while (TextWords.Next(text, ref at, word) is var length and > 0)
        {
            var current = Hash(word[..length], WordSeed);
            Add(vector, current, WordWeight);
            if (havePrevious)
            {
                Add(vector, Mix(previous, current, PairSeed), PairWeight);
            }
            AddTrigrams(vector, word[..length]);
            previous = current;
            havePrevious = true;
        }
        VectorMath.Normalize(vector);
    }

    /// <summary>The character trigrams of <c>#word#</c>.</summary>
    private static void AddTrigrams(Span<float> vector, ReadOnlySpan<char> word)
    {
        // Positions -1 and word.Length stand for the boundary marks.
        for (var start = -1; start + 2 <= word.Length; start++)
        {
            var hash = TrigramSeed;
            for (var k = start; k < start + 3; k++)
            {
                var c = k < 0 || k >= word.Length ? '#' : word[k];
                hash = (hash ^ c) * 16777619u;
            }
            Add(vector, hash, TrigramWeight);
        }
    }

    /// <summary>Adds <paramref name="weight"/> at the place the hash's low bits choose, with the sign its top bit chooses.</summary>
    private static void Add(Span<float> vector, uint hash, float weight)
    {
        hash = Finish(hash);
        vector[(int)(hash % (uint)vector.Length)] += (hash & 0x8000_0000) == 0 ? weight : -weight;
    }

    private static uint Hash(ReadOnlySpan<char> text, uint seed)
    {
        var hash = 2166136261u ^ seed;
        foreach (var c in text)
        {
            hash = (hash ^ c) * 16777619u;
        }
        return hash;
    }

    private static uint Mix(uint first, uint second, uint seed) => (first * 31 + second) ^ seed;

    /// <summary>Murmur3's finalizer: spreads every input bit over the output.</summary>
    private static uint Finish(uint hash)
    {
        hash ^= hash >> 16;
        hash *= 0x85EBCA6B;
        hash ^= hash >> 13;
        hash *= 0xC2B2AE35;
        return hash ^ (hash >> 16);
    }
}

/// <summary>How the embedders split text: words of letters and digits, lower-cased, at most as long as the buffer.</summary>
internal static class TextWords
{
    /// <summary>Writes the next word from <paramref name="at"/> into <paramref name="word"/> and returns its length; 0 at the end.</summary>
    public static int Next(ReadOnlySpan<char> text, ref int at, Span<char> word)
    {
        while (at < text.Length && !char.IsLetterOrDigit(text[at]))
        {
            at++;
        }
        var length = 0;
        while (at < text.Length && char.IsLetterOrDigit(text[at]))
        {
            if (length < word.Length)
            {
                word[length++] = char.ToLowerInvariant(text[at]);
            }
            at++;
        }
        return length;
    }
}

/// <summary>Dot products with SIMD (<see cref="Vector{T}"/>: 16 floats at a time with AVX-512).</summary>
internal static class VectorMath
{
    /// <summary>Scales <paramref name="vector"/> to unit length (all zeros stay zeros), so that cosine similarity is a dot product.</summary>
    public static void Normalize(Span<float> vector)
    {
        var norm = MathF.Sqrt(Dot(vector, vector));
        if (norm > 0)
        {
            var scale = 1 / norm;
            foreach (ref var x in vector)
            {
                x *= scale;
            }
        }
    }

    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var sum = Vector<float>.Zero;
        var wide = Vector<float>.Count;
        var va = MemoryMarshal.Cast<float, Vector<float>>(a);
        var vb = MemoryMarshal.Cast<float, Vector<float>>(b[..a.Length]);
        for (var i = 0; i < va.Length; i++)
        {
            sum += va[i] * vb[i];
        }
        var dot = Vector.Sum(sum);
        for (var i = va.Length * wide; i < a.Length; i++)
        {
            dot += a[i] * b[i];
        }
        return dot;
    }
}
