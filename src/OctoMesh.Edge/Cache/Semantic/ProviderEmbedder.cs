using System.Buffers;
using System.Net.Http.Headers;
using System.Text.Json;
using OctoMesh.Edge.Providers;

namespace OctoMesh.Edge.Cache.Semantic;

/// <summary>
/// The <c>provider</c> embedder: an OpenAI-format embeddings endpoint (<c>POST {baseUrl}/embeddings</c> with
/// <c>{"model","input"}</c>), which OpenAI, a local TEI or Ollama server and the simulator all serve. Its own
/// connection pool to the configured provider; a call that fails, is slow past <paramref name="timeout"/> or brings
/// a vector of another length is counted and the lookup skipped (the request goes on as a miss).
/// </summary>
internal sealed class ProviderEmbedder(UpstreamProvider provider, string model, int dimensions, TimeSpan timeout) : IEmbedder, IDisposable
{
    private static readonly MediaTypeHeaderValue s_json = new("application/json");
    private long _errors;

    public string Name { get; } = "provider:" + model;

    public int Dimensions { get; } = dimensions;

    /// <summary>Calls that failed; each skipped one semantic lookup.</summary>
    public long Errors => Interlocked.Read(ref _errors);

    public async ValueTask<bool> EmbedAsync(string text, float[] vector, CancellationToken cancellationToken)
    {
        var body = new ArrayBufferWriter<byte>(text.Length + 64);
        using (var writer = new Utf8JsonWriter(body))
        {
            writer.WriteStartObject();
            writer.WriteString("model", model);
            writer.WriteString("input", text);
            writer.WriteEndObject();
        }
        var content = new ReadOnlyMemoryContent(body.WrittenMemory);
        content.Headers.ContentType = s_json;
        using var request = provider.CreateRequest(provider.EmbeddingsEndpoint!, content);
        request.Headers.Authorization = provider.BearerAuthorization;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            using var response = await provider.Invoker.SendAsync(request, deadline.Token);
            if (response.IsSuccessStatusCode)
            {
                await using var stream = await response.Content.ReadAsStreamAsync(deadline.Token);
                using var document = await JsonDocument.ParseAsync(stream, cancellationToken: deadline.Token);
                var embedding = document.RootElement.GetProperty("data")[0].GetProperty("embedding");
                if (embedding.ValueKind == JsonValueKind.Array && embedding.GetArrayLength() == Dimensions)
                {
                    var i = 0;
                    foreach (var x in embedding.EnumerateArray())
                    {
                        vector[i++] = x.GetSingle();
                    }
                    VectorMath.Normalize(vector);
                    return true;
                }
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Down, cut, slow, or not an embeddings answer: counted below, and the request goes on without the lookup
            // (only the client's own leaving propagates).
        }
        Interlocked.Increment(ref _errors);
        return false;
    }

    public void Dispose() => provider.Dispose();
}
