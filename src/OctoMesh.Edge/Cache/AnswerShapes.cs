using System.Buffers;
using System.Text;
using System.Text.Json;
using OctoMesh.Edge.Wire;

namespace OctoMesh.Edge.Cache;

/// <summary>
/// Serves a kept answer in the shape the new client asked for: a streamed answer as one JSON body, a JSON answer
/// as a stream (OpenAI's chunks, with the usage chunk when <c>stream_options.include_usage</c> asks for it;
/// Anthropic's events), or a stream with its usage chunk taken out. The content (text, tool calls, finish or stop
/// reason, usage) is the same; what a stream spreads over many deltas comes in one.
/// </summary>
internal static class AnswerShapes
{
    public const string Json = "application/json", EventStream = "text/event-stream";

    /// <summary>
    /// <see cref="Reshape"/>, false when the kept bytes are not what their shape promises (the cache then treats the
    /// request as a miss rather than fail it).
    /// </summary>
    public static bool TryReshape(CachedAnswer answer, ApiOperation operation, bool stream, bool includeUsage, out byte[] body, out string contentType)
    {
        try
        {
            (body, contentType) = Reshape(answer, operation, stream, includeUsage);
            return true;
        }
        catch (Exception e) when (e is JsonException or InvalidDataException or KeyNotFoundException or InvalidOperationException
            or FormatException or IndexOutOfRangeException or ArgumentException)
        {
            (body, contentType) = ([], "");
            return false;
        }
    }

    /// <summary>The bytes to send for <paramref name="answer"/> to a client that wants a stream or not, with the usage chunk or not.</summary>
    public static (byte[] Body, string ContentType) Reshape(CachedAnswer answer, ApiOperation operation, bool stream, bool includeUsage)
    {
        if (operation == ApiOperation.Messages)
        {
            return answer.Stream == stream ? (answer.Body, answer.ContentType)
                : stream ? (MessageToEvents(answer.Body), EventStream) : (EventsToMessage(answer.Body), Json);
        }
        if (!answer.Stream)
        {
            return stream ? (Chat.Parse(answer.Body).WriteStream(includeUsage), EventStream) : (answer.Body, answer.ContentType);
        }
        if (!stream)
        {
            return (Chat.ParseStream(answer.Body).WriteJson(), Json);
        }
        // A stream to a stream: as it is when the usage chunk is there exactly when asked for; taken out when not asked
        // for; one asked for but missing cannot be made up (the exact key keeps such clients apart; a semantic
        // neighbour kept without it is refused here, and the request is a miss).
        var hasUsage = HasUsageChunk(answer.Body);
        return includeUsage == hasUsage ? (answer.Body, answer.ContentType)
            : !includeUsage ? (Chat.ParseStream(answer.Body).WriteStream(false), EventStream)
            : throw new InvalidDataException("a usage chunk was asked for and the kept stream has none");
    }

    /// <summary>Whether an OpenAI stream ends with a usage chunk: its last chunk has no choices and a usage object (only that chunk is parsed).</summary>
    public static bool HasUsageChunk(byte[] stream)
    {
        var last = ReadOnlyMemory<byte>.Empty;
        foreach (var data in DataLines(stream))
        {
            last = data;
        }
        if (last.IsEmpty)
        {
            return false;
        }
        using var chunk = JsonDocument.Parse(last);
        var root = chunk.RootElement;
        return root.ValueKind == JsonValueKind.Object && root.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array
            && choices.GetArrayLength() == 0 && root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object;
    }

    /// <summary>Each <c>data:</c> payload of an SSE body but <c>[DONE]</c>, parsed.</summary>
    private static IEnumerable<JsonDocument> Events(byte[] body) => DataLines(body).Select(data => JsonDocument.Parse(data));

    /// <summary>Each <c>data:</c> payload of an SSE body but <c>[DONE]</c>; lines end in LF, CRLF or CR, as SSE allows.</summary>
    private static IEnumerable<ReadOnlyMemory<byte>> DataLines(byte[] body)
    {
        var at = 0;
        while (at < body.Length)
        {
            var end = body.AsSpan(at).IndexOfAny((byte)'\n', (byte)'\r');
            end = end < 0 ? body.Length : at + end;
            var line = body.AsMemory(at, end - at);
            at = end + (end + 1 < body.Length && body[end] == '\r' && body[end + 1] == '\n' ? 2 : 1);
            if (line.Span.StartsWith("data:"u8))
            {
                var data = line[5..].TrimStart((byte)' ');
                if (!data.Span.SequenceEqual("[DONE]"u8))
                {
                    yield return data;
                }
            }
        }
    }

