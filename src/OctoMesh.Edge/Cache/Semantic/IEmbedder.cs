namespace OctoMesh.Edge.Cache.Semantic;

/// <summary>Turns text into a unit-length vector, so that cosine similarity is a dot product.</summary>
internal interface IEmbedder
{
    /// <summary>The embedder's name in configuration and metrics (<c>hash</c>, <c>vectors</c>, <c>provider</c>).</summary>
    string Name { get; }

    int Dimensions { get; }

    /// <summary>Writes the embedding of <paramref name="text"/> into <paramref name="vector"/> (length <see cref="Dimensions"/>), L2-normalized; all zeros for text without words.</summary>
    void Embed(ReadOnlySpan<char> text, Span<float> vector);
}
