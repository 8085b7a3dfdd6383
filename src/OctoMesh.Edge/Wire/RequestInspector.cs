using System.Buffers;
using System.Text;
using System.Text.Unicode;
using OctoMesh.Routing.Table;
using System.Text.Json;

namespace OctoMesh.Edge.Wire;

/// <summary>
/// One forward pass of <see cref="Utf8JsonReader"/> over a pooled request body: finds the fields the
/// gateway decides on, with their byte offsets, and checks their types. No DOM, no strings, no
/// allocation on a well-formed body; everything else in the body is skipped, not parsed into values.
/// </summary>
internal static class RequestInspector
{
    /// <summary>Longer model names are refused; it also bounds the stack buffer the alias lookup uses.</summary>
    public const int MaxModelBytes = 256;

    [Flags]
    private enum Field
    {
        None = 0,
        Model = 1,
        Stream = 2,
        StreamOptions = 4,
        Messages = 8,
        Input = 16,
        MaxTokens = 32,
        MaxCompletionTokens = 64,
        Tools = 128,
        Metadata = 256,
        Choices = 512,
    }

    private static readonly JsonReaderOptions s_readerOptions = new() { MaxDepth = 64 };

    public static InspectError Inspect(ReadOnlySpan<byte> body, ApiOperation operation, out InspectedRequest request)
    {
        request = default;
        request.StreamOptionsStart = -1;
        request.IncludeUsageStart = -1;
        request.TaskStart = -1;
        // The reader checks structure, not the UTF-8 inside strings; upstreams need both.
        if (!Utf8.IsValid(body))
        {
            request.ErrorOffset = FirstInvalidUtf8(body);
            return InspectError.InvalidJson;
        }
        var reader = new Utf8JsonReader(body, s_readerOptions);
        try
        {
            var error = InspectRoot(ref reader, operation, ref request);
            // Anything but white space after the root object is an error the reader raises here.
            if (error == InspectError.None && reader.Read())
            {
                error = InspectError.InvalidJson;
            }
            if (error == InspectError.InvalidJson)
            {
                request.ErrorOffset = reader.TokenStartIndex;
            }
            return error;
        }
        catch (JsonException)
        {
            request.ErrorOffset = reader.BytesConsumed;
            return InspectError.InvalidJson;
        }
    }

    private static int FirstInvalidUtf8(ReadOnlySpan<byte> body)
    {
        var offset = 0;
        while (Rune.DecodeFromUtf8(body[offset..], out _, out var consumed) == OperationStatus.Done)
        {
            offset += consumed;
        }
        return offset;
    }

    private static InspectError InspectRoot(ref Utf8JsonReader reader, ApiOperation operation, ref InspectedRequest request)
    {
        if (!reader.Read())
        {
            return InspectError.InvalidJson;
        }
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            return InspectError.NotAnObject;
        }

