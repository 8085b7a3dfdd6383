using System.Collections.Concurrent;

namespace OctoMesh.Edge.Cache.Semantic;

/// <summary>A question made ready for the semantic cache: its embedding and what the guards know of it (<see cref="QueryGuards"/>).</summary>
internal sealed record SemanticQuery(float[] Vector, GuardFacts Guards);

/// <summary>A neighbour close enough to answer: the exact-cache key of its answer and how similar it is.</summary>
internal readonly record struct SemanticMatch(string AnswerKey, float Similarity);

/// <summary>
/// The semantic cache's index: per partition (everything about a request but its last user turn, hashed), the
/// embeddings of the last user turns whose answers were kept, each pointing at its answer in the exact cache. A
/// lookup embeds the new turn, finds the neighbours at least <see cref="Threshold"/> similar, and takes the most
/// similar one that passes the guards and whose answer is still there. Bounded by <see cref="MaxEntries"/> (the
/// oldest leave first) and by each entry's time to live; a purged workspace leaves at once.
/// </summary>
internal sealed class SemanticCache
{
    private const int Candidates = 8;
    private readonly ConcurrentDictionary<string, Partition> _partitions = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<(Partition Partition, long Id)> _age = new();
    private long _nextId;
    private int _count;

    /// <param name="threshold">The least similarity of a hit when a lookup does not name its own.</param>
    public SemanticCache(IEmbedder embedder, float threshold, int maxEntries)
    {
        Embedder = embedder;
        Threshold = threshold;
        MaxEntries = maxEntries;
    }

    public IEmbedder Embedder { get; }

    /// <summary>The least similarity of a hit: the configured threshold, else the embedder's calibrated default (a reload may pass another to <see cref="Find"/>).</summary>
    public float Threshold { get; }

    public int MaxEntries { get; }

    /// <summary>Entries held now.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Partitions held now (each holds at least one entry).</summary>
    public int Partitions => _partitions.Count;

    /// <summary>Embeds <paramref name="text"/> and analyses it for the guards; null when the embedder could not.</summary>
    public async ValueTask<SemanticQuery?> PrepareAsync(string text, CancellationToken cancellationToken)
    {
        var vector = new float[Embedder.Dimensions];
        return await Embedder.EmbedAsync(text, vector, cancellationToken) ? new SemanticQuery(vector, QueryGuards.Analyze(text)) : null;
    }

    /// <summary>The same with an in-process embedder, which never waits or fails.</summary>
    public SemanticQuery Prepare(string text)
    {
        var vector = new float[Embedder.Dimensions];
        ((ILocalEmbedder)Embedder).Embed(text, vector);
        return new SemanticQuery(vector, QueryGuards.Analyze(text));
    }

    /// <summary>The closest neighbour of <paramref name="query"/> in <paramref name="partition"/> that may answer it, if any.</summary>
    public SemanticMatch? Find(string partition, SemanticQuery query, float? threshold = null)
    {
        if (!_partitions.TryGetValue(partition, out var entries))
        {
            return null;
        }
        Span<long> ids = stackalloc long[Candidates];
        Span<float> scores = stackalloc float[Candidates];
        var now = Environment.TickCount64;
        lock (entries)
        {
            var found = entries.Search(query.Vector, threshold ?? Threshold, ids, scores);
            for (var i = 0; i < found; i++)
            {
                var entry = entries.Entries[ids[i]];
                if (entry.ExpiresAt <= now)
                {
                    RemoveLocked(entries, ids[i]);
                }
                else if (QueryGuards.Agree(entry.Guards, query.Guards))
                {
                    return new SemanticMatch(entry.AnswerKey, scores[i]);
                }
            }
        }
        return null;
    }

    /// <summary>Adds the question whose answer was just kept under <paramref name="answerKey"/>.</summary>
    public void Add(string partition, string workspace, SemanticQuery query, string answerKey, TimeSpan ttl)
    {
        var id = Interlocked.Increment(ref _nextId);
        Partition entries;
        while (true)
        {
            entries = _partitions.GetOrAdd(partition, static (name, dimensions) => new Partition(name, dimensions), Embedder.Dimensions);
            lock (entries)
            {
                if (entries.Removed)
                {
                    // Emptied and dropped between the lookup and the lock: add to its successor.
                    continue;
                }
                if (!entries.Keys.Add(answerKey))
                {
                    // The same answer is in already (a repeat that missed the exact cache, or a replica's copy).
                    return;
                }
                entries.Add(id, query.Vector);
                entries.Entries[id] = new Entry(answerKey, query.Guards, workspace, Environment.TickCount64 + (long)ttl.TotalMilliseconds);
                break;
            }
        }
        _age.Enqueue((entries, id));
        if (Interlocked.Increment(ref _count) > MaxEntries || _age.Count > 2 * MaxEntries)
        {
            EvictOldest();
        }
    }

