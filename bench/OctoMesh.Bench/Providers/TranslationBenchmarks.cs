using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using OctoMesh.Edge.Providers.Anthropic;
using OctoMesh.Edge.Providers.Gemini;
using OctoMesh.Edge.Providers.OpenAI;
using OctoMesh.Edge.Wire;
using OctoMesh.Edge.Providers;

namespace OctoMesh.Bench.Providers;

/// <summary>
/// What translation costs. Requests: the 4 KB agent request into Anthropic's format. Streams: 106
/// Anthropic events and 100 Gemini events into OpenAI chunks, and 104 OpenAI chunks into Anthropic events, each through
/// the same copy loop as pass-through (<c>SseEventScannerBenchmarks.CopyStream</c> is the baseline to
/// compare with). Divide by the event count for the cost per event.
/// </summary>
public class TranslationBenchmarks
{
    private readonly byte[] _request = Payloads.ChatRequest4K;
    private readonly byte[] _anthropicStream = Payloads.AnthropicStream100;
    private readonly byte[] _openAIStream = Payloads.ChatStream100;
    private readonly byte[] _geminiStream = Payloads.GeminiStream100;
    private readonly ArrayBufferWriter<byte> _output = new(8192);
    private readonly Pipe _sink = new(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));

    [Benchmark]
    public int OpenAIRequestToAnthropic()
    {
        _output.ResetWrittenCount();
        using var document = JsonDocument.Parse(_request);
        using var writer = new Utf8JsonWriter(_output, OpenAIError.WriterOptions);
        AnthropicRequestWriter.Write(document.RootElement, "claude-sonnet-4", 4096, writer);
        writer.Flush();
        return _output.WrittenCount;
    }

    [Benchmark]
    public Task<int> AnthropicStreamToOpenAI() => Translate(_anthropicStream, new AnthropicStreamTranslator(includeUsage: true));

    [Benchmark]
    public Task<int> GeminiStreamToOpenAI() => Translate(_geminiStream, new GeminiStreamTranslator(includeUsage: true, "gemini-2.5-flash"));

    [Benchmark]
    public Task<int> OpenAIStreamToAnthropic() => Translate(_openAIStream, new MessagesStreamTranslator());

    private async Task<int> Translate(byte[] upstream, SseStreamHandler handler)
    {
        using var stream = new MemoryStream(upstream, writable: false);
        var (_, usage) = await ResponseCopier.CopyStreamAsync(stream, _sink.Writer, handler, Timeout.InfiniteTimeSpan, CancellationToken.None, CancellationToken.None);
        var read = await _sink.Reader.ReadAsync();
        _sink.Reader.AdvanceTo(read.Buffer.End);
        return usage?.TotalTokens ?? 0;
    }
}
