namespace OctoMesh.Routing.Configuration;

/// <summary>
/// The <c>shutdown</c> section: how the gateway drains on SIGTERM. Fixed at start.
/// </summary>
/// <param name="DelayMs">After SIGTERM, how long it goes on serving new requests while <c>/readyz</c> says it is stopping,
/// so the load balancer (a Kubernetes Service's endpoints) stops sending before the listener closes.</param>
/// <param name="TimeoutMs">Then, how long requests in flight (streams too) may take to finish before they are cut.</param>
public sealed record ShutdownConfig(int DelayMs = 0, int TimeoutMs = 30_000);
