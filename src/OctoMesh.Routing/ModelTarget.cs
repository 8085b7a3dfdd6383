namespace OctoMesh.Routing;

/// <summary>Where a model name goes: a provider (by index into <see cref="ModelAliasTable.Providers"/>) and the upstream name.</summary>
/// <param name="ProviderIndex">Index into the table's provider list; an array read, not a lookup, on the hot path.</param>
/// <param name="UpstreamModel">The name sent upstream; null to send the client's name unchanged.</param>
/// <param name="UpstreamModelJson">The upstream name as a JSON string token (quotes and escapes included), ready to splice into a body.</param>
public sealed record ModelTarget(int ProviderIndex, string? UpstreamModel, byte[]? UpstreamModelJson)
{
    public static ModelTarget Create(int providerIndex, string? upstreamModel) =>
        new(providerIndex, upstreamModel, upstreamModel is null ? null : JsonString(upstreamModel));

    private static byte[] JsonString(string value)
    {
        var encoded = System.Text.Json.JsonEncodedText.Encode(value);
        var bytes = new byte[encoded.EncodedUtf8Bytes.Length + 2];
        bytes[0] = (byte)'"';
        encoded.EncodedUtf8Bytes.CopyTo(bytes.AsSpan(1));
        bytes[^1] = (byte)'"';
        return bytes;
    }
}
