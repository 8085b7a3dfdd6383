namespace OctoMesh.Edge.Cache.Semantic;

/// <summary>
/// A graph index for large partitions (Malkov and Yashunin's HNSW): each vector is a node on layer 0 and, with
/// falling probability, on layers above; a node links to its nearest neighbours on each of its layers (chosen by
/// the diversity heuristic, at most <see cref="M"/>, twice that on layer 0). A search descends greedily from the top
/// and explores layer 0 with a candidate list of <see cref="Ef"/>. Removal marks a node deleted (it still routes);
/// the owner rebuilds when deleted nodes pile up. Approximate: it can miss the true nearest neighbour, rarely.
/// Not thread-safe: its owner locks.
/// </summary>
internal sealed class HnswIndex
{
    public const int M = 16, EfConstruction = 100, Ef = 64;
    private readonly double _levelScale = 1 / Math.Log(M);
    private readonly Random _random = new(0x5EED);
    private float[] _vectors;
    private long[] _ids;
    private bool[] _deleted;
    /// <summary>Per node, per layer, its neighbours; <see cref="_linkCounts"/> says how many are used.</summary>
    private int[][][] _links;
    private int[][] _linkCounts;
    private readonly Dictionary<long, int> _nodes = [];
    private int _entry = -1, _top = -1;
    private int[] _visited;
    private int _visit;

    public HnswIndex(int dimensions, int capacity = 1024)
    {
        Dimensions = dimensions;
        _vectors = new float[capacity * dimensions];
        _ids = new long[capacity];
        _deleted = new bool[capacity];
        _links = new int[capacity][][];
        _linkCounts = new int[capacity][];
        _visited = new int[capacity];
    }

    public int Dimensions { get; }

    /// <summary>Nodes, deleted ones included.</summary>
    public int Nodes { get; private set; }

    /// <summary>Live entries.</summary>
    public int Count => _nodes.Count;

    /// <summary>Bytes held by vectors, ids and links (about <c>4·d + 8 + 4·2M</c> per node).</summary>
    public long Bytes => (long)_vectors.Length * sizeof(float) + (long)_ids.Length * (sizeof(long) + 1 + sizeof(int))
        + (long)Nodes * (2 * M + M / 2) * sizeof(int);

    public void Add(long id, ReadOnlySpan<float> vector)
    {
        if (Nodes == _ids.Length)
        {
            Grow();
        }
        var node = Nodes++;
        vector[..Dimensions].CopyTo(_vectors.AsSpan(node * Dimensions, Dimensions));
        _ids[node] = id;
        _nodes[id] = node;
        var level = (int)(-Math.Log(1 - _random.NextDouble()) * _levelScale);
        _links[node] = new int[level + 1][];
        _linkCounts[node] = new int[level + 1];
        for (var layer = 0; layer <= level; layer++)
        {
            _links[node][layer] = new int[layer == 0 ? 2 * M : M];
        }
        if (_entry < 0)
        {
            (_entry, _top) = (node, level);
            return;
        }
        var query = _vectors.AsSpan(node * Dimensions, Dimensions);
        var nearest = _entry;
        for (var layer = _top; layer > level; layer--)
        {
            nearest = Greedy(query, nearest, layer);
        }
        for (var layer = Math.Min(level, _top); layer >= 0; layer--)
        {
            var found = SearchLayer(query, nearest, layer, EfConstruction);
            var chosen = SelectNeighbours(found, layer == 0 ? 2 * M : M);
            foreach (var (other, _) in chosen)
            {
                Link(node, other, layer);
                Link(other, node, layer);
            }
            nearest = found[0].Node;
        }
        if (level > _top)
        {
            (_entry, _top) = (node, level);
        }
    }

    /// <summary>Marks the entry deleted: never returned again, still a waypoint. False when absent.</summary>
    public bool Remove(long id)
    {
        if (!_nodes.Remove(id, out var node))
        {
            return false;
        }
        _deleted[node] = true;
        return true;
    }

    /// <summary>The live entries at least <paramref name="threshold"/> similar to <paramref name="query"/>, best first, as many as <paramref name="ids"/> holds.</summary>
    public int Search(ReadOnlySpan<float> query, float threshold, Span<long> ids, Span<float> scores)
    {
        if (_entry < 0)
        {
            return 0;
        }
        var nearest = _entry;
        for (var layer = _top; layer > 0; layer--)
        {
            nearest = Greedy(query, nearest, layer);
        }
        var count = 0;
        foreach (var (node, similarity) in SearchLayer(query, nearest, 0, Math.Max(Ef, ids.Length)))
        {
            if (similarity >= threshold && !_deleted[node])
            {
                count = TopList.Insert(ids, scores, count, _ids[node], similarity);
            }
        }
        return count;
    }

    /// <summary>The live entries as (id, vector), for rebuilding.</summary>
    public IEnumerable<(long Id, float[] Vector)> Live()
    {
        for (var node = 0; node < Nodes; node++)
        {
            if (!_deleted[node])
            {
                yield return (_ids[node], _vectors.AsSpan(node * Dimensions, Dimensions).ToArray());
            }
        }
    }

