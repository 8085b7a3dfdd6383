using System.Buffers;
using System.IO.Pipelines;
using System.Text.Encodings.Web;
using System.Text.Json;
using OctoMesh.Edge.Wire;

namespace OctoMesh.Edge.Providers.Gemini;

/// <summary>
/// Gemini's <c>streamGenerateContent?alt=sse</c> stream (each event a whole <c>GenerateContentResponse</c>
/// with the next parts) as OpenAI chunks: the first event starts the stream (id from <c>responseId</c>,
/// model from <c>modelVersion</c>), text parts become content chunks, a <c>functionCall</c> part a whole
/// tool call (Gemini sends calls in one piece), thought parts are left out; the event that carries
/// <c>finishReason</c> ends it with the finish chunk, the usage chunk when asked for, and <c>[DONE]</c>.
/// An <c>error</c> object in the stream becomes an OpenAI error event.
/// </summary>
internal sealed class GeminiStreamTranslator(bool includeUsage, string requestedModel) : SseStreamHandler
{
    private readonly OpenAIChunkWriter _chunks = new(includeUsage);
    private int _toolCalls;
    private int _prompt, _candidates, _cached, _thoughts;

    public override void Handle(in SseEvent sseEvent, ReadOnlySpan<byte> data, PipeWriter client)
    {
        if (data.IsEmpty || IsComplete)
        {
            return;
        }
        try
        {
            if (!_chunks.HasStarted)
            {
                StartFrom(data, client);
            }
            Translate(data, client);
        }
        catch (JsonException)
        {
            // An event that is not JSON carries nothing to translate.
        }
    }

    /// <summary><c>responseId</c> and <c>modelVersion</c> come after the candidates, so the first event is read twice.</summary>
    private void StartFrom(ReadOnlySpan<byte> data, PipeWriter client)
    {
        var reader = new Utf8JsonReader(data);
        ReadOnlySpan<byte> id = "chatcmpl-gemini"u8, model = default;
        if (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
        {
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isId = reader.ValueTextEquals("responseId"u8);
                var isModel = reader.ValueTextEquals("modelVersion"u8);
                reader.Read();
                if (isId && reader.TokenType == JsonTokenType.String)
                {
                    id = reader.ValueSpan;
                }
                else if (isModel && reader.TokenType == JsonTokenType.String)
                {
                    model = reader.ValueSpan;
                }
                else
                {
                    reader.Skip();
                }
            }
        }
        _chunks.Start(client, id, model.IsEmpty ? JsonEncodedText.Encode(requestedModel).EncodedUtf8Bytes : model);
    }

