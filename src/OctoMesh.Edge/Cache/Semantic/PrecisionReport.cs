using System.Globalization;

namespace OctoMesh.Edge.Cache.Semantic;

/// <summary>One labelled pair: should an answer to <see cref="First"/> serve <see cref="Second"/>?</summary>
internal sealed record LabelledPair(bool ShouldHit, string Kind, string First, string Second);

/// <summary>How a threshold does on a labelled set: hits served right and wrong, hits missed.</summary>
internal sealed record ThresholdResult(float Threshold, int TruePositives, int FalsePositives, int FalseNegatives, int Misses,
    IReadOnlyDictionary<string, int> FalseHitsByKind)
{
    public double Precision => TruePositives + FalsePositives == 0 ? 1 : (double)TruePositives / (TruePositives + FalsePositives);

    public double Recall => TruePositives + FalseNegatives == 0 ? 0 : (double)TruePositives / (TruePositives + FalseNegatives);

    /// <summary>Of the pairs that must not hit, the share that did.</summary>
    public double FalseHitRate => Misses == 0 ? 0 : (double)FalsePositives / Misses;
}

/// <summary>
/// Measures the semantic cache on labelled pairs (tab-separated: <c>hit|miss</c>, kind, first prompt, second prompt):
/// each first prompt goes into a cache of its own, the second is looked up the way a request is (embedding at or
/// above the threshold and the same guard signature). <c>octomesh semantic-eval</c> prints it; the tests hold the
/// default thresholds to it.
/// </summary>
internal static class PrecisionReport
{
    public static IReadOnlyList<LabelledPair> Load(string path) =>
        [.. File.ReadLines(path)
            .Where(line => line.Length > 0 && !line.StartsWith('#'))
            .Select(line => line.Split('\t'))
            .Select(f => f.Length == 4 && f[0] is "hit" or "miss"
                ? new LabelledPair(f[0] == "hit", f[1], f[2], f[3])
                : throw new InvalidDataException($"{path}: expected 'hit|miss<TAB>kind<TAB>first<TAB>second', got '{string.Join('\t', f)}'"))];

    /// <summary>The result at each of <paramref name="thresholds"/>; without <paramref name="guards"/>, what the embedding alone does.</summary>
    public static async Task<IReadOnlyList<ThresholdResult>> EvaluateAsync(IEmbedder embedder, IReadOnlyList<LabelledPair> pairs, IReadOnlyList<float> thresholds,
        bool guards = true)
    {
        // Each pair's similarity and guard verdict once; then every threshold is a count.
        var cache = new SemanticCache(embedder, threshold: 0, maxEntries: 1);
        var similarities = new float[pairs.Count];
        var guardsPass = new bool[pairs.Count];
        for (var i = 0; i < pairs.Count; i++)
        {
            var first = await cache.PrepareAsync(pairs[i].First, default) ?? throw new InvalidOperationException($"the {embedder.Name} embedder failed");
            var second = await cache.PrepareAsync(pairs[i].Second, default) ?? throw new InvalidOperationException($"the {embedder.Name} embedder failed");
            similarities[i] = VectorMath.Dot(first.Vector, second.Vector);
            guardsPass[i] = !guards || QueryGuards.Agree(first.Guards, second.Guards);
        }
        var misses = pairs.Count(p => !p.ShouldHit);
        return [.. thresholds.Select(threshold =>
        {
            int truePositives = 0, falsePositives = 0, falseNegatives = 0;
            var byKind = new SortedDictionary<string, int>(StringComparer.Ordinal);
            for (var i = 0; i < pairs.Count; i++)
            {
                var hit = guardsPass[i] && similarities[i] >= threshold;
                if (pairs[i].ShouldHit)
                {
                    truePositives += hit ? 1 : 0;
                    falseNegatives += hit ? 0 : 1;
                }
                else if (hit)
                {
                    falsePositives++;
                    byKind[pairs[i].Kind] = byKind.GetValueOrDefault(pairs[i].Kind) + 1;
                }
            }
            return new ThresholdResult(threshold, truePositives, falsePositives, falseNegatives, misses, byKind);
        })];
    }

    /// <summary>
    /// Writes the pairs <paramref name="embedder"/> gets wrong at <paramref name="threshold"/>: wrong hits, then missed
    /// hits, each with its similarity and, when the guards stopped it, both signatures.
    /// </summary>
    public static async Task WriteMistakesAsync(TextWriter output, IEmbedder embedder, IReadOnlyList<LabelledPair> pairs, float threshold)
    {
        var cache = new SemanticCache(embedder, threshold, maxEntries: 1);
        foreach (var wanted in new[] { false, true })
        {
            foreach (var pair in pairs.Where(p => p.ShouldHit == wanted))
            {
                var first = (await cache.PrepareAsync(pair.First, default))!;
                var second = (await cache.PrepareAsync(pair.Second, default))!;
                var similarity = VectorMath.Dot(first.Vector, second.Vector);
                var guarded = !QueryGuards.Agree(first.Guards, second.Guards);
                if (wanted == (similarity >= threshold && !guarded))
                {
                    continue;
                }
                var guards = guarded ? $" guards [{Describe(first.Guards)}] [{Describe(second.Guards)}]" : "";
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{(wanted ? "missed" : "WRONG HIT")} {pair.Kind} {similarity:0.000}{guards}\n  {pair.First}\n  {pair.Second}"));
            }
        }
    }

    private static string Describe(GuardFacts facts) => $"{facts.Signature} {string.Join(' ', facts.Words)}";

    /// <summary>The thresholds a report shows: 0.60 to 0.98 in steps of 0.02.</summary>
    public static float[] Thresholds() => [.. Enumerable.Range(0, 20).Select(i => 0.60f + i * 0.02f)];

    /// <summary>A markdown table of <paramref name="results"/>, the row of <paramref name="marked"/> in bold.</summary>
    public static void WriteTable(TextWriter output, IReadOnlyList<ThresholdResult> results, float marked)
    {
        output.WriteLine("| threshold | precision | recall | false-hit rate | false hits by kind |");
        output.WriteLine("|---:|---:|---:|---:|---|");
        foreach (var r in results)
        {
            var bold = MathF.Abs(r.Threshold - marked) < 0.001f ? "**" : "";
            var kinds = r.FalseHitsByKind.Count == 0 ? "" : string.Join(", ", r.FalseHitsByKind.Select(k => $"{k.Key} {k.Value}"));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {bold}{r.Threshold:0.00}{bold} | {r.Precision:P1} | {r.Recall:P1} | {r.FalseHitRate:P1} ({r.FalsePositives}/{r.Misses}) | {kinds} |"));
        }
    }
}