    /// <summary>Removes the entry pointing at <paramref name="answerKey"/> in <paramref name="partition"/> (its answer is gone).</summary>
    public void Forget(string partition, string answerKey)
    {
        if (_partitions.TryGetValue(partition, out var entries))
        {
            lock (entries)
            {
                foreach (var (id, entry) in entries.Entries)
                {
                    if (entry.AnswerKey == answerKey)
                    {
                        RemoveLocked(entries, id);
                        break;
                    }
                }
            }
        }
    }

    /// <summary>Removes every entry a request of <paramref name="workspace"/> put in (null: all of them).</summary>
    public void Purge(string? workspace)
    {
        foreach (var (_, entries) in _partitions)
        {
            lock (entries)
            {
                foreach (var (id, entry) in entries.Entries)
                {
                    if (workspace is null || entry.Workspace == workspace)
                    {
                        RemoveLocked(entries, id);
                    }
                }
            }
        }
    }

    private void EvictOldest()
    {
        // The age queue also holds entries that left early (forgotten, purged): they are passed over here, and
        // bounded by letting the queue grow to twice the entries at most.
        while ((Volatile.Read(ref _count) > MaxEntries || _age.Count > 2 * MaxEntries) && _age.TryDequeue(out var oldest))
        {
            lock (oldest.Partition)
            {
                RemoveLocked(oldest.Partition, oldest.Id);
            }
        }
    }

    /// <summary>Removes an entry; a partition left empty leaves the index (every turn of every conversation is a partition of its own).</summary>
    private void RemoveLocked(Partition entries, long id)
    {
        if (entries.Entries.Remove(id, out var entry))
        {
            entries.Remove(id);
            entries.Keys.Remove(entry.AnswerKey);
            Interlocked.Decrement(ref _count);
            if (entries.Entries.Count == 0)
            {
                entries.Removed = true;
                _partitions.TryRemove(KeyValuePair.Create(entries.Name, entries));
            }
        }
    }

    private sealed record Entry(string AnswerKey, GuardFacts Guards, string Workspace, long ExpiresAt);

    /// <summary>
    /// One partition's vectors and entries; its own lock. Its vectors sit in a <see cref="FlatIndex"/> (exact, a scan)
    /// until there are <see cref="GraphFrom"/>, then in an <see cref="HnswIndex"/> (approximate, logarithmic), rebuilt
    /// when half its nodes are deleted ones.
    /// </summary>
    private sealed class Partition(string name, int dimensions)
    {
        public const int GraphFrom = 2048;
        private FlatIndex? _flat = new(dimensions);
        private HnswIndex? _graph;

        public string Name { get; } = name;

        /// <summary>Emptied and dropped from the index (under its lock): an <see cref="Add"/> that raced it goes to a new one.</summary>
        public bool Removed { get; set; }

        public Dictionary<long, Entry> Entries { get; } = [];
        public HashSet<string> Keys { get; } = new(StringComparer.Ordinal);

        public void Add(long id, ReadOnlySpan<float> vector)
        {
            if (_flat is { } flat)
            {
                flat.Add(id, vector);
                if (flat.Count >= GraphFrom)
                {
                    _graph = Rebuild(flat.Live());
                    _flat = null;
                }
                return;
            }
            _graph!.Add(id, vector);
        }

        public void Remove(long id)
        {
            if (_flat is { } flat)
            {
                flat.Remove(id);
                return;
            }
            var graph = _graph!;
            if (graph.Remove(id) && graph.Count < graph.Nodes / 2)
            {
                _graph = Rebuild(graph.Live());
            }
        }

        public int Search(ReadOnlySpan<float> query, float threshold, Span<long> ids, Span<float> scores) =>
            _flat?.Search(query, threshold, ids, scores) ?? _graph!.Search(query, threshold, ids, scores);

        private HnswIndex Rebuild(IEnumerable<(long Id, float[] Vector)> live)
        {
            var graph = new HnswIndex(dimensions, GraphFrom * 2);
            foreach (var (id, vector) in live)
            {
                graph.Add(id, vector);
            }
            return graph;
        }
    }
}
