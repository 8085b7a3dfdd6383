using Microsoft.Extensions.Hosting;

namespace OctoMesh.Edge.Kestrel;

/// <summary>
/// For a server hosted inside another (the simulator inside the gateway, a gateway inside a test): it
/// is started and stopped by its owner, not by process signals, so the owner decides the order.
/// </summary>
internal sealed class EmbeddedLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
