namespace OctoMesh.Edge.Simulator;

/// <summary>
/// Deterministic embeddings: each word (a run of letters or digits, lower-cased) has a fixed
/// pseudo-random direction; a text's vector is the normalised sum of its words' directions. So texts
/// that share words are near each other, as real embeddings would have them, with no model at all.
/// </summary>
internal static class SimEmbedding
{
    public static float[] Embed(string text, int dimensions)
    {
        var vector = new float[dimensions];
        var start = -1;
        for (var i = 0; i <= text.Length; i++)
        {
            var inWord = i < text.Length && char.IsLetterOrDigit(text[i]);
            if (inWord && start < 0)
            {
                start = i;
            }
            else if (!inWord && start >= 0)
            {
                AddWord(vector, text.AsSpan(start, i - start));
                start = -1;
            }
        }
        var norm = MathF.Sqrt(vector.Sum(v => v * v));
        if (norm == 0)
        {
            vector[0] = 1;
            return vector;
        }
        for (var i = 0; i < vector.Length; i++)
        {
            vector[i] /= norm;
        }
        return vector;
    }

    private static void AddWord(float[] vector, ReadOnlySpan<char> word)
    {
        var state = 14695981039346656037UL;
        foreach (var c in word)
        {
            state = (state ^ char.ToLowerInvariant(c)) * 1099511628211UL;
        }
        for (var i = 0; i < vector.Length; i++)
        {
            // xorshift64*: a fixed stream of values in [-1, 1) per word.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            vector[i] += ((state * 2685821657736338717UL) >> 40) / (float)(1 << 23) - 1f;
        }
    }
}
