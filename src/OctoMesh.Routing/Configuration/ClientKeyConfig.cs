namespace OctoMesh.Routing.Configuration;

/// <summary>A client key, known only by the SHA-256 of its text.</summary>
/// <param name="Name">A label for logs and metrics; never the key.</param>
/// <param name="Sha256">The 32-byte SHA-256 of the UTF-8 key.</param>
/// <param name="Workspace">The workspace the key acts for.</param>
public sealed record ClientKeyConfig(string Name, byte[] Sha256, string Workspace);
