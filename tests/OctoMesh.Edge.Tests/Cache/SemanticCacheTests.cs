using System.Text;
using OctoMesh.Edge.Cache;
using OctoMesh.Edge.Cache.Semantic;

namespace OctoMesh.Edge.Tests.Cache;

/// <summary>The semantic cache's parts: the last user turn, the guards, the index, and its precision on the labelled pairs.</summary>
public class SemanticCacheTests
{
    private static readonly string s_pairs = Path.Combine(Programs.RepositoryRoot(), "tests", "data", "semantic-pairs.tsv");

    [Theory]
    [InlineData("""{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Capital of France?"}]}""", "Capital of France?")]
    [InlineData("""{"messages":[{"role":"user","content":[{"type":"text","text":"Capital"},{"type":"text","text":"of France?"}]}],"model":"m"}""", "Capital\nof France?")]
    [InlineData("""{"model":"m","max_tokens":9,"messages":[{"role":"user","content":[{"type":"text","text":"Caf\u00e9 \"au lait\"?","cache_control":{"type":"ephemeral"}}]}]}""", "Café \"au lait\"?")]
    public void TheLastUserTurnIsFoundInEitherApisShape(string body, string expected)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        Assert.True(LastUserTurn.TryFind(bytes, out var text, out var turn));
        Assert.Equal(expected, text);
        Assert.StartsWith("{\"role\":\"user\"", Encoding.UTF8.GetString(bytes[turn]));
        Assert.EndsWith("}", Encoding.UTF8.GetString(bytes[turn]));
    }

    [Theory]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello"}]}""")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:,"}},{"type":"text","text":"What is this?"}]}]}""")]
    [InlineData("""{"model":"m","messages":[]}""")]
    [InlineData("""{"model":"m","prompt":"Hi"}""")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":""}]}""")]
    public void OnlyATextUserTurnAtTheEndIsComparedByMeaning(string body) =>
        Assert.False(LastUserTurn.TryFind(Encoding.UTF8.GetBytes(body), out _, out _));

    [Fact]
    public void ThePartitionIsTheRequestWithoutItsLastUserTurn()
    {
        static string Partition(string body)
        {
            var bytes = Encoding.UTF8.GetBytes(body);
            Assert.True(LastUserTurn.TryFind(bytes, out _, out var turn));
            return ExactCacheKey.Key(ExactCacheKey.Digest(bytes, turn), "w", "any|semantic", "p", "m");
        }
        var one = Partition("""{"model":"m","temperature":0,"messages":[{"role":"system","content":"S"},{"role":"user","content":"How do I reset my password?"}]}""");
        Assert.Equal(one, Partition("""{"model":"m","temperature":0,"messages":[{"role":"system","content":"S"},{"role":"user","content":"password reset, how?"}]}"""));
        // Another system prompt, earlier turn or parameter is another partition.
        Assert.NotEqual(one, Partition("""{"model":"m","temperature":0,"messages":[{"role":"system","content":"T"},{"role":"user","content":"How do I reset my password?"}]}"""));
        Assert.NotEqual(one, Partition("""{"model":"m","temperature":1,"messages":[{"role":"system","content":"S"},{"role":"user","content":"How do I reset my password?"}]}"""));
        Assert.NotEqual(one, Partition("""{"model":"m","temperature":0,"messages":[{"role":"user","content":"S"},{"role":"user","content":"How do I reset my password?"}]}"""));
    }

    [Theory]
    [InlineData("What is 17% of 240?", "what is 17 % of 240", true)]
    [InlineData("What is two plus two?", "What is 2 plus 2?", true)]
    [InlineData("Where do I find my invoices??", "where can i find my invoice", true)]
    [InlineData("How do I reset my password?", "how do i reset my pasword", true)]
    [InlineData("What caused the French Revolution?", "What were the causes of the French revolution", true)]
    [InlineData("What is 17% of 240?", "What is 17% of 420?", false)]
    [InlineData("Set an alarm for 7:30 am", "Set an alarm for 7:30 pm", false)]
    [InlineData("List fruits that are red", "List fruits that are not red", false)]
    [InlineData("Why does my build fail?", "Why doesn't my build fail?", false)]
    [InlineData("Sort the list in ascending order", "Sort the list in descending order", false)]
    [InlineData("What is the chemical symbol for gold?", "What is the chemical symbol for silver?", false)]
    [InlineData("Capital of Australia?", "Capital of Austria?", false)]
    [InlineData("Convert 10 miles to kilometers", "Convert 10 kilometers to miles", false)]
    [InlineData("What does `a + b` return?", "What does `a * b` return?", false)]
    [InlineData("What does echo '$HOME' print?", "What does echo \"$HOME\" print?", false)]
    [InlineData("How do I make my repository public?", "How do I make my repository private?", false)]
    public void GuardsKeepApartWhatEmbeddingsBringTogether(string first, string second, bool agree) =>
        Assert.Equal(agree, QueryGuards.Agree(QueryGuards.Analyze(first), QueryGuards.Analyze(second)));

    [Fact]
    public void TheIndexFindsTheClosestNeighbourThatPassesTheGuardsAndForgets()
    {
        var cache = new SemanticCache(new HashEmbedder(), threshold: 0.6f, maxEntries: 3);
        var ttl = TimeSpan.FromMinutes(1);
        cache.Add("p", "w1", cache.Prepare("What is 17% of 240?"), "k240", ttl);
        cache.Add("p", "w1", cache.Prepare("What is 17% of 420?"), "k420", ttl);
        cache.Add("other", "w2", cache.Prepare("Where is my invoice?"), "kinvoice", ttl);

        var match = cache.Find("p", cache.Prepare("what is 17 % of 420"));
        Assert.Equal("k420", match?.AnswerKey);
        Assert.InRange(match!.Value.Similarity, 0.6f, 1f);
        Assert.Null(cache.Find("p", cache.Prepare("What is 17% of 999?")));
        Assert.Null(cache.Find("p", cache.Prepare("Where is my invoice?")));
        Assert.Equal("kinvoice", cache.Find("other", cache.Prepare("where is my invoice"))?.AnswerKey);
        // A threshold of its own for one lookup (a reload changes it).
        Assert.Null(cache.Find("p", cache.Prepare("what is 17 % of 420"), threshold: 1.01f));

        cache.Forget("p", "k420");
        Assert.Null(cache.Find("p", cache.Prepare("What is 17% of 420?")));
        cache.Purge("w2");
        Assert.Null(cache.Find("other", cache.Prepare("Where is my invoice?")));
        Assert.Equal(1, cache.Count);

        // Bounded: the oldest leave first.
        cache.Add("p", "w1", cache.Prepare("Capital of France?"), "kfrance", ttl);
        cache.Add("p", "w1", cache.Prepare("Capital of Spain?"), "kspain", ttl);
        cache.Add("p", "w1", cache.Prepare("Capital of Italy?"), "kitaly", ttl);
        Assert.Equal(3, cache.Count);
        Assert.Null(cache.Find("p", cache.Prepare("What is 17% of 240?")));
        Assert.Equal("kitaly", cache.Find("p", cache.Prepare("capital of italy"))?.AnswerKey);

        // Expired entries are not served.
        cache.Add("q", "w1", cache.Prepare("Capital of Peru?"), "kperu", TimeSpan.Zero);
        Assert.Null(cache.Find("q", cache.Prepare("Capital of Peru?")));

        // A partition whose last entry leaves goes too: one per conversation turn must not pile up.
        for (var i = 0; i < 1000; i++)
        {
            cache.Add($"turn-{i}", "w1", cache.Prepare($"Question {i}"), $"t{i}", ttl);
        }
        Assert.Equal((3, 3), (cache.Count, cache.Partitions));
        cache.Add("turn-999", "w1", cache.Prepare("Question again"), "again", ttl);
        Assert.Equal("again", cache.Find("turn-999", cache.Prepare("question again"))?.AnswerKey);
    }

    [Fact]
    public void WordVectorsComeFromTheBuiltFile()
    {
        var embedder = WordVectorEmbedder.Load(Programs.WordVectors());
        Assert.Equal((100, 100_000), (embedder.Dimensions, embedder.Words));
        float Similarity(string a, string b)
        {
            float[] x = new float[100], y = new float[100];
            embedder.Embed(a, x);
            embedder.Embed(b, y);
            return VectorMath.Dot(x, y);
        }
        // Related words are near, unrelated far; frequent words weigh little; an unknown word matches only itself.
        Assert.True(Similarity("automobile", "car") > Similarity("automobile", "banana") + 0.3f);
        Assert.True(Similarity("the cat", "a cat") > 0.95f);
        Assert.Equal(1f, Similarity("zqxwv", "zqxwv"), 4);
        Assert.True(Similarity("zqxwv", "vwxqz") < 0.5f);
        var bad = Path.GetTempFileName();
        File.WriteAllText(bad, "not vectors");
        Assert.Throws<InvalidDataException>(() => WordVectorEmbedder.Load(bad));
        File.Delete(bad);
    }

    /// <summary>
    /// The issue's bar on the labelled pairs (docs/semantic-cache.md has the full tables): at each embedder's default
    /// threshold, at most 1% of the pairs that must not hit do, and recall stays at least what was measured when the
    /// default was chosen (so a change that buys precision with recall shows here).
    /// </summary>
    [Theory]
    [InlineData("hash", 0.15)]
    [InlineData("vectors", 0.25)]
    public async Task AtTheDefaultThresholdAtMostOnePercentOfNearMissesHit(string name, double leastRecall)
    {
        var pairs = PrecisionReport.Load(s_pairs);
        Assert.True(pairs.Count >= 300, $"{pairs.Count} pairs");
        Assert.True(pairs.Count(p => !p.ShouldHit) >= 150);
        foreach (var kind in new[] { "number", "entity", "negation", "language", "code", "topic" })
        {
            Assert.Contains(pairs, p => p.Kind == kind);
        }
        var cache = Embedders.Create(new(name, Vectors: name == "vectors" ? Programs.WordVectors() : null));
        var result = (await PrecisionReport.EvaluateAsync(cache.Embedder, pairs, [cache.Threshold])).Single();
        Assert.True(result.FalseHitRate <= 0.01, $"{name}: false-hit rate {result.FalseHitRate:P1} ({string.Join(", ", result.FalseHitsByKind)})");
        Assert.True(result.Recall >= leastRecall, $"{name}: recall {result.Recall:P1}");
    }
}
