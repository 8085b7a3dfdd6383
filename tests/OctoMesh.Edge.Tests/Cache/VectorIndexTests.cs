using OctoMesh.Edge.Cache.Semantic;

namespace OctoMesh.Edge.Tests.Cache;

/// <summary>The semantic cache's two vector indexes: the exact scan, and the graph that large partitions move to.</summary>
public class VectorIndexTests
{
    /// <summary>Unit vectors in clusters (as paraphrases are), from a fixed seed.</summary>
    private static float[][] Vectors(int count, int dimensions, int seed)
    {
        var random = new Random(seed);
        var centres = Enumerable.Range(0, 50).Select(_ => Enumerable.Range(0, dimensions).Select(_ => (float)random.NextDouble() - 0.5f).ToArray()).ToArray();
        return [.. Enumerable.Range(0, count).Select(_ =>
        {
            var centre = centres[random.Next(centres.Length)];
            var vector = centre.Select(x => x + ((float)random.NextDouble() - 0.5f) * 0.6f).ToArray();
            VectorMath.Normalize(vector);
            return vector;
        })];
    }

    [Fact]
    public void TheGraphFindsWhatTheScanFinds()
    {
        const int Dimensions = 64;
        var stored = Vectors(5000, Dimensions, seed: 1);
        var flat = new FlatIndex(Dimensions);
        var graph = new HnswIndex(Dimensions, capacity: 16);
        for (var i = 0; i < stored.Length; i++)
        {
            flat.Add(i, stored[i]);
            graph.Add(i, stored[i]);
        }
        var queries = Vectors(300, Dimensions, seed: 2);
        Span<long> flatIds = stackalloc long[1], graphIds = stackalloc long[1];
        Span<float> flatScores = stackalloc float[1], graphScores = stackalloc float[1];
        var same = 0;
        foreach (var query in queries)
        {
            Assert.Equal(1, flat.Search(query, -1, flatIds, flatScores));
            Assert.Equal(1, graph.Search(query, -1, graphIds, graphScores));
            same += flatIds[0] == graphIds[0] ? 1 : 0;
        }
        // Approximate, but rarely wrong: the true nearest neighbour for at least 97% of the queries.
        Assert.True(same >= 0.97 * queries.Length, $"{same} of {queries.Length}");

        // A stored vector finds itself; a deleted one is never returned; the threshold holds.
        Assert.Equal(1, graph.Search(stored[42], 0.999f, graphIds, graphScores));
        Assert.Equal(42, graphIds[0]);
        Assert.True(graph.Remove(42));
        Assert.False(graph.Remove(42));
        Assert.True(graph.Search(stored[42], 0.999f, graphIds, graphScores) == 0 || graphIds[0] != 42);
        Assert.Equal(4999, graph.Count);
        Assert.Equal(0, graph.Search(stored[42], 1.5f, graphIds, graphScores));
    }

    [Fact]
    public void ThePartitionMovesToTheGraphAndKeepsItsEntries()
    {
        var cache = new SemanticCache(new HashEmbedder(), threshold: 0.6f, maxEntries: 10_000);
        var ttl = TimeSpan.FromMinutes(1);
        // More questions than a flat partition holds: each still finds its own answer.
        for (var i = 0; i < 3000; i++)
        {
            cache.Add("p", "w", cache.Prepare($"How do I configure feature {i} of product {i * 7}?"), $"k{i}", ttl);
        }
        foreach (var i in new[] { 0, 1, 2047, 2048, 2999 })
        {
            Assert.Equal($"k{i}", cache.Find("p", cache.Prepare($"how do i configure feature {i} of product {i * 7}"))?.AnswerKey);
        }
        // Forgetting most of them rebuilds the graph; the rest are still found.
        for (var i = 0; i < 2500; i++)
        {
            cache.Forget("p", $"k{i}");
        }
        Assert.Equal(500, cache.Count);
        Assert.Null(cache.Find("p", cache.Prepare("How do I configure feature 10 of product 70?")));
        Assert.Equal("k2999", cache.Find("p", cache.Prepare("How do I configure feature 2999 of product 20993?"))?.AnswerKey);
    }
}
