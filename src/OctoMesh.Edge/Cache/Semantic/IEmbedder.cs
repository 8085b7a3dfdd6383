namespace OctoMesh.Edge.Cache.Semantic;

/// <summary>Turns text into a unit-length vector, so that cosine similarity is a dot product.</summary>
internal interface IEmbedder
{
    /// <summary>
    /// The embedder's name (<c>hash</c>, <c>vectors</c>, <c>provider:MODEL</c>): replicas share index entries only
    /// with the same name, since vectors of two embedders do not compare.
    /// </summary>
    string Name { get; }

    int Dimensions { get; }

    /// <summary>Writes the embedding of <paramref name="text"/> into <paramref name="vector"/> (length <see cref="Dimensions"/>), L2-normalized; false when it could not (the lookup is skipped).</summary>
    ValueTask<bool> EmbedAsync(string text, float[] vector, CancellationToken cancellationToken);
}

/// <summary>An embedder that computes in process, without waiting: all zeros for text without words.</summary>
internal interface ILocalEmbedder : IEmbedder
{
    void Embed(ReadOnlySpan<char> text, Span<float> vector);

    ValueTask<bool> IEmbedder.EmbedAsync(string text, float[] vector, CancellationToken cancellationToken)
    {
        Embed(text, vector);
        return ValueTask.FromResult(true);
    }
}