    private static byte[] Write(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        // Text as providers write it (quotes as \", not \u0022; non-ASCII as is).
        using (var writer = new Utf8JsonWriter(buffer, OpenAIError.WriterOptions))
        {
            write(writer);
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>An OpenAI chat answer, however it came: ids, and per choice the text, tool calls and finish reason; the usage.</summary>
    private sealed class Chat
    {
        private string _id = "", _model = "";
        private long _created;
        private string? _fingerprint, _tier;
        private readonly SortedDictionary<int, Choice> _choices = [];
        private JsonElement? _usage;

        private sealed class Choice
        {
            public string Role = "assistant";
            public StringBuilder? Content;
            public string? Refusal, FinishReason;
            public readonly SortedDictionary<int, (string? Id, string Type, string? Name, StringBuilder Arguments)> Tools = [];
        }

        public static Chat Parse(byte[] json)
        {
            using var document = JsonDocument.Parse(json);
            var chat = new Chat();
            chat.Read(document.RootElement, "message");
            return chat;
        }

        public static Chat ParseStream(byte[] stream)
        {
            var chat = new Chat();
            foreach (var document in Events(stream))
            {
                using (document)
                {
                    chat.Read(document.RootElement, "delta");
                }
            }
            return chat;
        }

        /// <summary>Reads a whole answer (each choice's <c>message</c>) or one chunk of a stream (each choice's <c>delta</c>).</summary>
        private void Read(JsonElement root, string part)
        {
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array)
            {
                throw new InvalidDataException("not a chat completion (no choices)");
            }
            Header(root);
            foreach (var element in choices.EnumerateArray())
            {
                var choice = ChoiceAt(element);
                if (element.TryGetProperty("logprobs", out var logprobs) && logprobs.ValueKind != JsonValueKind.Null)
                {
                    throw new InvalidDataException("logprobs are not reshaped");
                }
                if (element.TryGetProperty(part, out var content) && content.ValueKind == JsonValueKind.Object)
                {
                    Add(choice, content);
                }
            }
        }

        private void Header(JsonElement root)
        {
            _id = root.TryGetProperty("id", out var id) ? id.GetString() ?? _id : _id;
            _model = root.TryGetProperty("model", out var model) ? model.GetString() ?? _model : _model;
            _created = root.TryGetProperty("created", out var created) && created.ValueKind == JsonValueKind.Number ? created.GetInt64() : _created;
            _fingerprint = root.TryGetProperty("system_fingerprint", out var fingerprint) && fingerprint.ValueKind == JsonValueKind.String ? fingerprint.GetString() : _fingerprint;
            _tier = root.TryGetProperty("service_tier", out var tier) && tier.ValueKind == JsonValueKind.String ? tier.GetString() : _tier;
            if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
            {
                _usage = usage.Clone();
            }
        }

        private Choice ChoiceAt(JsonElement element)
        {
            var index = element.TryGetProperty("index", out var i) && i.TryGetInt32(out var n) ? n : 0;
            if (!_choices.TryGetValue(index, out var choice))
            {
                _choices[index] = choice = new Choice();
            }
            if (element.TryGetProperty("finish_reason", out var finish) && finish.ValueKind == JsonValueKind.String)
            {
                choice.FinishReason = finish.GetString();
            }
            return choice;
        }

        /// <summary>Adds a message, or a stream's delta, to the choice.</summary>
        private void Add(Choice choice, JsonElement part)
        {
            if (part.TryGetProperty("role", out var role) && role.ValueKind == JsonValueKind.String)
            {
                choice.Role = role.GetString()!;
            }
            if (part.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String)
            {
                (choice.Content ??= new StringBuilder()).Append(content.GetString());
            }
            foreach (var field in part.EnumerateObject())
            {
                // What the model does not hold (content parts, reasoning, audio, annotations) would be lost: refuse instead.
                var unmodelled = field.Name switch
                {
                    "role" or "refusal" or "tool_calls" => false,
                    "content" => field.Value.ValueKind is not (JsonValueKind.String or JsonValueKind.Null),
                    "annotations" => field.Value.ValueKind == JsonValueKind.Array && field.Value.GetArrayLength() > 0,
                    _ => field.Value.ValueKind != JsonValueKind.Null,
                };
                if (unmodelled)
                {
                    throw new InvalidDataException($"'{field.Name}' is not reshaped");
                }
            }
            if (part.TryGetProperty("refusal", out var refusal) && refusal.ValueKind == JsonValueKind.String)
            {
                choice.Refusal += refusal.GetString();
            }
            if (!part.TryGetProperty("tool_calls", out var calls) || calls.ValueKind != JsonValueKind.Array)
            {
                return;
            }
            var position = 0;
            foreach (var call in calls.EnumerateArray())
            {
                var index = call.TryGetProperty("index", out var i) ? i.GetInt32() : position;
                position++;
                var tool = choice.Tools.TryGetValue(index, out var known) ? known : (null, "function", null, new StringBuilder());
                if (call.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String)
                {
                    tool.Id = id.GetString();
                }
                if (call.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String)
                {
                    tool.Type = type.GetString()!;
                }
                if (call.TryGetProperty("function", out var function))
                {
                    if (function.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String)
                    {
                        tool.Name = name.GetString();
                    }
                    if (function.TryGetProperty("arguments", out var arguments) && arguments.ValueKind == JsonValueKind.String)
                    {
                        tool.Arguments.Append(arguments.GetString());
                    }
                }
                choice.Tools[index] = tool;
            }
        }

        public byte[] WriteJson() => Write(writer =>
        {
            writer.WriteStartObject();
            WriteHeader(writer, "chat.completion");
            writer.WriteStartArray("choices");
            foreach (var (index, choice) in _choices)
            {
                writer.WriteStartObject();
                writer.WriteNumber("index", index);
                writer.WriteStartObject("message");
                WriteMessage(writer, choice, withIndex: false);
                writer.WriteEndObject();
                writer.WriteNull("logprobs");
                writer.WriteString("finish_reason", choice.FinishReason);
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            if (_usage is { } usage)
            {
                writer.WritePropertyName("usage");
                usage.WriteTo(writer);
            }
            writer.WriteEndObject();
        });

        public byte[] WriteStream(bool includeUsage)
        {
            var output = new MemoryStream();
            void Chunk(Action<Utf8JsonWriter> choices, bool usage = false)
            {
                output.Write("data: "u8);
                output.Write(Write(writer =>
                {
                    writer.WriteStartObject();
                    WriteHeader(writer, "chat.completion.chunk");
                    writer.WriteStartArray("choices");
                    choices(writer);
                    writer.WriteEndArray();
                    if (usage)
                    {
                        writer.WritePropertyName("usage");
                        _usage!.Value.WriteTo(writer);
                    }
                    else if (includeUsage)
                    {
                        writer.WriteNull("usage");
                    }
                    writer.WriteEndObject();
                }));
                output.Write("\n\n"u8);
            }
            foreach (var (index, choice) in _choices)
            {
                Chunk(writer =>
                {
                    writer.WriteStartObject();
                    writer.WriteNumber("index", index);
                    writer.WriteStartObject("delta");
                    WriteMessage(writer, choice, withIndex: true);
                    writer.WriteEndObject();
                    writer.WriteNull("logprobs");
                    writer.WriteNull("finish_reason");
                    writer.WriteEndObject();
                });
                Chunk(writer =>
                {
                    writer.WriteStartObject();
                    writer.WriteNumber("index", index);
                    writer.WriteStartObject("delta");
                    writer.WriteEndObject();
                    writer.WriteNull("logprobs");
                    writer.WriteString("finish_reason", choice.FinishReason);
                    writer.WriteEndObject();
                });
            }
            if (includeUsage && _usage is not null)
            {
                Chunk(_ => { }, usage: true);
            }
            output.Write("data: [DONE]\n\n"u8);
            return output.ToArray();
        }

        private void WriteHeader(Utf8JsonWriter writer, string type)
        {
            writer.WriteString("id", _id);
            writer.WriteString("object", type);
            writer.WriteNumber("created", _created);
            writer.WriteString("model", _model);
            if (_tier is not null)
            {
                writer.WriteString("service_tier", _tier);
            }
            if (_fingerprint is not null)
            {
                writer.WriteString("system_fingerprint", _fingerprint);
            }
        }

        private static void WriteMessage(Utf8JsonWriter writer, Choice choice, bool withIndex)
        {
            writer.WriteString("role", choice.Role);
            writer.WriteString("content", choice.Content?.ToString());
            if (choice.Tools.Count > 0)
            {
                writer.WriteStartArray("tool_calls");
                foreach (var (index, tool) in choice.Tools)
                {
                    writer.WriteStartObject();
                    if (withIndex)
                    {
                        writer.WriteNumber("index", index);
                    }
                    writer.WriteString("id", tool.Id);
                    writer.WriteString("type", tool.Type);
                    writer.WriteStartObject("function");
                    writer.WriteString("name", tool.Name);
                    writer.WriteString("arguments", tool.Arguments.ToString());
                    writer.WriteEndObject();
                    writer.WriteEndObject();
                }
                writer.WriteEndArray();
            }
            writer.WriteString("refusal", choice.Refusal);
        }
    }

    /// <summary>Anthropic's events to one message: message_start's message, each block with its deltas, message_delta's stop and usage.</summary>
    private static byte[] EventsToMessage(byte[] stream)
    {
        JsonElement? message = null;
        var blocks = new SortedDictionary<int, (JsonElement Start, StringBuilder Text, StringBuilder Json, StringBuilder Thinking, string? Signature)>();
        string? stopReason = null, stopSequence = null;
        var usage = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var document in Events(stream))
        {
            using (document)
            {
                var root = document.RootElement;
                switch (root.GetProperty("type").GetString())
                {
                    case "message_start":
                        message = root.GetProperty("message").Clone();
                        if (message.Value.TryGetProperty("usage", out var startUsage))
                        {
                            foreach (var field in startUsage.EnumerateObject())
                            {
                                usage[field.Name] = field.Value.Clone();
                            }
                        }
                        break;
                    case "content_block_start":
                        blocks[root.GetProperty("index").GetInt32()] = (root.GetProperty("content_block").Clone(), new(), new(), new(), null);
                        break;
                    case "content_block_delta":
                        var index = root.GetProperty("index").GetInt32();
                        var block = blocks[index];
                        var delta = root.GetProperty("delta");
                        switch (delta.GetProperty("type").GetString())
                        {
                            case "text_delta":
                                block.Text.Append(delta.GetProperty("text").GetString());
                                break;
                            case "input_json_delta":
                                block.Json.Append(delta.GetProperty("partial_json").GetString());
                                break;
                            case "thinking_delta":
                                block.Thinking.Append(delta.GetProperty("thinking").GetString());
                                break;
                            case "signature_delta":
                                block.Signature = delta.GetProperty("signature").GetString();
                                break;
                            default:
                                throw new InvalidDataException($"a {delta.GetProperty("type").GetString()} is not reshaped");
                        }
                        blocks[index] = block;
                        break;
                    case "message_delta":
                        var changes = root.GetProperty("delta");
                        stopReason = changes.TryGetProperty("stop_reason", out var stop) ? stop.GetString() : stopReason;
                        stopSequence = changes.TryGetProperty("stop_sequence", out var sequence) ? sequence.GetString() : stopSequence;
                        if (root.TryGetProperty("usage", out var endUsage))
                        {
                            foreach (var field in endUsage.EnumerateObject())
                            {
                                usage[field.Name] = field.Value.Clone();
                            }
                        }
                        break;
                }
            }
        }
        var start = message ?? throw new InvalidDataException("an Anthropic stream without message_start");
        return Write(writer =>
        {
            writer.WriteStartObject();
            foreach (var field in start.EnumerateObject())
            {
                switch (field.Name)
                {
                    case "content":
                        writer.WriteStartArray("content");
                        foreach (var (_, block) in blocks)
                        {
                            WriteBlock(writer, block.Start, block.Text.ToString(), block.Json.ToString(), block.Thinking.ToString(), block.Signature);
                        }
                        writer.WriteEndArray();
                        break;
                    case "stop_reason":
                        writer.WriteString("stop_reason", stopReason);
                        break;
                    case "stop_sequence":
                        writer.WriteString("stop_sequence", stopSequence);
                        break;
                    case "usage":
                        writer.WriteStartObject("usage");
                        foreach (var (name, value) in usage)
                        {
                            writer.WritePropertyName(name);
                            value.WriteTo(writer);
                        }
                        writer.WriteEndObject();
                        break;
                    default:
                        field.WriteTo(writer);
                        break;
                }
            }
            writer.WriteEndObject();
        });
    }

    /// <summary>A content block as its start announced it, with what its deltas brought.</summary>
    private static void WriteBlock(Utf8JsonWriter writer, JsonElement start, string text, string json, string thinking, string? signature)
    {
        writer.WriteStartObject();
        foreach (var field in start.EnumerateObject())
        {
            switch (field.Name)
            {
                case "text":
                    writer.WriteString("text", field.Value.GetString() + text);
                    break;
                case "input" when json.Length > 0:
                    writer.WritePropertyName("input");
                    using (var input = JsonDocument.Parse(json))
                    {
                        input.RootElement.WriteTo(writer);
                    }
                    break;
                case "thinking":
                    writer.WriteString("thinking", field.Value.GetString() + thinking);
                    break;
                case "signature":
                    writer.WriteString("signature", signature ?? field.Value.GetString());
                    break;
                default:
                    field.WriteTo(writer);
                    break;
            }
        }
        writer.WriteEndObject();
    }

    /// <summary>One Anthropic message to its events: message_start, each block whole in one delta, message_delta, message_stop.</summary>
    private static byte[] MessageToEvents(byte[] json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        var output = new MemoryStream();
        void Event(string type, Action<Utf8JsonWriter> body)
        {
            output.Write(Encoding.UTF8.GetBytes($"event: {type}\ndata: "));
            output.Write(Write(writer =>
            {
                writer.WriteStartObject();
                writer.WriteString("type", type);
                body(writer);
                writer.WriteEndObject();
            }));
            output.Write("\n\n"u8);
        }
        root.TryGetProperty("usage", out var usage);
        Event("message_start", writer =>
        {
            writer.WriteStartObject("message");
            foreach (var field in root.EnumerateObject())
            {
                switch (field.Name)
                {
                    case "content":
                        writer.WriteStartArray("content");
                        writer.WriteEndArray();
                        break;
                    case "stop_reason" or "stop_sequence":
                        writer.WriteNull(field.Name);
                        break;
                    default:
                        field.WriteTo(writer);
                        break;
                }
            }
            writer.WriteEndObject();
        });
        var index = 0;
        foreach (var block in root.GetProperty("content").EnumerateArray())
        {
            var type = block.GetProperty("type").GetString();
            var at = index++;
            Event("content_block_start", writer =>
            {
                writer.WriteNumber("index", at);
                writer.WriteStartObject("content_block");
                foreach (var field in block.EnumerateObject())
                {
                    switch (field.Name)
                    {
                        case "text" or "thinking":
                            writer.WriteString(field.Name, "");
                            break;
                        case "input":
                            writer.WriteStartObject("input");
                            writer.WriteEndObject();
                            break;
                        default:
                            field.WriteTo(writer);
                            break;
                    }
                }
                writer.WriteEndObject();
            });
            var delta = type switch
            {
                "text" => ("text_delta", "text", block.GetProperty("text").GetString()),
                "tool_use" => ("input_json_delta", "partial_json", block.GetProperty("input").GetRawText()),
                "thinking" => ("thinking_delta", "thinking", block.GetProperty("thinking").GetString()),
                _ => throw new InvalidDataException($"a {type} block is not reshaped"),
            };
            Event("content_block_delta", writer =>
            {
                writer.WriteNumber("index", at);
                writer.WriteStartObject("delta");
                writer.WriteString("type", delta.Item1);
                writer.WriteString(delta.Item2, delta.Item3);
                writer.WriteEndObject();
            });
            Event("content_block_stop", writer => writer.WriteNumber("index", at));
        }
        Event("message_delta", writer =>
        {
            writer.WriteStartObject("delta");
            writer.WritePropertyName("stop_reason");
            root.GetProperty("stop_reason").WriteTo(writer);
            if (root.TryGetProperty("stop_sequence", out var sequence))
            {
                writer.WritePropertyName("stop_sequence");
                sequence.WriteTo(writer);
            }
            else
            {
                writer.WriteNull("stop_sequence");
            }
            writer.WriteEndObject();
            if (usage.ValueKind == JsonValueKind.Object && usage.TryGetProperty("output_tokens", out var output))
            {
                writer.WriteStartObject("usage");
                writer.WriteNumber("output_tokens", output.GetInt32());
                writer.WriteEndObject();
            }
        });
        Event("message_stop", _ => { });
        return output.ToArray();
    }
}
