using OctoMesh.Edge.Cache;

namespace OctoMesh.Edge.Tests.Cache;

/// <summary>The bytes of a leader's stream as its followers read them.</summary>
public class LiveAnswerTests
{
    [Fact]
    public async Task FollowersReadEveryByteFromTheStartAndLearnHowItEnded()
    {
        var live = new LiveAnswer();
        var started = live.WaitStartAsync(CancellationToken.None);
        Assert.False(started.IsCompleted);
        live.Start(200, "text/event-stream", "p", "m");
        await started;

        live.Append("data: one\n\n"u8);
        var first = await live.ReadAsync(0, CancellationToken.None);
        Assert.Equal("data: one\n\n"u8.ToArray(), first.ToArray());
        var waiting = live.ReadAsync(first.Length, CancellationToken.None).AsTask();
        Assert.False(waiting.IsCompleted);
        live.Append("data: two\n\n"u8);
        Assert.Equal("data: two\n\n"u8.ToArray(), (await waiting).ToArray());

        // A late follower starts from the first byte; after the end, reads come back empty.
        live.Finish(whole: true);
        Assert.Equal(22, (await live.ReadAsync(0, CancellationToken.None)).Length);
        Assert.True((await live.ReadAsync(22, CancellationToken.None)).IsEmpty);
        Assert.True(live.Whole);
    }

    [Fact]
    public async Task AnAnswerPastTheLimitEndsNotWholeAndALeaderThatNeverStartedReleasesItsFollowers()
    {
        var live = new LiveAnswer();
        live.Start(200, "text/event-stream", "p", "m");
        live.Append(new byte[LiveAnswer.Limit - 1]);
        live.Append(new byte[2]);
        Assert.Equal((true, false), (live.Finished, live.Whole));
        Assert.Equal(LiveAnswer.Limit - 1, (await live.ReadAsync(0, CancellationToken.None)).Length);

        var failed = new LiveAnswer();
        var waiting = failed.WaitStartAsync(CancellationToken.None);
        failed.Finish(whole: false);
        await waiting;
        Assert.False(failed.Started);
    }
}
