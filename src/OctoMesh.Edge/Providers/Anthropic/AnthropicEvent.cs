using System.Text.Json;

namespace OctoMesh.Edge.Providers.Anthropic;

internal enum AnthropicEventType { Other, MessageStart, ContentBlockStart, ContentBlockDelta, MessageDelta, MessageStop, Error }

internal enum AnthropicDeltaKind { Other, Text, InputJson }

/// <summary>
/// The fields of one Anthropic stream event that the gateway uses, read in one pass of
/// <see cref="Utf8JsonReader"/>. The spans are raw JSON string contents inside the event's data
/// (still escaped), valid while that data is.
/// </summary>
internal ref struct AnthropicEvent
{
    public AnthropicEventType Type;
    public int Index;
    public bool BlockIsToolUse;
    public AnthropicDeltaKind DeltaKind;
    public ReadOnlySpan<byte> Text;
    public ReadOnlySpan<byte> Id;
    public ReadOnlySpan<byte> Model;
    public ReadOnlySpan<byte> ToolId;
    public ReadOnlySpan<byte> ToolName;
    public ReadOnlySpan<byte> StopReason;
    public int Input, CacheWrite, CacheRead, Output;
    public bool HasInput, HasCacheWrite, HasCacheRead, HasOutput;
    public string? ErrorType;
    public string? ErrorMessage;

    public static AnthropicEvent Read(ReadOnlySpan<byte> data)
    {
        var fields = new AnthropicEvent();
        var reader = new Utf8JsonReader(data);
        try
        {
            if (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
            {
                ReadObject(ref reader, ref fields, Scope.Event);
            }
        }
        catch (JsonException)
        {
            fields.Type = AnthropicEventType.Other;
        }
        return fields;
    }

    private enum Scope { Event, Message, Block, Delta, Usage, Error }

    /// <summary>Walks one object; the reader stands on its StartObject and ends on its EndObject.</summary>
    private static void ReadObject(ref Utf8JsonReader reader, ref AnthropicEvent fields, Scope scope)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.ValueSpan;
            reader.Read();
            if (reader.TokenType == JsonTokenType.StartObject)
            {
                Scope? inner = null;
                if (scope == Scope.Event && name.SequenceEqual("message"u8)) inner = Scope.Message;
                else if (scope == Scope.Event && name.SequenceEqual("content_block"u8)) inner = Scope.Block;
                else if (scope == Scope.Event && name.SequenceEqual("delta"u8)) inner = Scope.Delta;
                else if (scope is Scope.Event or Scope.Message && name.SequenceEqual("usage"u8)) inner = Scope.Usage;
                else if (scope == Scope.Event && name.SequenceEqual("error"u8)) inner = Scope.Error;
                if (inner is { } next)
                {
                    ReadObject(ref reader, ref fields, next);
                }
                else
                {
                    reader.Skip();
                }
                continue;
            }
            if (reader.TokenType == JsonTokenType.StartArray)
            {
                reader.Skip();
                continue;
            }
            ReadValue(ref reader, ref fields, scope, name);
        }
    }

    private static void ReadValue(ref Utf8JsonReader reader, ref AnthropicEvent fields, Scope scope, ReadOnlySpan<byte> name)
    {
        var isString = reader.TokenType == JsonTokenType.String;
        switch (scope)
        {
            case Scope.Event when name.SequenceEqual("type"u8) && isString:
                fields.Type = reader.ValueSpan switch
                {
                    var t when t.SequenceEqual("message_start"u8) => AnthropicEventType.MessageStart,
                    var t when t.SequenceEqual("content_block_start"u8) => AnthropicEventType.ContentBlockStart,
                    var t when t.SequenceEqual("content_block_delta"u8) => AnthropicEventType.ContentBlockDelta,
                    var t when t.SequenceEqual("message_delta"u8) => AnthropicEventType.MessageDelta,
                    var t when t.SequenceEqual("message_stop"u8) => AnthropicEventType.MessageStop,
                    var t when t.SequenceEqual("error"u8) => AnthropicEventType.Error,
                    _ => AnthropicEventType.Other,
                };
                break;
            case Scope.Event when name.SequenceEqual("index"u8) && reader.TokenType == JsonTokenType.Number:
                fields.Index = reader.GetInt32();
                break;
            case Scope.Message when isString && name.SequenceEqual("id"u8):
                fields.Id = reader.ValueSpan;
                break;
            case Scope.Message when isString && name.SequenceEqual("model"u8):
                fields.Model = reader.ValueSpan;
                break;
            case Scope.Block when isString && name.SequenceEqual("type"u8):
                fields.BlockIsToolUse = reader.ValueSpan.SequenceEqual("tool_use"u8);
                break;
            case Scope.Block when isString && name.SequenceEqual("id"u8):
                fields.ToolId = reader.ValueSpan;
                break;
            case Scope.Block when isString && name.SequenceEqual("name"u8):
                fields.ToolName = reader.ValueSpan;
                break;
            case Scope.Delta when isString && name.SequenceEqual("type"u8):
                fields.DeltaKind = reader.ValueSpan.SequenceEqual("text_delta"u8) ? AnthropicDeltaKind.Text
                    : reader.ValueSpan.SequenceEqual("input_json_delta"u8) ? AnthropicDeltaKind.InputJson
                    : AnthropicDeltaKind.Other;
                break;
            case Scope.Delta when isString && (name.SequenceEqual("text"u8) || name.SequenceEqual("partial_json"u8)):
                fields.Text = reader.ValueSpan;
                break;
            case Scope.Delta when isString && name.SequenceEqual("stop_reason"u8):
                fields.StopReason = reader.ValueSpan;
                break;
            case Scope.Usage when reader.TokenType == JsonTokenType.Number:
                if (name.SequenceEqual("input_tokens"u8)) { fields.Input = reader.GetInt32(); fields.HasInput = true; }
                else if (name.SequenceEqual("cache_creation_input_tokens"u8)) { fields.CacheWrite = reader.GetInt32(); fields.HasCacheWrite = true; }
                else if (name.SequenceEqual("cache_read_input_tokens"u8)) { fields.CacheRead = reader.GetInt32(); fields.HasCacheRead = true; }
                else if (name.SequenceEqual("output_tokens"u8)) { fields.Output = reader.GetInt32(); fields.HasOutput = true; }
                break;
            case Scope.Error when isString && name.SequenceEqual("type"u8):
                fields.ErrorType = reader.GetString();
                break;
            case Scope.Error when isString && name.SequenceEqual("message"u8):
                fields.ErrorMessage = reader.GetString();
                break;
        }
    }
}
