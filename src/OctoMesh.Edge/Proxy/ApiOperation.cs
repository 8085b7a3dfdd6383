namespace OctoMesh.Edge.Proxy;

/// <summary>The OpenAI-format operations the front door accepts.</summary>
internal enum ApiOperation
{
    ChatCompletions,
    Embeddings,
}
