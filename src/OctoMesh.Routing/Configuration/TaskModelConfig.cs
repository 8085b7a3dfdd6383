namespace OctoMesh.Routing.Configuration;

/// <summary>
/// The <c>taskModel</c> section: the task classifier's second stage, asked when no rule of <c>tasks</c> decides —
/// the nearest of the centroids <c>octomesh train-classifier</c> learned from a labelled workload.
/// </summary>
/// <param name="Centroids">The centroid file.</param>
/// <param name="MinSimilarity">Below this cosine similarity to the nearest centroid, no task is detected.</param>
/// <param name="Vectors">The word-vector file, for centroids trained with the <c>vectors</c> embedder.</param>
public sealed record TaskModelConfig(string Centroids, double MinSimilarity = 0.5, string? Vectors = null);