    private void Translate(ReadOnlySpan<byte> data, PipeWriter client)
    {
        var reader = new Utf8JsonReader(data);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return;
        }
        string? finishReason = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isCandidates = reader.ValueTextEquals("candidates"u8);
            var isUsage = reader.ValueTextEquals("usageMetadata"u8);
            var isError = reader.ValueTextEquals("error"u8);
            reader.Read();
            if (isCandidates && reader.TokenType == JsonTokenType.StartArray)
            {
                finishReason = ReadCandidates(ref reader, data, client) ?? finishReason;
            }
            else if (isUsage && reader.TokenType == JsonTokenType.StartObject)
            {
                ReadUsage(ref reader);
            }
            else if (isError && reader.TokenType == JsonTokenType.StartObject)
            {
                Fail(ref reader, client);
                return;
            }
            else
            {
                reader.Skip();
            }
        }
        if (finishReason is not null)
        {
            Usage = GeminiUsage.ToOpenAI(_prompt, _candidates, _cached, _thoughts);
            _chunks.Finish(client, System.Text.Encoding.ASCII.GetBytes(GeminiUsage.FinishReason(finishReason, _toolCalls > 0)), Usage.Value);
            IsComplete = true;
        }
    }

    /// <summary>Writes the first candidate's parts; returns its finish reason, if this event has one.</summary>
    private string? ReadCandidates(ref Utf8JsonReader reader, ReadOnlySpan<byte> data, PipeWriter client)
    {
        string? finishReason = null;
        var first = true;
        while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
        {
            if (!first)
            {
                reader.Skip();
                continue;
            }
            first = false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isContent = reader.ValueTextEquals("content"u8);
                var isFinish = reader.ValueTextEquals("finishReason"u8);
                reader.Read();
                if (isContent && reader.TokenType == JsonTokenType.StartObject)
                {
                    ReadContent(ref reader, data, client);
                }
                else if (isFinish && reader.TokenType == JsonTokenType.String)
                {
                    finishReason = reader.GetString();
                }
                else
                {
                    reader.Skip();
                }
            }
        }
        return finishReason;
    }

    private void ReadContent(ref Utf8JsonReader reader, ReadOnlySpan<byte> data, PipeWriter client)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isParts = reader.ValueTextEquals("parts"u8);
            reader.Read();
            if (!isParts || reader.TokenType != JsonTokenType.StartArray)
            {
                reader.Skip();
                continue;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
            {
                ReadPart(ref reader, data, client);
            }
        }
    }

    private void ReadPart(ref Utf8JsonReader reader, ReadOnlySpan<byte> data, PipeWriter client)
    {
        ReadOnlySpan<byte> text = default, name = default, args = "{}"u8;
        bool thought = false, isCall = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isText = reader.ValueTextEquals("text"u8);
            var isThought = reader.ValueTextEquals("thought"u8);
            var isFunctionCall = reader.ValueTextEquals("functionCall"u8);
            reader.Read();
            if (isText && reader.TokenType == JsonTokenType.String)
            {
                text = reader.ValueSpan;
            }
            else if (isThought)
            {
                thought = reader.TokenType == JsonTokenType.True;
            }
            else if (isFunctionCall && reader.TokenType == JsonTokenType.StartObject)
            {
                isCall = true;
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var isName = reader.ValueTextEquals("name"u8);
                    var isArgs = reader.ValueTextEquals("args"u8);
                    reader.Read();
                    if (isName && reader.TokenType == JsonTokenType.String)
                    {
                        name = reader.ValueSpan;
                    }
                    else if (isArgs && reader.TokenType == JsonTokenType.StartObject)
                    {
                        var start = (int)reader.TokenStartIndex;
                        reader.Skip();
                        args = data[start..((int)reader.TokenStartIndex + 1)];
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
        if (thought)
        {
            return;
        }
        if (isCall)
        {
            // Gemini sends a call whole and without an id; OpenAI clients get call_N and the arguments as one fragment.
            var tool = _toolCalls++;
            Span<byte> id = stackalloc byte[16];
            "call_"u8.CopyTo(id);
            System.Buffers.Text.Utf8Formatter.TryFormat(tool, id[5..], out var digits);
            _chunks.WriteToolStart(client, tool, id[..(5 + digits)], name);
            _chunks.WriteArguments(client, tool, JsonEncodedText.Encode(args, JavaScriptEncoder.UnsafeRelaxedJsonEscaping).EncodedUtf8Bytes);
        }
        else if (!text.IsEmpty)
        {
            _chunks.WriteText(client, text);
        }
    }

    private void ReadUsage(ref Utf8JsonReader reader)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            ref var target = ref _prompt;
            var known = true;
            if (reader.ValueTextEquals("promptTokenCount"u8)) target = ref _prompt;
            else if (reader.ValueTextEquals("candidatesTokenCount"u8)) target = ref _candidates;
            else if (reader.ValueTextEquals("cachedContentTokenCount"u8)) target = ref _cached;
            else if (reader.ValueTextEquals("thoughtsTokenCount"u8)) target = ref _thoughts;
            else known = false;
            reader.Read();
            if (known && reader.TokenType == JsonTokenType.Number)
            {
                target = reader.GetInt32();
            }
            else
            {
                reader.Skip();
            }
        }
    }

    private void Fail(ref Utf8JsonReader reader, PipeWriter client)
    {
        int status = 500;
        string? message = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isCode = reader.ValueTextEquals("code"u8);
            var isMessage = reader.ValueTextEquals("message"u8);
            reader.Read();
            if (isCode && reader.TokenType == JsonTokenType.Number)
            {
                status = reader.GetInt32();
            }
            else if (isMessage && reader.TokenType == JsonTokenType.String)
            {
                message = reader.GetString();
            }
            else
            {
                reader.Skip();
            }
        }
        var (type, code) = GeminiUsage.ToOpenAIError(status);
        client.Write(OpenAIError.SerializeEvent(message ?? "The upstream provider reported an error.", type, code));
        Usage = GeminiUsage.ToOpenAI(_prompt, _candidates, _cached, _thoughts);
        IsFailed = true;
    }
}
