using System.Buffers;

namespace OctoMesh.Edge.Wire;

/// <summary>One server-sent event as it stands in the buffer: its raw bytes and where its data is.</summary>
/// <param name="Raw">The whole event, its terminating blank line included: what is copied to the client.</param>
/// <param name="FirstData">The value of the first <c>data:</c> line (one leading space removed).</param>
/// <param name="DataLines">How many <c>data:</c> lines the event has; 0 for a comment or a stray blank line.</param>
internal readonly record struct SseEvent(ReadOnlySequence<byte> Raw, ReadOnlySequence<byte> FirstData, int DataLines)
{
    public bool HasData => DataLines > 0;
}
