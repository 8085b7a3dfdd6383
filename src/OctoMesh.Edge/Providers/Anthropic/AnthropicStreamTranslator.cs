using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using OctoMesh.Edge.Wire;

namespace OctoMesh.Edge.Providers.Anthropic;

/// <summary>
/// Anthropic's stream (Anthropic API reference, "Streaming Messages": <c>message_start</c>,
/// <c>content_block_start/delta/stop</c>, <c>message_delta</c>, <c>message_stop</c>, <c>ping</c>,
/// <c>error</c>) as OpenAI chunks, event by event, never buffered whole:
/// <list type="bullet">
/// <item><c>message_start</c> → the role chunk; its usage is kept;</item>
/// <item><c>text_delta</c> → a content chunk; <c>tool_use</c> start → a tool call chunk with id and name;
/// <c>input_json_delta</c> → an arguments fragment for that call;</item>
/// <item><c>message_delta</c> → its stop reason and usage kept;</item>
/// <item><c>message_stop</c> → the finish chunk (<c>stop_reason</c> mapped), the usage chunk if the client asked for it, then <c>data: [DONE]</c>;</item>
/// <item><c>error</c> → an OpenAI error event, and the stream ends.</item>
/// </list>
/// Strings are copied from the upstream event as raw JSON (both sides escape alike), so a content
/// chunk costs its output bytes and no heap allocation.
/// </summary>
internal sealed class AnthropicStreamTranslator(bool includeUsage) : SseStreamHandler
{
    private readonly OpenAIChunkWriter _chunks = new(includeUsage);
    /// <summary>Anthropic sends a few content blocks per message; an index past this is not a block worth a table entry.</summary>
    private const int MaxBlocks = 1024;

    /// <summary>OpenAI tool-call index per Anthropic content block index; -1 for text blocks and blocks not seen.</summary>
    private int[] _toolIndexOfBlock = [-1, -1, -1, -1, -1, -1, -1, -1];
    private int _toolCalls;
    private int _input, _cacheWrite, _cacheRead, _output;
    private string _finishReason = "stop";

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
                AddUsage(fields);
                _chunks.Start(client, fields.Id, fields.Model);
                break;

            case AnthropicEventType.ContentBlockStart when fields.BlockIsToolUse:
                SetToolIndex(fields.Index, _toolCalls);
                _chunks.WriteToolStart(client, _toolCalls++, fields.ToolId, fields.ToolName);
                break;

            case AnthropicEventType.ContentBlockStart:
                SetToolIndex(fields.Index, -1);
                break;

            case AnthropicEventType.ContentBlockDelta when fields.DeltaKind == AnthropicDeltaKind.Text:
                _chunks.WriteText(client, fields.Text);
                break;

            case AnthropicEventType.ContentBlockDelta when fields.DeltaKind == AnthropicDeltaKind.InputJson && !fields.Text.IsEmpty:
                if (ToolIndex(fields.Index) is var tool and >= 0)
                {
                    _chunks.WriteArguments(client, tool, fields.Text);
                }
                break;

            case AnthropicEventType.MessageDelta:
                AddUsage(fields);
                _finishReason = AnthropicUsage.FinishReason(fields.StopReason);
                break;

            case AnthropicEventType.MessageStop:
                Usage = AnthropicUsage.ToOpenAI(_input, _cacheWrite, _cacheRead, _output);
                Span<byte> reason = stackalloc byte[32];
                _chunks.Finish(client, reason[..System.Text.Encoding.ASCII.GetBytes(_finishReason, reason)], Usage.Value);
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
        if (block is < 0 or >= MaxBlocks)
        {
            return;
        }
        if (block >= _toolIndexOfBlock.Length)
        {
            var larger = new int[Math.Max(block + 1, _toolIndexOfBlock.Length * 2)];
            Array.Fill(larger, -1);
            _toolIndexOfBlock.CopyTo(larger, 0);
            _toolIndexOfBlock = larger;
        }
        _toolIndexOfBlock[block] = tool;
    }

    private int ToolIndex(int block) => block >= 0 && block < _toolIndexOfBlock.Length ? _toolIndexOfBlock[block] : -1;
}