    private float Similarity(ReadOnlySpan<float> query, int node) => VectorMath.Dot(query, _vectors.AsSpan(node * Dimensions, Dimensions));

    /// <summary>Walks <paramref name="layer"/> to the node nearest <paramref name="query"/> from <paramref name="start"/>, always to a better neighbour.</summary>
    private int Greedy(ReadOnlySpan<float> query, int start, int layer)
    {
        var best = start;
        var bestSimilarity = Similarity(query, best);
        for (var moved = true; moved;)
        {
            moved = false;
            var current = best;
            var links = _links[current][layer];
            for (var i = 0; i < _linkCounts[current][layer]; i++)
            {
                var similarity = Similarity(query, links[i]);
                if (similarity > bestSimilarity)
                {
                    (best, bestSimilarity, moved) = (links[i], similarity, true);
                }
            }
        }
        return best;
    }

    /// <summary>The <paramref name="ef"/> nodes of <paramref name="layer"/> nearest <paramref name="query"/> found from <paramref name="start"/>, nearest first.</summary>
    private List<(int Node, float Similarity)> SearchLayer(ReadOnlySpan<float> query, int start, int layer, int ef)
    {
        if (++_visit == int.MaxValue)
        {
            Array.Clear(_visited);
            _visit = 1;
        }
        // Candidates to expand, most similar first; results kept to the ef most similar, least similar on top.
        var candidates = new PriorityQueue<int, float>();
        var results = new PriorityQueue<int, float>();
        var startSimilarity = Similarity(query, start);
        candidates.Enqueue(start, -startSimilarity);
        results.Enqueue(start, startSimilarity);
        _visited[start] = _visit;
        while (candidates.TryDequeue(out var node, out var negated))
        {
            results.TryPeek(out _, out var worst);
            if (-negated < worst && results.Count >= ef)
            {
                break;
            }
            var links = _links[node][layer];
            for (var i = 0; i < _linkCounts[node][layer]; i++)
            {
                var next = links[i];
                if (_visited[next] == _visit)
                {
                    continue;
                }
                _visited[next] = _visit;
                var similarity = Similarity(query, next);
                results.TryPeek(out _, out worst);
                if (results.Count < ef || similarity > worst)
                {
                    candidates.Enqueue(next, -similarity);
                    results.Enqueue(next, similarity);
                    if (results.Count > ef)
                    {
                        results.Dequeue();
                    }
                }
            }
        }
        var found = new List<(int, float)>(results.Count);
        while (results.TryDequeue(out var node, out var similarity))
        {
            found.Add((node, similarity));
        }
        found.Reverse();
        return found;
    }

    /// <summary>
    /// The diversity heuristic: from the nearest first, keep a candidate only when it is nearer the new node than to
    /// every neighbour kept so far, so links reach in different directions; at most <paramref name="max"/>.
    /// </summary>
    private List<(int Node, float Similarity)> SelectNeighbours(List<(int Node, float Similarity)> nearestFirst, int max)
    {
        var chosen = new List<(int, float)>(max);
        foreach (var (candidate, similarity) in nearestFirst)
        {
            var diverse = true;
            var vector = _vectors.AsSpan(candidate * Dimensions, Dimensions);
            foreach (var (kept, _) in chosen)
            {
                if (Similarity(vector, kept) > similarity)
                {
                    diverse = false;
                    break;
                }
            }
            if (diverse)
            {
                chosen.Add((candidate, similarity));
                if (chosen.Count == max)
                {
                    break;
                }
            }
        }
        return chosen;
    }

    /// <summary>Links <paramref name="from"/> to <paramref name="to"/> on <paramref name="layer"/>; a full list keeps its nearest.</summary>
    private void Link(int from, int to, int layer)
    {
        var links = _links[from][layer];
        ref var count = ref _linkCounts[from][layer];
        if (count < links.Length)
        {
            links[count++] = to;
            return;
        }
        // Full: replace the least similar neighbour if the new one is nearer.
        var vector = _vectors.AsSpan(from * Dimensions, Dimensions);
        var worst = 0;
        var worstSimilarity = float.PositiveInfinity;
        for (var i = 0; i < count; i++)
        {
            var similarity = Similarity(vector, links[i]);
            if (similarity < worstSimilarity)
            {
                (worst, worstSimilarity) = (i, similarity);
            }
        }
        if (Similarity(vector, to) > worstSimilarity)
        {
            links[worst] = to;
        }
    }

    private void Grow()
    {
        var capacity = _ids.Length * 2;
        Array.Resize(ref _vectors, capacity * Dimensions);
        Array.Resize(ref _ids, capacity);
        Array.Resize(ref _deleted, capacity);
        Array.Resize(ref _links, capacity);
        Array.Resize(ref _linkCounts, capacity);
        Array.Resize(ref _visited, capacity);
    }
}
