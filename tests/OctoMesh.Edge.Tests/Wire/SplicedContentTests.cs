using System.Text;
using OctoMesh.Edge.Wire;

namespace OctoMesh.Edge.Tests.Wire;

public class SplicedContentTests
{
    private static SplicedContent Content() => new(Encoding.UTF8.GetBytes("""{"model":"a"}"""), [new BodyEdit(9, 3, "\"bb\""u8.ToArray())], 1);

    [Fact]
    public async Task WritesTheEditsAndKnowsItsLength()
    {
        using var content = Content();
        Assert.Equal("""{"model":"bb"}""", await content.ReadAsStringAsync());
        Assert.Equal(14, content.Headers.ContentLength);
    }

    [Fact]
    public async Task ReleasesOnlyWhenNoSendReadsTheBody()
    {
        using var unsent = Content();
        Assert.True(unsent.TryRelease());
        // Released before any send: a late send fails rather than read a reused array.
        var late = await Assert.ThrowsAsync<HttpRequestException>(() => unsent.CopyToAsync(new MemoryStream()));
        Assert.IsType<ObjectDisposedException>(late.InnerException);

        using var sent = Content();
        await sent.CopyToAsync(new MemoryStream());
        await sent.CopyToAsync(new MemoryStream()); // a retry on a fresh connection sends again
        Assert.True(sent.TryRelease());

        using var sending = Content();
        var blocked = new BlockingStream();
        var send = sending.CopyToAsync(blocked);
        await blocked.Started.Task;
        Assert.False(sending.TryRelease());
        blocked.Release.SetResult();
        await send;
    }

    /// <summary>Holds the first write until released, to catch a send in the middle.</summary>
    private sealed class BlockingStream : MemoryStream
    {
        public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Started.TrySetResult();
            await Release.Task;
            await base.WriteAsync(buffer, cancellationToken);
        }
    }
}
