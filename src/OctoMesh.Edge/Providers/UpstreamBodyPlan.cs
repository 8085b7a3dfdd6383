using OctoMesh.Edge.Wire;
namespace OctoMesh.Edge.Providers;

/// <summary>
/// Decides the byte edits that turn a client body into the upstream body: the model alias becomes the
/// upstream name, and a stream asks the upstream for its usage chunk (which the gateway needs to meter
/// exactly) even when the client did not, in which case that chunk is removed on the way back.
/// </summary>
internal static class UpstreamBodyPlan
{
    private static readonly byte[] s_addStreamOptions = ",\"stream_options\":{\"include_usage\":true}"u8.ToArray();
    private static readonly byte[] s_streamOptionsObject = "{\"include_usage\":true}"u8.ToArray();
    private static readonly byte[] s_includeUsageFirst = "\"include_usage\":true,"u8.ToArray();
    private static readonly byte[] s_includeUsageOnly = "\"include_usage\":true"u8.ToArray();
    private static readonly byte[] s_true = "true"u8.ToArray();

    /// <summary>Fills <paramref name="edits"/> (length ≥ 2) and returns how many; sorted by offset.</summary>
    /// <param name="upstreamModelJson">The upstream model as a JSON string token, or null to keep the client's.</param>
    /// <param name="askForUsage">The upstream accepts <c>stream_options</c>: ask it for the usage chunk.</param>
    /// <param name="stripUsageChunk">Set when the gateway added <c>include_usage</c> and must remove the chunk it brings.</param>
    public static int Build(in InspectedRequest request, byte[]? upstreamModelJson, bool askForUsage, BodyEdit[] edits, out bool stripUsageChunk)
    {
        var count = 0;
        if (upstreamModelJson is not null)
        {
            edits[count++] = new BodyEdit(request.ModelStart, request.ModelLength, upstreamModelJson);
        }

        stripUsageChunk = askForUsage && request.Stream && !request.IncludeUsage;
        if (stripUsageChunk)
        {
            edits[count++] = request switch
            {
                { StreamOptionsStart: < 0 } => new BodyEdit(request.RootEnd, 0, s_addStreamOptions),
                { StreamOptionsIsNull: true } => new BodyEdit(request.StreamOptionsStart, 4, s_streamOptionsObject),
                { IncludeUsageStart: >= 0 } => new BodyEdit(request.IncludeUsageStart, request.IncludeUsageLength, s_true),
                { StreamOptionsIsEmpty: true } => new BodyEdit(request.StreamOptionsStart + 1, 0, s_includeUsageOnly),
                _ => new BodyEdit(request.StreamOptionsStart + 1, 0, s_includeUsageFirst),
            };
            if (count == 2 && edits[1].Offset < edits[0].Offset)
            {
                (edits[0], edits[1]) = (edits[1], edits[0]);
            }
        }
        return count;
    }
}