        var seen = Field.None;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var field = Classify(ref reader, operation);
            reader.Read();
            if (field == Field.None)
            {
                reader.Skip();
                continue;
            }
            if ((seen & field) != 0)
            {
                return Fail(ref request, InspectError.DuplicateField, NameOf(field));
            }
            seen |= field;
            var error = field switch
            {
                Field.Model => ReadModel(ref reader, ref request),
                Field.Stream => ReadStream(ref reader, ref request),
                Field.StreamOptions => ReadStreamOptions(ref reader, ref request),
                Field.Messages => ReadMessages(ref reader, ref request),
                Field.Input => ReadInput(ref reader, ref request),
                Field.MaxTokens or Field.MaxCompletionTokens => ReadMaxTokens(ref reader, ref request, field),
                Field.Tools => ReadTools(ref reader, ref request),
                Field.Metadata => ReadMetadata(ref reader, ref request),
                Field.Choices => ReadChoices(ref reader, ref request),
                _ => InspectError.None,
            };
            if (error != InspectError.None)
            {
                return error;
            }
        }
        request.RootEnd = (int)reader.TokenStartIndex;

        if ((seen & Field.Model) == 0)
        {
            return Fail(ref request, InspectError.MissingField, "model");
        }
        if (operation is ApiOperation.ChatCompletions or ApiOperation.Messages or ApiOperation.CountTokens && (seen & Field.Messages) == 0)
        {
            return Fail(ref request, InspectError.MissingField, "messages");
        }
        // Anthropic requires max_tokens; refusing here gives the same answer whichever provider serves the call.
        if (operation == ApiOperation.Messages && (seen & Field.MaxTokens) == 0)
        {
            return Fail(ref request, InspectError.MissingField, "max_tokens");
        }
        if (operation == ApiOperation.Messages && request.MaxTokens < 1)
        {
            return Fail(ref request, InspectError.InvalidValue, "max_tokens");
        }
        if (operation == ApiOperation.Embeddings && (seen & Field.Input) == 0)
        {
            return Fail(ref request, InspectError.MissingField, "input");
        }
        return InspectError.None;
    }

    private static Field Classify(ref Utf8JsonReader reader, ApiOperation operation)
    {
        if (reader.ValueTextEquals("model"u8)) return Field.Model;
        if (operation == ApiOperation.Embeddings)
        {
            return reader.ValueTextEquals("input"u8) ? Field.Input : Field.None;
        }
        if (reader.ValueTextEquals("messages"u8)) return Field.Messages;
        if (reader.ValueTextEquals("stream"u8)) return Field.Stream;
        if (operation.IsAnthropic())
        {
            if (reader.ValueTextEquals("max_tokens"u8)) return Field.MaxTokens;
            return reader.ValueTextEquals("tools"u8) ? Field.Tools : Field.None;
        }
        if (reader.ValueTextEquals("stream_options"u8)) return Field.StreamOptions;
        if (reader.ValueTextEquals("max_tokens"u8)) return Field.MaxTokens;
        if (reader.ValueTextEquals("max_completion_tokens"u8)) return Field.MaxCompletionTokens;
        if (reader.ValueTextEquals("tools"u8)) return Field.Tools;
        if (reader.ValueTextEquals("metadata"u8)) return Field.Metadata;
        if (reader.ValueTextEquals("n"u8)) return Field.Choices;
        return Field.None;
    }

    private static string NameOf(Field field) => field switch
    {
        Field.Model => "model",
        Field.Stream => "stream",
        Field.StreamOptions => "stream_options",
        Field.Messages => "messages",
        Field.Input => "input",
        Field.MaxTokens => "max_tokens",
        Field.MaxCompletionTokens => "max_completion_tokens",
        Field.Metadata => "metadata",
        Field.Choices => "n",
        _ => "tools",
    };

    private static InspectError ReadModel(ref Utf8JsonReader reader, ref InspectedRequest request)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            return Fail(ref request, InspectError.WrongType, "model");
        }
        if (reader.ValueSpan.Length is 0 or > MaxModelBytes || HasControlCharacter(ref reader))
        {
            return Fail(ref request, InspectError.InvalidValue, "model");
        }
        request.ModelStart = (int)reader.TokenStartIndex;
        request.ModelLength = reader.ValueSpan.Length + 2;
        request.ModelIsEscaped = reader.ValueIsEscaped;
        return InspectError.None;
    }

    /// <summary>
    /// Whether the string has a control character once unescaped (<c>"\r\n"</c>, <c>"\u0007"</c>): the model's name goes
    /// into response headers and upstream requests, where such a character cannot be, so it is refused before either.
    /// </summary>
    private static bool HasControlCharacter(ref Utf8JsonReader reader)
    {
        Span<byte> unescaped = stackalloc byte[MaxModelBytes];
        var value = reader.ValueIsEscaped ? unescaped[..reader.CopyString(unescaped)] : reader.ValueSpan;
        return value.IndexOfAnyInRange((byte)0, (byte)0x1F) >= 0 || value.Contains((byte)0x7F);
    }

    private static InspectError ReadStream(ref Utf8JsonReader reader, ref InspectedRequest request)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.True: request.Stream = true; return InspectError.None;
            case JsonTokenType.False or JsonTokenType.Null: return InspectError.None;
            default: return Fail(ref request, InspectError.WrongType, "stream");
        }
    }

    private static InspectError ReadStreamOptions(ref Utf8JsonReader reader, ref InspectedRequest request)
    {
        request.StreamOptionsStart = (int)reader.TokenStartIndex;
        if (reader.TokenType == JsonTokenType.Null)
        {
            request.StreamOptionsIsNull = true;
            return InspectError.None;
        }
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            return Fail(ref request, InspectError.WrongType, "stream_options");
        }
        request.StreamOptionsIsEmpty = true;
        var seenIncludeUsage = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            request.StreamOptionsIsEmpty = false;
            var isIncludeUsage = reader.ValueTextEquals("include_usage"u8);
            reader.Read();
            if (!isIncludeUsage)
            {
                reader.Skip();
                continue;
            }
            if (seenIncludeUsage)
            {
                return Fail(ref request, InspectError.DuplicateField, "stream_options.include_usage");
            }
            seenIncludeUsage = true;
            if (reader.TokenType is not (JsonTokenType.True or JsonTokenType.False))
            {
                return Fail(ref request, InspectError.WrongType, "stream_options.include_usage");
            }
            request.IncludeUsage = reader.TokenType == JsonTokenType.True;
            request.IncludeUsageStart = (int)reader.TokenStartIndex;
            request.IncludeUsageLength = request.IncludeUsage ? 4 : 5;
        }
        return InspectError.None;
    }

    private static InspectError ReadMessages(ref Utf8JsonReader reader, ref InspectedRequest request)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            return Fail(ref request, InspectError.WrongType, "messages");
        }
        var count = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                return Fail(ref request, InspectError.WrongType, "messages");
            }
            reader.Skip();
            count++;
        }
        request.ItemCount = count;
        return count == 0 ? Fail(ref request, InspectError.InvalidValue, "messages") : InspectError.None;
    }

    private static InspectError ReadInput(ref Utf8JsonReader reader, ref InspectedRequest request)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            request.ItemCount = 1;
            return reader.ValueSpan.Length == 0 ? Fail(ref request, InspectError.InvalidValue, "input") : InspectError.None;
        }
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            return Fail(ref request, InspectError.WrongType, "input");
        }
        var count = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.StartArray or JsonTokenType.Number))
            {
                return Fail(ref request, InspectError.WrongType, "input");
            }
            reader.Skip();
            count++;
        }
        request.ItemCount = count;
        return count == 0 ? Fail(ref request, InspectError.InvalidValue, "input") : InspectError.None;
    }

    private static InspectError ReadMaxTokens(ref Utf8JsonReader reader, ref InspectedRequest request, Field field)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return InspectError.None;
        }
        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out var value) || value < 0)
        {
            return Fail(ref request, reader.TokenType == JsonTokenType.Number ? InspectError.InvalidValue : InspectError.WrongType, NameOf(field));
        }
        // max_completion_tokens supersedes the deprecated max_tokens when both are present.
        if (field == Field.MaxCompletionTokens || request.MaxTokens == 0)
        {
            request.MaxTokens = value;
        }
        return InspectError.None;
    }

    /// <summary><c>n</c>: how many choices the model is asked for (budgets and token limits count each one's tokens).</summary>
    private static InspectError ReadChoices(ref Utf8JsonReader reader, ref InspectedRequest request)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return InspectError.None;
        }
        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out var value) || value < 1)
        {
            return Fail(ref request, reader.TokenType == JsonTokenType.Number ? InspectError.InvalidValue : InspectError.WrongType, "n");
        }
        request.Choices = value;
        return InspectError.None;
    }

    private static InspectError ReadTools(ref Utf8JsonReader reader, ref InspectedRequest request)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return InspectError.None;
        }
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            return Fail(ref request, InspectError.WrongType, "tools");
        }
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            request.HasTools = true;
            reader.Skip();
        }
        return InspectError.None;
    }

    /// <summary><c>metadata</c> is OpenAI's free-form object; its <c>task</c>, when a string, declares the request's task class.</summary>
    private static InspectError ReadMetadata(ref Utf8JsonReader reader, ref InspectedRequest request)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return InspectError.None;
        }
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isTask = reader.ValueTextEquals("task"u8);
            reader.Read();
            // A task that could not be a header value is no task (it is returned in x-octomesh-task).
            if (isTask && reader.TokenType == JsonTokenType.String && reader.ValueSpan.Length is > 0 and <= MaxModelBytes && !HasControlCharacter(ref reader))
            {
                request.TaskStart = (int)reader.TokenStartIndex;
                request.TaskLength = reader.ValueSpan.Length + 2;
            }
            else
            {
                reader.Skip();
            }
        }
        return InspectError.None;
    }

    /// <summary>
    /// The texts the task classifier judges, in one more pass over the body (only for requests that
    /// declared no task, when rules exist): the system prompt (system and developer messages, or
    /// Anthropic's <c>system</c>) and the last user turn, each a string or its text parts joined.
    /// </summary>
    public static TaskEvidence Evidence(ReadOnlySpan<byte> body, bool hasTools)
    {
        var system = new StringBuilder();
        var lastUser = "";
        var reader = new Utf8JsonReader(body, s_readerOptions);
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isSystem = reader.ValueTextEquals("system"u8);
            var isMessages = reader.ValueTextEquals("messages"u8);
            reader.Read();
            if (isSystem)
            {
                AppendText(ref reader, system);
            }
            else if (isMessages && reader.TokenType == JsonTokenType.StartArray)
            {
                while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
                {
                    string? role = null;
                    var text = new StringBuilder();
                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        var isRole = reader.ValueTextEquals("role"u8);
                        var isContent = reader.ValueTextEquals("content"u8);
                        reader.Read();
                        if (isRole && reader.TokenType == JsonTokenType.String)
                        {
                            role = reader.GetString();
                        }
                        else if (isContent)
                        {
                            AppendText(ref reader, text);
                        }
                        else
                        {
                            reader.Skip();
                        }
                    }
                    if (role is "system" or "developer")
                    {
                        system.Append(system.Length > 0 ? "\n" : "").Append(text);
                    }
                    else if (role == "user")
                    {
                        lastUser = text.ToString();
                    }
                }
            }
            else
            {
                reader.Skip();
            }
        }
        return new TaskEvidence(system.ToString(), lastUser, hasTools);
    }

    /// <summary>
    /// Whether a message carries an image: a content part of type <c>image_url</c> (OpenAI) or
    /// <c>image</c> (Anthropic). One more pass over the body, made only when some route matches on images.
    /// </summary>
    public static bool HasImages(ReadOnlySpan<byte> body)
    {
        var reader = new Utf8JsonReader(body, s_readerOptions);
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isMessages = reader.ValueTextEquals("messages"u8);
            reader.Read();
            if (!isMessages || reader.TokenType != JsonTokenType.StartArray)
            {
                reader.Skip();
                continue;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
            {
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var isContent = reader.ValueTextEquals("content"u8);
                    reader.Read();
                    if (isContent && reader.TokenType == JsonTokenType.StartArray && HasImagePart(ref reader))
                    {
                        return true;
                    }
                    if (reader.TokenType is JsonTokenType.StartArray or JsonTokenType.StartObject)
                    {
                        reader.Skip();
                    }
                }
            }
            return false;
        }
        return false;
    }

    /// <summary>Reads a content array's parts; true at the first image part (the reader then stops inside it).</summary>
    private static bool HasImagePart(ref Utf8JsonReader reader)
    {
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                reader.Skip();
                continue;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isType = reader.ValueTextEquals("type"u8);
                reader.Read();
                if (isType && reader.TokenType == JsonTokenType.String && (reader.ValueTextEquals("image_url"u8) || reader.ValueTextEquals("image"u8)))
                {
                    return true;
                }
                reader.Skip();
            }
        }
        return false;
    }

    /// <summary>A content value's text: the string, or the <c>text</c> of each part; the reader ends on the value's last token.</summary>
    private static void AppendText(ref Utf8JsonReader reader, StringBuilder text)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            text.Append(reader.GetString());
            return;
        }
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            reader.Skip();
            return;
        }
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                reader.Skip();
                continue;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isText = reader.ValueTextEquals("text"u8);
                reader.Read();
                if (isText && reader.TokenType == JsonTokenType.String)
                {
                    text.Append(text.Length > 0 ? "\n" : "").Append(reader.GetString());
                }
                else
                {
                    reader.Skip();
                }
            }
        }
    }

    /// <summary>The declared task (<c>metadata.task</c>), unescaped; null when the body declares none.</summary>
    public static string? Task(ReadOnlySpan<byte> body, in InspectedRequest request)
    {
        if (request.TaskStart < 0)
        {
            return null;
        }
        var reader = new Utf8JsonReader(body.Slice(request.TaskStart, request.TaskLength));
        reader.Read();
        return reader.GetString();
    }

    private static InspectError Fail(ref InspectedRequest request, InspectError error, string param)
    {
        request.ErrorParam = param;
        return error;
    }

    /// <summary>The model name, unescaped, as a string.</summary>
    public static string ModelName(ReadOnlySpan<byte> body, in InspectedRequest request)
    {
        Span<char> name = stackalloc char[MaxModelBytes];
        return new string(name[..CopyModel(body, request, name)]);
    }

    /// <summary>Writes the model name, unescaped, as UTF-16 into <paramref name="destination"/> (at least <see cref="MaxModelBytes"/> long).</summary>
    public static int CopyModel(ReadOnlySpan<byte> body, in InspectedRequest request, Span<char> destination)
    {
        var token = body.Slice(request.ModelStart, request.ModelLength);
        if (!request.ModelIsEscaped)
        {
            return Encoding.UTF8.GetChars(token[1..^1], destination);
        }
        var reader = new Utf8JsonReader(token);
        reader.Read();
        return reader.CopyString(destination);
    }

    /// <summary>A message that tells the client what to change, in the words OpenAI's API uses where it has them.</summary>
    public static string Describe(InspectError error, in InspectedRequest request) => error switch
    {
        InspectError.InvalidJson => $"We could not parse the JSON body of your request (error near byte {request.ErrorOffset}). Send a JSON object such as {{\"model\": \"…\", \"messages\": […]}}.",
        InspectError.NotAnObject => "The request body must be a JSON object.",
        InspectError.DuplicateField => $"The field '{request.ErrorParam}' appears more than once. Send it once.",
        InspectError.MissingField => $"Missing required parameter: '{request.ErrorParam}'.",
        InspectError.WrongType => $"Invalid type for '{request.ErrorParam}': expected {ExpectedType(request.ErrorParam)}.",
        InspectError.InvalidValue => request.ErrorParam switch
        {
            "model" => $"Invalid 'model': expected a non-empty model name of at most {MaxModelBytes} bytes, without control characters.",
            "messages" or "input" => $"Invalid '{request.ErrorParam}': empty. Expected at least one item.",
            "max_tokens" => "Invalid 'max_tokens': expected a positive integer.",
            "n" => "Invalid 'n': expected a positive integer (the number of choices).",
            _ => $"Invalid '{request.ErrorParam}': expected a non-negative integer.",
        },
        _ => "The request is malformed.",
    };

    private static string ExpectedType(string? param) => param switch
    {
        "model" => "a string",
        "stream" or "stream_options.include_usage" => "a boolean",
        "stream_options" => "an object",
        "messages" => "an array of message objects",
        "input" => "a string or an array",
        "tools" => "an array",
        _ => "an integer",
    };
}
