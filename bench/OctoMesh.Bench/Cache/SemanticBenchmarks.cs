using BenchmarkDotNet.Attributes;
using OctoMesh.Edge.Cache;
using OctoMesh.Edge.Cache.Semantic;

namespace OctoMesh.Bench.Cache;

/// <summary>
/// The semantic cache's lookup as a request makes it: embed the last user turn with <c>hash</c>, analyse it for the
/// guards, and search one partition of N questions (a scan up to 2,048, the graph above). Aim: ≤ 200 µs at 100k.
/// </summary>
public class SemanticBenchmarks
{
    private const string Prompt = "Summarise this support ticket about a refund for order 4411 in two sentences, politely.";
    private readonly HashEmbedder _embedder = new();
    private readonly float[] _query = new float[HashEmbedder.DefaultDimensions];
    private SemanticCache _cache = null!;

    [Params(1_000, 100_000)]
    public int Entries { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _cache = new SemanticCache(_embedder, threshold: 0.66f, maxEntries: Entries);
        for (var i = 0; i < Entries; i++)
        {
            _cache.Add("partition", "w", _cache.Prepare($"support ticket {i}: customer {i % 97} asks about invoice {i * 7} and shipping to city {i % 13}"),
                $"k{i}", TimeSpan.FromHours(1));
        }
    }

    [Benchmark]
    public void Embed() => _embedder.Embed(Prompt, _query);

    /// <summary>Embed, guards, search: the whole lookup of a question that is not there.</summary>
    [Benchmark]
    public bool Lookup() => _cache.Find("partition", _cache.Prepare(Prompt)) is null;
}

/// <summary>The <c>vectors</c> embedder on a short prompt (needs artifacts/vectors/wink-100d.omv or OCTOMESH_VECTORS).</summary>
public class WordVectorBenchmarks
{
    private const string Prompt = "Summarise this support ticket about a refund for order 4411 in two sentences, politely.";
    private readonly float[] _query = new float[100];
    private WordVectorEmbedder _embedder = null!;

    [GlobalSetup]
    public void Setup() => _embedder = WordVectorEmbedder.Load(Environment.GetEnvironmentVariable("OCTOMESH_VECTORS") ?? "artifacts/vectors/wink-100d.omv");

    [Benchmark]
    public void Embed() => _embedder.Embed(Prompt, _query);
}

/// <summary>The exact cache's lookup: the key over a request body, then the in-process level (aim: ≤ 5 µs).</summary>
public class ExactCacheKeyBenchmarks
{
    private static readonly byte[] s_chat1K = System.Text.Encoding.UTF8.GetBytes(
        """{"model":"gpt-4o-mini","temperature":0.2,"messages":[{"role":"system","content":"You are the support assistant of an online shop. Answer in two sentences, politely, and never promise refunds you cannot see in the order history."},{"role":"user","content":"Hello! I ordered a pair of running shoes last week (order 4411) and they arrived in the wrong size. The box is unopened. Can I exchange them for a size 43, and will I have to pay for shipping again? Also, how long does an exchange usually take? Thank you very much for your help, I need them for a race on the 14th."}],"max_tokens":256}""");
    private ExactCache _cache = null!;
    private string _stored = "";

    [GlobalSetup]
    public void Setup()
    {
        _cache = new ExactCache(64 << 20);
        _stored = ExactCacheKey.Key(ExactCacheKey.Digest(s_chat1K), "team-a", "json", "openai", "gpt-4o-mini");
        _cache.Set(_stored, new CachedAnswer(new byte[2048], "application/json", false, "openai", "gpt-4o-mini", "team-a"), TimeSpan.FromHours(1));
    }

    [GlobalCleanup]
    public void Cleanup() => _cache.DisposeAsync().AsTask().Wait();

    [Benchmark]
    public UInt128 Digest4K() => ExactCacheKey.Digest(Payloads.ChatRequest4K);

    /// <summary>A hit on a 1 KB chat request: digest, key, in-process get.</summary>
    [Benchmark]
    public bool Lookup1K() =>
        _cache.GetAsync(ExactCacheKey.Key(ExactCacheKey.Digest(s_chat1K), "team-a", "json", "openai", "gpt-4o-mini")).Result is not null;
}
