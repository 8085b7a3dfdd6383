namespace OctoMesh.Edge.Cache.Semantic;

/// <summary>
/// Unit vectors of one partition, searched by a straight SIMD scan: the nearest neighbour of a query by cosine
/// similarity. Right for the small partitions a semantic cache mostly has (a scan of 1,000 vectors of 256
/// dimensions is tens of microseconds); large ones want a graph index. Not thread-safe: its owner locks.
/// </summary>
internal sealed class FlatIndex(int dimensions)
{
    // Room for one to start with: most partitions (one per conversation turn) never hold more.
    private float[] _vectors = new float[dimensions];
    private long[] _ids = new long[1];

    public int Count { get; private set; }
    public int Dimensions { get; } = dimensions;

    /// <summary>Bytes held by the vectors and ids.</summary>
    public long Bytes => (long)_vectors.Length * sizeof(float) + (long)_ids.Length * sizeof(long);

    public void Add(long id, ReadOnlySpan<float> vector)
    {
        if (Count == _ids.Length)
        {
            Array.Resize(ref _ids, _ids.Length * 2);
            Array.Resize(ref _vectors, _vectors.Length * 2);
        }
        vector[..Dimensions].CopyTo(_vectors.AsSpan(Count * Dimensions, Dimensions));
        _ids[Count++] = id;
    }

    /// <summary>Removes the entry with <paramref name="id"/> (the last one takes its place); false when absent.</summary>
    public bool Remove(long id)
    {
        var at = Array.IndexOf(_ids, id, 0, Count);
        if (at < 0)
        {
            return false;
        }
        var last = --Count;
        if (at != last)
        {
            _ids[at] = _ids[last];
            _vectors.AsSpan(last * Dimensions, Dimensions).CopyTo(_vectors.AsSpan(at * Dimensions, Dimensions));
        }
        return true;
    }

    /// <summary>
    /// The entries at least <paramref name="threshold"/> similar to <paramref name="query"/>, the most similar first, as
    /// many as <paramref name="ids"/> holds; returns how many.
    /// </summary>
    public int Search(ReadOnlySpan<float> query, float threshold, Span<long> ids, Span<float> scores)
    {
        var found = 0;
        var vectors = _vectors.AsSpan(0, Count * Dimensions);
        for (var i = 0; i < Count; i++)
        {
            var score = VectorMath.Dot(query, vectors.Slice(i * Dimensions, Dimensions));
            if (score >= threshold)
            {
                found = TopList.Insert(ids, scores, found, _ids[i], score);
            }
        }
        return found;
    }

    /// <summary>The entries as (id, vector), for moving them to a graph index.</summary>
    public IEnumerable<(long Id, float[] Vector)> Live()
    {
        for (var i = 0; i < Count; i++)
        {
            yield return (_ids[i], _vectors.AsSpan(i * Dimensions, Dimensions).ToArray());
        }
    }
}

/// <summary>A short list of the best matches, kept sorted as they come.</summary>
internal static class TopList
{
    /// <summary>Inserts (<paramref name="id"/>, <paramref name="score"/>) into the first <paramref name="count"/> places by score, dropping the worst when full; returns the new count.</summary>
    public static int Insert(Span<long> ids, Span<float> scores, int count, long id, float score)
    {
        var at = count;
        while (at > 0 && scores[at - 1] < score)
        {
            at--;
        }
        if (at >= ids.Length)
        {
            return count;
        }
        var last = Math.Min(count, ids.Length - 1);
        for (var k = last; k > at; k--)
        {
            ids[k] = ids[k - 1];
            scores[k] = scores[k - 1];
        }
        ids[at] = id;
        scores[at] = score;
        return Math.Min(count + 1, ids.Length);
    }
}
