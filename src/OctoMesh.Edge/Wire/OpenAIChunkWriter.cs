using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;

namespace OctoMesh.Edge.Wire;

/// <summary>
/// Writes OpenAI chat-completion chunks (<c>data: {…}\n\n</c>) for a translated stream, field for field
/// as OpenAI frames them. Strings arrive as raw JSON string contents (already escaped by the
/// upstream) and are copied as they are: a chunk costs its output bytes and no heap allocation.
/// </summary>
internal sealed class OpenAIChunkWriter(bool includeUsage)
{
    private static readonly byte[] s_done = "data: [DONE]\n\n"u8.ToArray();

    /// <summary><c>data: {"id":"…","object":"chat.completion.chunk","created":…,"model":"…",</c></summary>
    private byte[] _head = [];

    public bool HasStarted => _head.Length > 0;

    /// <summary>Fixes the chunks' id and model (raw JSON string contents) and writes the role chunk.</summary>
    public void Start(PipeWriter client, ReadOnlySpan<byte> rawId, ReadOnlySpan<byte> rawModel)
    {
        var head = new ArrayBufferWriter<byte>(128 + rawId.Length + rawModel.Length);
        head.Write("data: {\"id\":\""u8);
        head.Write(rawId);
        head.Write("\",\"object\":\"chat.completion.chunk\",\"created\":"u8);
        WriteNumber(head, DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        head.Write(",\"model\":\""u8);
        head.Write(rawModel);
        head.Write("\","u8);
        _head = head.WrittenSpan.ToArray();
        WriteDelta(client, "{\"role\":\"assistant\",\"content\":\"\"}"u8, ReadOnlySpan<byte>.Empty);
    }

    public void WriteText(PipeWriter client, ReadOnlySpan<byte> rawText)
    {
        client.Write(_head);
        client.Write("\"choices\":[{\"index\":0,\"delta\":{\"content\":\""u8);
        client.Write(rawText);
        client.Write("\"},"u8);
        EndChoice(client, ReadOnlySpan<byte>.Empty);
    }

    /// <summary>A tool call's first chunk: index, id and name, empty arguments.</summary>
    public void WriteToolStart(PipeWriter client, int tool, ReadOnlySpan<byte> rawId, ReadOnlySpan<byte> rawName)
    {
        client.Write(_head);
        client.Write("\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":"u8);
        WriteNumber(client, tool);
        client.Write(",\"id\":\""u8);
        client.Write(rawId);
        client.Write("\",\"type\":\"function\",\"function\":{\"name\":\""u8);
        client.Write(rawName);
        client.Write("\",\"arguments\":\"\"}}]},"u8);
        EndChoice(client, ReadOnlySpan<byte>.Empty);
    }

    /// <summary>A fragment of a tool call's arguments, as an already-escaped JSON string content.</summary>
    public void WriteArguments(PipeWriter client, int tool, ReadOnlySpan<byte> rawJson)
    {
        client.Write(_head);
        client.Write("\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":"u8);
        WriteNumber(client, tool);
        client.Write(",\"function\":{\"arguments\":\""u8);
        client.Write(rawJson);
        client.Write("\"}}]},"u8);
        EndChoice(client, ReadOnlySpan<byte>.Empty);
    }

    /// <summary>The finish chunk, then the usage chunk when the client asked for it, then <c>[DONE]</c>.</summary>
    public void Finish(PipeWriter client, ReadOnlySpan<byte> finishReason, TokenUsage usage)
    {
        WriteDelta(client, "{}"u8, finishReason);
        if (includeUsage)
        {
            client.Write(_head);
            client.Write("\"choices\":[],\"usage\":"u8);
            OpenAIUsageJson.Write(client, usage);
            client.Write("}\n\n"u8);
        }
        client.Write(s_done);
    }

    private void WriteDelta(PipeWriter client, ReadOnlySpan<byte> delta, ReadOnlySpan<byte> finishReason)
    {
        client.Write(_head);
        client.Write("\"choices\":[{\"index\":0,\"delta\":"u8);
        client.Write(delta);
        client.Write(","u8);
        EndChoice(client, finishReason);
    }

    /// <summary><c>"logprobs":null,"finish_reason":…}]</c>, <c>"usage":null</c> when the client asked for usage, <c>}\n\n</c>.</summary>
    private void EndChoice(PipeWriter client, ReadOnlySpan<byte> finishReason)
    {
        client.Write("\"logprobs\":null,\"finish_reason\":"u8);
        if (finishReason.IsEmpty)
        {
            client.Write("null"u8);
        }
        else
        {
            client.Write("\""u8);
            client.Write(finishReason);
            client.Write("\""u8);
        }
        client.Write(includeUsage ? "}],\"usage\":null}\n\n"u8 : "}]}\n\n"u8);
    }

    internal static void WriteNumber(IBufferWriter<byte> writer, long value)
    {
        var span = writer.GetSpan(20);
        Utf8Formatter.TryFormat(value, span, out var written);
        writer.Advance(written);
    }
}
