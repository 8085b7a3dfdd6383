using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using OctoMesh.Edge.Providers.Anthropic;
using OctoMesh.Edge.Wire;

namespace OctoMesh.Edge.Providers.OpenAI;

/// <summary>
/// An OpenAI chunk stream as Anthropic's event sequence, for Anthropic clients served by an
/// OpenAI-format provider: <c>message_start</c> at the first chunk; a text block opened by the first
/// content delta; a <c>tool_use</c> block per tool call, its argument fragments as
/// <c>input_json_delta</c>; at <c>[DONE]</c> the open block closes, then <c>message_delta</c> (stop
/// reason, usage) and <c>message_stop</c>. Text and argument fragments are copied as raw JSON.
/// Input usage arrives only with the last chunk, so <c>message_start</c> reports 0 input tokens and
/// <c>message_delta</c> carries the exact counts.
/// </summary>
internal sealed class MessagesStreamTranslator : SseStreamHandler
{
    private bool _started;
    private int _block = -1;
    private bool _blockIsText;
    private int _openAIToolIndex = -1;
    private string _stopReason = "end_turn";

    public override void Handle(in SseEvent sseEvent, ReadOnlySpan<byte> data, PipeWriter client)
    {
        if (data.IsEmpty)
        {
            return;
        }
        if (SseEventScanner.IsDone(data))
        {
            Finish(client);
            return;
        }
        var reader = new Utf8JsonReader(data);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return;
            }
            ReadOnlySpan<byte> id = default, model = default;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = Name(ref reader);
                reader.Read();
                switch (name)
                {
                    case Property.Error:
                        Fail(client, ref reader);
                        return;
                    case Property.Id when reader.TokenType == JsonTokenType.String:
                        id = reader.ValueSpan;
                        break;
                    case Property.Model when reader.TokenType == JsonTokenType.String:
                        model = reader.ValueSpan;
                        break;
                    case Property.Choices when reader.TokenType == JsonTokenType.StartArray:
                        Start(client, id, model);
                        ReadChoices(ref reader, client);
                        break;
                    default:
                        reader.Skip();
                        break;
                }
            }
        }
        catch (JsonException)
        {
            // A chunk that is not JSON carries nothing to translate.
        }
        if (UsageReader.MayHaveUsage(data) && UsageReader.TryRead(data, out var usage, out _))
        {
            Usage = usage;
        }
    }

    private enum Property { Other, Error, Id, Model, Choices, Delta, FinishReason, Content, ToolCalls, Index, Function, Name, Arguments, Message }

    /// <summary>Which property the reader stands on; the value is read next, whatever its type.</summary>
    private static Property Name(ref Utf8JsonReader reader)
    {
        if (reader.ValueTextEquals("error"u8)) return Property.Error;
        if (reader.ValueTextEquals("id"u8)) return Property.Id;
        if (reader.ValueTextEquals("model"u8)) return Property.Model;
        if (reader.ValueTextEquals("choices"u8)) return Property.Choices;
        if (reader.ValueTextEquals("delta"u8)) return Property.Delta;
        if (reader.ValueTextEquals("finish_reason"u8)) return Property.FinishReason;
        if (reader.ValueTextEquals("content"u8)) return Property.Content;
        if (reader.ValueTextEquals("tool_calls"u8)) return Property.ToolCalls;
        if (reader.ValueTextEquals("index"u8)) return Property.Index;
        if (reader.ValueTextEquals("function"u8)) return Property.Function;
        if (reader.ValueTextEquals("name"u8)) return Property.Name;
        if (reader.ValueTextEquals("arguments"u8)) return Property.Arguments;
        if (reader.ValueTextEquals("message"u8)) return Property.Message;
        return Property.Other;
    }

    public override byte[] FailureEvent(ProxyOutcome outcome) => AnthropicFailure.Event(outcome);

    private void ReadChoices(ref Utf8JsonReader reader, PipeWriter client)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
        {
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = Name(ref reader);
                reader.Read();
                if (name == Property.Delta && reader.TokenType == JsonTokenType.StartObject)
                {
                    ReadDelta(ref reader, client);
                }
                else if (name == Property.FinishReason && reader.TokenType == JsonTokenType.String)
                {
                    _stopReason = MessagesResponseWriter.StopReason(reader.GetString());
                }
                else
                {
                    reader.Skip();
                }
            }
        }
    }

    private void ReadDelta(ref Utf8JsonReader reader, PipeWriter client)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = Name(ref reader);
            reader.Read();
            if (name == Property.Content && reader.TokenType == JsonTokenType.String && reader.ValueSpan.Length > 0)
            {
                if (!_blockIsText || _block < 0)
                {
                    OpenBlock(client, isText: true, default, default);
                }
                WriteEvent(client, "content_block_delta"u8, "{\"type\":\"content_block_delta\",\"index\":"u8, _block,
                    ",\"delta\":{\"type\":\"text_delta\",\"text\":\""u8, reader.ValueSpan, "\"}}"u8);
            }
            else if (name == Property.ToolCalls && reader.TokenType == JsonTokenType.StartArray)
            {
                while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
                {
                    ReadToolCall(ref reader, client);
                }
            }
            else
            {
                reader.Skip();
            }
        }
    }

    /// <summary>One entry of <c>delta.tool_calls</c>: a new call (it has an id) opens a block; arguments become a fragment.</summary>
    private void ReadToolCall(ref Utf8JsonReader reader, PipeWriter client)
    {
        int index = -1;
        ReadOnlySpan<byte> id = default, toolName = default, arguments = default;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = Name(ref reader);
            reader.Read();
            if (name == Property.Index && reader.TokenType == JsonTokenType.Number)
            {
                index = reader.GetInt32();
            }
            else if (name == Property.Id && reader.TokenType == JsonTokenType.String)
            {
                id = reader.ValueSpan;
            }
            else if (name == Property.Function && reader.TokenType == JsonTokenType.StartObject)
            {
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var field = Name(ref reader);
                    reader.Read();
                    if (field == Property.Name && reader.TokenType == JsonTokenType.String)
                    {
                        toolName = reader.ValueSpan;
                    }
                    else if (field == Property.Arguments && reader.TokenType == JsonTokenType.String)
                    {
                        arguments = reader.ValueSpan;
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
            }
            else
            {
                reader.Skip();
            }
        }
        // Servers that stream one call at a time may leave out the index: it is the first call then.
        index = Math.Max(index, 0);
        if (!id.IsEmpty && index != _openAIToolIndex)
        {
            _openAIToolIndex = index;
            OpenBlock(client, isText: false, id, toolName);
        }
        if (!arguments.IsEmpty && index == _openAIToolIndex)
        {
            WriteEvent(client, "content_block_delta"u8, "{\"type\":\"content_block_delta\",\"index\":"u8, _block,
                ",\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\""u8, arguments, "\"}}"u8);
        }
    }

    private void Start(PipeWriter client, ReadOnlySpan<byte> id, ReadOnlySpan<byte> model)
    {
        if (_started)
        {
            return;
        }
        _started = true;
        client.Write("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\""u8);
        client.Write(id);
        client.Write("\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\""u8);
        client.Write(model);
        client.Write("\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":0,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":0}}}\n\n"u8);
    }

    private void OpenBlock(PipeWriter client, bool isText, ReadOnlySpan<byte> toolId, ReadOnlySpan<byte> toolName)
    {
        CloseBlock(client);
        _block++;
        _blockIsText = isText;
        if (isText)
        {
            WriteEvent(client, "content_block_start"u8, "{\"type\":\"content_block_start\",\"index\":"u8, _block,
                ",\"content_block\":{\"type\":\"text\",\"text\":\""u8, default, "\"}}"u8);
            return;
        }
        client.Write("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":"u8);
        WriteNumber(client, _block);
        client.Write(",\"content_block\":{\"type\":\"tool_use\",\"id\":\""u8);
        client.Write(toolId);
        client.Write("\",\"name\":\""u8);
        client.Write(toolName);
        client.Write("\",\"input\":{}}}\n\n"u8);
    }

    private void CloseBlock(PipeWriter client)
    {
        if (_block >= 0)
        {
            WriteEvent(client, "content_block_stop"u8, "{\"type\":\"content_block_stop\",\"index\":"u8, _block, "}"u8, default, default);
        }
    }

    private void Finish(PipeWriter client)
    {
        if (!_started)
        {
            Start(client, "msg_empty"u8, default);
        }
        CloseBlock(client);
        var usage = Usage ?? default;
        client.Write("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\""u8);
        client.Write(System.Text.Encoding.ASCII.GetBytes(_stopReason));
        client.Write("\",\"stop_sequence\":null},\"usage\":{\"input_tokens\":"u8);
        WriteNumber(client, usage.PromptTokens - usage.CachedTokens - usage.CacheWriteTokens);
        client.Write(",\"cache_creation_input_tokens\":"u8);
        WriteNumber(client, usage.CacheWriteTokens);
        client.Write(",\"cache_read_input_tokens\":"u8);
        WriteNumber(client, usage.CachedTokens);
        client.Write(",\"output_tokens\":"u8);
        WriteNumber(client, usage.CompletionTokens);
        client.Write("}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"u8);
        IsComplete = true;
    }

    private void Fail(PipeWriter client, ref Utf8JsonReader reader)
    {
        string? message = null;
        if (reader.TokenType == JsonTokenType.StartObject)
        {
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = Name(ref reader);
                reader.Read();
                if (name == Property.Message && reader.TokenType == JsonTokenType.String)
                {
                    message = reader.GetString();
                }
                else
                {
                    reader.Skip();
                }
            }
        }
        client.Write(AnthropicError.SerializeEvent("api_error", message ?? "The upstream provider reported an error."));
        IsFailed = true;
    }

    /// <summary><c>event: NAME\ndata: {head}{index}{middle}{raw}{tail}\n\n</c></summary>
    private static void WriteEvent(PipeWriter client, ReadOnlySpan<byte> name, ReadOnlySpan<byte> head, int index,
        ReadOnlySpan<byte> middle, ReadOnlySpan<byte> raw, ReadOnlySpan<byte> tail)
    {
        client.Write("event: "u8);
        client.Write(name);
        client.Write("\ndata: "u8);
        client.Write(head);
        WriteNumber(client, index);
        client.Write(middle);
        client.Write(raw);
        client.Write(tail);
        client.Write("\n\n"u8);
    }

    private static void WriteNumber(IBufferWriter<byte> writer, int value) => OpenAIChunkWriter.WriteNumber(writer, value);
}
