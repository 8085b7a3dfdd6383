using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;
using System.Text.Json;
using OctoMesh.Edge.Proxy;

namespace OctoMesh.Edge.Providers.Anthropic;

/// <summary>
/// Anthropic's stream (Anthropic API reference, "Streaming Messages": <c>message_start</c>,
/// <c>content_block_start/delta/stop</c>, <c>message_delta</c>, <c>message_stop</c>, <c>ping</c>,
/// <c>error</c>) as OpenAI chunks, event by event, never buffered whole:
/// <list type="bullet">
/// <item><c>message_start</c> → the role chunk; its usage is kept;</item>
/// <item><c>text_delta</c> → a content chunk; <c>tool_use</c> start → a tool call chunk with id and name;
/// <c>input_json_delta</c> → an arguments fragment for that call;</item>
/// <item><c>message_delta</c> → the finish chunk (<c>stop_reason</c> mapped), its usage kept;</item>
/// <item><c>message_stop</c> → the usage chunk if the client asked for it, then <c>data: [DONE]</c>;</item>
/// <item><c>error</c> → an OpenAI error event, and the stream ends.</item>
/// </list>
/// Strings are copied from the upstream event as raw JSON (both sides escape alike), so a content
/// chunk costs its output bytes and no heap allocation.
/// </summary>
internal sealed class AnthropicStreamTranslator(bool includeUsage) : SseStreamHandler
{
    private static readonly byte[] s_done = "data: [DONE]\n\n"u8.ToArray();
    private static readonly byte[] s_roleDelta = "{\"role\":\"assistant\",\"content\":\"\"}"u8.ToArray();

    /// <summary><c>data: {"id":"…","object":"chat.completion.chunk","created":…,"model":"…",</c>, set by message_start.</summary>
    private byte[] _head = [];
    /// <summary>OpenAI tool-call index per Anthropic content block index; -1 for text blocks.</summary>
    private int[] _toolIndexOfBlock = new int[8];
    private int _toolCalls;
    private int _input, _cacheWrite, _cacheRead, _output;

    public override void Handle(in SseEvent sseEvent, ReadOnlySpan<byte> data, PipeWriter client)
    {
        if (data.IsEmpty)
        {
            return;
        }
        var fields = AnthropicEvent.Read(data);
        switch (fields.Type)
        {
            case AnthropicEventType.MessageStart:
                _head = Head(fields.Id, fields.Model);
                AddUsage(fields);
                WriteChunk(client, s_roleDelta, ReadOnlySpan<byte>.Empty);
                break;

            case AnthropicEventType.ContentBlockStart when fields.BlockIsToolUse:
                SetToolIndex(fields.Index, _toolCalls);
                WriteToolStart(client, _toolCalls++, fields.ToolId, fields.ToolName);
                break;

            case AnthropicEventType.ContentBlockStart:
                SetToolIndex(fields.Index, -1);
                break;

            case AnthropicEventType.ContentBlockDelta when fields.DeltaKind == AnthropicDeltaKind.Text:
                WriteTextDelta(client, fields.Text);
                break;

            case AnthropicEventType.ContentBlockDelta when fields.DeltaKind == AnthropicDeltaKind.InputJson && !fields.Text.IsEmpty:
                if (ToolIndex(fields.Index) is var tool and >= 0)
                {
                    WriteArgumentsDelta(client, tool, fields.Text);
                }
                break;

            case AnthropicEventType.MessageDelta:
                AddUsage(fields);
                WriteChunk(client, "{}"u8, AnthropicUsage.FinishReason(fields.StopReason));
                break;

            case AnthropicEventType.MessageStop:
                Usage = AnthropicUsage.ToOpenAI(_input, _cacheWrite, _cacheRead, _output);
                if (includeUsage)
                {
                    WriteUsageChunk(client, Usage.Value);
                }
                client.Write(s_done);
                IsComplete = true;
                break;

            case AnthropicEventType.Error:
                Usage = AnthropicUsage.ToOpenAI(_input, _cacheWrite, _cacheRead, _output);
                var (_, type, code) = AnthropicUsage.ToOpenAIError(500, fields.ErrorType);
                client.Write(OpenAIError.SerializeEvent(fields.ErrorMessage ?? "The upstream provider reported an error.", type, code));
                IsFailed = true;
                break;
        }
    }

