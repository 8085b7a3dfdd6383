using System.IO.Pipelines;
using System.Text;
using OctoMesh.Edge.Providers.OpenAI;
using OctoMesh.Edge.Wire;
using OctoMesh.Edge.Providers;

namespace OctoMesh.Edge.Tests.Providers;

public class ResponseCopierTests
{
    private const string Chunk = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\n";
    private const string UsageChunk = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,\"total_tokens\":4}}\n\n";
    private const string Done = "data: [DONE]\n\n";

    /// <summary>An upstream that hands out its bytes a few at a time, so events straddle reads.</summary>
    private sealed class TricklingStream(byte[] bytes, int step, bool breakAtEnd = false) : Stream
    {
        private int _position;

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_position == bytes.Length && breakAtEnd)
            {
                throw new IOException("connection reset");
            }
            var n = Math.Min(Math.Min(step, buffer.Length), bytes.Length - _position);
            bytes.AsSpan(_position, n).CopyTo(buffer.Span);
            _position += n;
            return ValueTask.FromResult(n);
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private static async Task<(string Output, ProxyOutcome Outcome, TokenUsage? Usage)> CopyStream(string upstream, bool strip, int step, bool breakAtEnd = false)
    {
        var output = new MemoryStream();
        var writer = PipeWriter.Create(output);
        var (outcome, usage) = await ResponseCopier.CopyStreamAsync(
            new TricklingStream(Encoding.UTF8.GetBytes(upstream), step, breakAtEnd), writer, new OpenAIStreamHandler(strip), Timeout.InfiniteTimeSpan, CancellationToken.None, CancellationToken.None);
        await writer.CompleteAsync();
        return (Encoding.UTF8.GetString(output.ToArray()), outcome, usage);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(4096)]
    public async Task StripsTheUsageChunkTheClientDidNotAskFor(int step)
    {
        var (output, outcome, usage) = await CopyStream(Chunk + Chunk + UsageChunk + Done, strip: true, step);
        Assert.Equal(Chunk + Chunk + Done, output);
        Assert.Equal(ProxyOutcome.Completed, outcome);
        Assert.Equal(new TokenUsage(3, 1, 4, 0, 0), usage);
    }

    [Fact]
    public async Task KeepsTheUsageChunkTheClientAskedFor()
    {
        var (output, _, usage) = await CopyStream(Chunk + UsageChunk + Done, strip: false, 5);
        Assert.Equal(Chunk + UsageChunk + Done, output);
        Assert.Equal(3, usage?.PromptTokens);
    }

    [Fact]
    public async Task ABrokenStreamEndsWithAnErrorEvent()
    {
        var (output, outcome, _) = await CopyStream(Chunk + "data: {\"choi", strip: true, 16, breakAtEnd: true);
        Assert.Equal(ProxyOutcome.UpstreamCut, outcome);
        Assert.StartsWith(Chunk, output);
        Assert.EndsWith("\"code\":\"upstream_stream_cut\"}}\n\n", output);
    }

    [Fact]
    public async Task AStreamThatEndsWithoutDoneIsCut()
    {
        var (output, outcome, _) = await CopyStream(Chunk, strip: false, 64);
        Assert.Equal(ProxyOutcome.UpstreamCut, outcome);
        Assert.StartsWith(Chunk + "data: {\"error\":", output);
    }

    [Fact]
    public async Task BodyIsCopiedWholeAndUsageReadFromItsTail()
    {
        var body = "{\"id\":\"x\",\"choices\":[{\"message\":{\"content\":\"" + new string('a', 10_000) + "\"}}],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11},\"system_fingerprint\":\"fp\"}";
        var output = new MemoryStream();
        var writer = PipeWriter.Create(output);
        var (outcome, usage) = await ResponseCopier.CopyBodyAsync(new TricklingStream(Encoding.UTF8.GetBytes(body), 333), writer, readUsage: true,
            CancellationToken.None, CancellationToken.None);
        await writer.CompleteAsync();
        Assert.Equal(body, Encoding.UTF8.GetString(output.ToArray()));
        Assert.Equal(ProxyOutcome.Completed, outcome);
        Assert.Equal(new TokenUsage(9, 2, 11, 0, 0), usage);
    }

    [Fact]
    public async Task AStreamThatGoesSilentEndsWithAnErrorEventAfterItsIdleTimeout()
    {
        // The upstream sends one event and then nothing, without closing: the idle timeout ends the stream, the total deadline never fires.
        var upstream = new Pipe();
        await upstream.Writer.WriteAsync(Encoding.UTF8.GetBytes("data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n"));
        var output = new MemoryStream();
        var writer = PipeWriter.Create(output);
        var (outcome, _) = await ResponseCopier.CopyStreamAsync(upstream.Reader.AsStream(), writer, new OpenAIStreamHandler(false),
            TimeSpan.FromMilliseconds(200), CancellationToken.None, CancellationToken.None);
        await writer.CompleteAsync();
        Assert.Equal(ProxyOutcome.UpstreamTimeout, outcome);
        var text = Encoding.UTF8.GetString(output.ToArray());
        Assert.StartsWith("data: {\"id\":\"c1\"", text);
        Assert.Contains("\"error\"", text);
        await upstream.Writer.CompleteAsync();
    }
}
