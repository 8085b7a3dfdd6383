namespace OctoMesh.Edge.Simulator;

/// <summary>
/// Reads a request for the simulator so that any JSON a client can send gets the provider's 400,
/// never a crash: a field of an unexpected type is refused like a missing one.
/// </summary>
internal static class SimParse
{
    public delegate SimChatRequest? Parser(out string? error);

    public static SimChatRequest? Safely(Parser parse, out string? error)
    {
        try
        {
            return parse(out error);
        }
        catch (Exception e) when (e is InvalidOperationException or KeyNotFoundException or FormatException or IndexOutOfRangeException)
        {
            error = $"Invalid request: a field has a type the API does not allow ({e.Message})";
            return null;
        }
    }
}