    /// <summary>message_start carries the input usage; message_delta the output (and, in newer versions, cumulative input).</summary>
    private void AddUsage(in AnthropicEvent fields)
    {
        if (fields.HasInput) _input = fields.Input;
        if (fields.HasCacheWrite) _cacheWrite = fields.CacheWrite;
        if (fields.HasCacheRead) _cacheRead = fields.CacheRead;
        if (fields.HasOutput) _output = fields.Output;
    }

    private void SetToolIndex(int block, int tool)
    {
        if (block < 0)
        {
            return;
        }
        if (block >= _toolIndexOfBlock.Length)
        {
            Array.Resize(ref _toolIndexOfBlock, Math.Max(block + 1, _toolIndexOfBlock.Length * 2));
        }
        _toolIndexOfBlock[block] = tool;
    }

    private int ToolIndex(int block) => block >= 0 && block < _toolIndexOfBlock.Length ? _toolIndexOfBlock[block] : -1;

    private static byte[] Head(ReadOnlySpan<byte> id, ReadOnlySpan<byte> model)
    {
        var writer = new ArrayBufferWriter<byte>(128 + id.Length + model.Length);
        writer.Write("data: {\"id\":\""u8);
        writer.Write(id);
        writer.Write("\",\"object\":\"chat.completion.chunk\",\"created\":"u8);
        WriteNumber(writer, DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        writer.Write(",\"model\":\""u8);
        writer.Write(model);
        writer.Write("\","u8);
        return writer.WrittenSpan.ToArray();
    }

    /// <summary><c>{head}"choices":[{"index":0,"delta":{delta},"logprobs":null,"finish_reason":…}]{,"usage":null}}\n\n</c></summary>
    private void WriteChunk(PipeWriter client, ReadOnlySpan<byte> delta, ReadOnlySpan<byte> finishReason)
    {
        client.Write(_head);
        client.Write("\"choices\":[{\"index\":0,\"delta\":"u8);
        client.Write(delta);
        client.Write(",\"logprobs\":null,\"finish_reason\":"u8);
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

    private void WriteChunk(PipeWriter client, ReadOnlySpan<byte> delta, string finishReason)
    {
        Span<byte> reason = stackalloc byte[32];
        var length = System.Text.Encoding.ASCII.GetBytes(finishReason, reason);
        WriteChunk(client, delta, reason[..length]);
    }

    private void WriteTextDelta(PipeWriter client, ReadOnlySpan<byte> rawText)
    {
        client.Write(_head);
        client.Write("\"choices\":[{\"index\":0,\"delta\":{\"content\":\""u8);
        client.Write(rawText);
        client.Write(includeUsage ? "\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"u8 : "\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"u8);
    }

    private void WriteToolStart(PipeWriter client, int tool, ReadOnlySpan<byte> rawId, ReadOnlySpan<byte> rawName)
    {
        client.Write(_head);
        client.Write("\"choices\":[{\"index\":0,\"delta\":{"u8);
        if (tool == 0)
        {
            client.Write("\"role\":\"assistant\",\"content\":null,"u8);
        }
        client.Write("\"tool_calls\":[{\"index\":"u8);
        WriteNumber(client, tool);
        client.Write(",\"id\":\""u8);
        client.Write(rawId);
        client.Write("\",\"type\":\"function\",\"function\":{\"name\":\""u8);
        client.Write(rawName);
        client.Write(includeUsage
            ? "\",\"arguments\":\"\"}}]},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"u8
            : "\",\"arguments\":\"\"}}]},\"logprobs\":null,\"finish_reason\":null}]}\n\n"u8);
    }

    private void WriteArgumentsDelta(PipeWriter client, int tool, ReadOnlySpan<byte> rawJson)
    {
        client.Write(_head);
        client.Write("\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":"u8);
        WriteNumber(client, tool);
        client.Write(",\"function\":{\"arguments\":\""u8);
        client.Write(rawJson);
        client.Write(includeUsage
            ? "\"}}]},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"u8
            : "\"}}]},\"logprobs\":null,\"finish_reason\":null}]}\n\n"u8);
    }

    private void WriteUsageChunk(PipeWriter client, TokenUsage usage)
    {
        client.Write(_head);
        client.Write("\"choices\":[],\"usage\":"u8);
        AnthropicResponseWriter.WriteUsageJson(client, usage);
        client.Write("}\n\n"u8);
    }

    private static void WriteNumber(IBufferWriter<byte> writer, long value)
    {
        var span = writer.GetSpan(20);
        Utf8Formatter.TryFormat(value, span, out var written);
        writer.Advance(written);
    }
}
