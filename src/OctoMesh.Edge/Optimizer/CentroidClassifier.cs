using System.Text.Json;
using OctoMesh.Edge.Cache.Semantic;
using OctoMesh.Routing.Configuration;
using OctoMesh.Routing.Table;

namespace OctoMesh.Edge.Optimizer;

/// <summary>
/// The task classifier's second stage: the last user turn embedded (<c>hash</c> or <c>vectors</c>, in process, in
/// about a microsecond) and compared with one centroid per task class — the normalized mean of the embeddings of a
/// labelled workload's items of that class. The nearest wins if it is at least <see cref="MinSimilarity"/> alike;
/// else no task is detected (the request routes as if none was declared).
/// </summary>
internal sealed class CentroidClassifier : ITaskModel
{
    private readonly ILocalEmbedder _embedder;
    private readonly (string Task, float[] Centroid)[] _centroids;

    private CentroidClassifier(ILocalEmbedder embedder, (string, float[])[] centroids, float minSimilarity)
    {
        _embedder = embedder;
        _centroids = centroids;
        MinSimilarity = minSimilarity;
    }

    public float MinSimilarity { get; }

    public IReadOnlyList<string> Tasks => [.. _centroids.Select(c => c.Task)];

    public string? Classify(in TaskEvidence evidence) => Nearest(evidence.LastUser) is { } nearest && nearest.Similarity >= MinSimilarity ? nearest.Task : null;

    /// <summary>The nearest class and its cosine similarity; null for text without words.</summary>
    private (string Task, float Similarity)? Nearest(ReadOnlySpan<char> text)
    {
        Span<float> vector = stackalloc float[_embedder.Dimensions];
        _embedder.Embed(text, vector);
        (string Task, float Similarity)? best = null;
        foreach (var (task, centroid) in _centroids)
        {
            var similarity = VectorMath.Dot(vector, centroid);
            if (best is null || similarity > best.Value.Similarity)
            {
                best = (task, similarity);
            }
        }
        return best is { Similarity: > 0 } ? best : null;
    }

    public static CentroidClassifier Train(IEnumerable<(string Task, string Text)> examples, ILocalEmbedder embedder, float minSimilarity = 0.5f)
    {
        var sums = new Dictionary<string, float[]>(StringComparer.Ordinal);
        var vector = new float[embedder.Dimensions];
        foreach (var (task, text) in examples)
        {
            embedder.Embed(text, vector);
            var sum = sums.TryGetValue(task, out var found) ? found : sums[task] = new float[embedder.Dimensions];
            for (var i = 0; i < vector.Length; i++)
            {
                sum[i] += vector[i];
            }
        }
        foreach (var sum in sums.Values)
        {
            VectorMath.Normalize(sum);
        }
        return new CentroidClassifier(embedder, [.. sums.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => (s.Key, s.Value))], minSimilarity);
    }

    public void Save(string path, int examples)
    {
        using var file = File.Create(path);
        using var json = new Utf8JsonWriter(file, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteString("embedder", _embedder.Name);
        json.WriteNumber("dimensions", _embedder.Dimensions);
        json.WriteNumber("examples", examples);
        json.WriteStartObject("centroids");
        foreach (var (task, centroid) in _centroids)
        {
            json.WriteStartArray(task);
            foreach (var value in centroid)
            {
                json.WriteNumberValue(MathF.Round(value, 6));
            }
            json.WriteEndArray();
        }
        json.WriteEndObject();
        json.WriteEndObject();
    }

    /// <summary>The classifier a configuration names; its embedder must be the one the centroids were trained with.</summary>
    /// <exception cref="InvalidDataException">The file is missing, damaged, or of another embedder than it can make.</exception>
    public static CentroidClassifier Load(TaskModelConfig config)
    {
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(config.Centroids));
            var root = document.RootElement;
            ILocalEmbedder embedder = root.GetProperty("embedder").GetString() switch
            {
                "hash" => new HashEmbedder(root.GetProperty("dimensions").GetInt32()),
                "vectors" => WordVectorEmbedder.Load(config.Vectors ?? throw new InvalidDataException("centroids of the vectors embedder need taskModel.vectors")),
                var other => throw new InvalidDataException($"the '{other}' embedder cannot classify in process: train with hash or vectors"),
            };
            var centroids = root.GetProperty("centroids").EnumerateObject()
                .Select(c => (c.Name, c.Value.EnumerateArray().Select(v => v.GetSingle()).ToArray())).ToArray();
            if (centroids.Length == 0 || centroids.Any(c => c.Item2.Length != embedder.Dimensions))
            {
                throw new InvalidDataException($"expected centroids of {embedder.Dimensions} dimensions");
            }
            return new CentroidClassifier(embedder, centroids, (float)config.MinSimilarity);
        }
        catch (Exception e) when (e is IOException or JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{config.Centroids}: {e.Message}", e);
        }
    }
}
