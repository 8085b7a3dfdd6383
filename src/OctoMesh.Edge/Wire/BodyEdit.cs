namespace OctoMesh.Edge.Wire;

/// <summary>Replace <paramref name="Length"/> bytes at <paramref name="Offset"/> of a body with <paramref name="Insert"/> (Length 0 inserts).</summary>
internal readonly record struct BodyEdit(int Offset, int Length, ReadOnlyMemory<byte> Insert);
