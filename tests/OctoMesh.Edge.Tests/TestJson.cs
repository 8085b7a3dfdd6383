using System.Text.Json.Serialization;

namespace OctoMesh.Edge.Tests;

[JsonSerializable(typeof(string))]
internal sealed partial class TestJson : JsonSerializerContext;
