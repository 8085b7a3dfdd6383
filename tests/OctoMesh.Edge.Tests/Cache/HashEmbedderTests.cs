using OctoMesh.Edge.Cache.Semantic;

namespace OctoMesh.Edge.Tests.Cache;

public class HashEmbedderTests
{
    private static readonly HashEmbedder s_embedder = new();

    private static float[] Embed(string text)
    {
        var vector = new float[s_embedder.Dimensions];
        s_embedder.Embed(text, vector);
        return vector;
    }

    private static float Similarity(string a, string b) => VectorMath.Dot(Embed(a), Embed(b));

    [Fact]
    public void VectorsAreUnitLengthAndTheSameEverywhere()
    {
        var vector = Embed("What is the capital of France?");
        Assert.Equal(1f, VectorMath.Dot(vector, vector), 4);
        // No per-process seed: replicas sharing an index through Redis embed alike.
        var again = new float[s_embedder.Dimensions];
        new HashEmbedder().Embed("What is the capital of France?", again);
        Assert.Equal(vector, again);
        Assert.All(Embed(" ?! "), x => Assert.Equal(0f, x));
    }

    [Fact]
    public void CloseWordingIsNearAndOtherTopicsAreFar()
    {
        Assert.Equal(1f, Similarity("What is the capital of France?", "what is the CAPITAL of france"), 4);
        Assert.True(Similarity("What is the capital of France?", "Tell me the capital city of France") > 0.6f);
        Assert.True(Similarity("What is the capital of France?", "How do I bake sourdough bread at home?") < 0.2f);
        // Word pairs keep some order.
        var swapped = Similarity("the dog bites the man", "the man bites the dog");
        Assert.InRange(swapped, 0.5f, 0.99f);
    }

    [Fact]
    public void EmbeddingAllocatesNothing()
    {
        var vector = new float[s_embedder.Dimensions];
        s_embedder.Embed("warm up the method", vector);
        var before = GC.GetAllocatedBytesForCurrentThread();
        s_embedder.Embed("Summarise this support ticket about a refund for order 4411 in two sentences.", vector);
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(17)]
    [InlineData(257)]
    public void DotMatchesTheSchoolbookSum(int length)
    {
        var random = new Random(length);
        var a = Enumerable.Range(0, length).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();
        var b = Enumerable.Range(0, length).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();
        Assert.Equal(a.Zip(b, (x, y) => (double)x * y).Sum(), VectorMath.Dot(a, b), 4);
    }

    [Fact]
    public void TheFlatIndexFindsTheNearestAndForgetsRemovedEntries()
    {
        var index = new FlatIndex(s_embedder.Dimensions);
        Span<long> ids = stackalloc long[2];
        Span<float> scores = stackalloc float[2];
        Assert.Equal(0, index.Search(Embed("anything"), -1, ids, scores));
        string[] questions = ["What is the capital of France?", "How do I bake sourdough bread?", "Explain TCP slow start"];
        for (var i = 0; i < questions.Length; i++)
        {
            index.Add(i + 100, Embed(questions[i]));
        }
        for (var i = 0; i < 40; i++)
        {
            index.Add(1000 + i, Embed($"filler question number {i} about gardening"));
        }
        Assert.Equal(2, index.Search(Embed("tell me the capital city of France"), -1, ids, scores));
        Assert.Equal((100, true, true), (ids[0], scores[0] > 0.6f, scores[0] >= scores[1]));
        Assert.Equal(1, index.Search(Embed("explain slow start in TCP"), 0.6f, ids, scores));
        Assert.Equal(102, ids[0]);

        Assert.True(index.Remove(100));
        Assert.False(index.Remove(100));
        Assert.Equal(42, index.Count);
        index.Search(Embed("What is the capital of France?"), -1, ids, scores);
        Assert.NotEqual(100, ids[0]);
        Assert.True(scores[0] < 0.6f);
    }
}
