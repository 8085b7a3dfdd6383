using System.Text.Json.Serialization;

namespace OctoMesh.Edge.Wire;

/// <summary>OpenAI's <c>GET /v1/models</c> response: the aliases this gateway serves.</summary>
internal sealed record ModelList(
    [property: JsonPropertyName("object")] string Object,
    [property: JsonPropertyName("data")] IReadOnlyList<ModelEntry> Data);

internal sealed record ModelEntry(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("object")] string Object,
    [property: JsonPropertyName("created")] long Created,
    [property: JsonPropertyName("owned_by")] string OwnedBy);

/// <summary>Source-generated serialization: no reflection, AOT-safe.</summary>
[JsonSerializable(typeof(ModelList))]
internal sealed partial class EdgeJsonContext : JsonSerializerContext;
