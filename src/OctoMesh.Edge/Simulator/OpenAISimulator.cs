using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using OctoMesh.Edge.Wire;

namespace OctoMesh.Edge.Simulator;

/// <summary>
/// OpenAI's Chat Completions, Embeddings and Models endpoints, byte-compatible with the public API
/// reference (see README.md beside this file for the sections followed): same field order, same
/// stream framing, same usage and error shapes.
/// </summary>
internal sealed class OpenAISimulator(SimulatorStats stats)
{
    private const string Fingerprint = "fp_octomesh_sim";
    private static readonly byte[] s_dataPrefix = "data: "u8.ToArray();
    private static readonly byte[] s_eventEnd = "\n\n"u8.ToArray();
    private static readonly byte[] s_done = "data: [DONE]\n\n"u8.ToArray();
    private static long s_sequence;

    public async Task ChatCompletionsAsync(HttpContext context)
    {
        stats.CountChat();
        using var document = await ReadJsonAsync(context);
        if (document is null)
        {
            return;
        }
        stats.RecordChat(context.Request, document.RootElement.GetRawText());
        var request = SimParse.Safely((out string? e) => SimChatRequest.Parse(document.RootElement, out e), out var error);
        if (request is null)
        {
            await WriteErrorAsync(context.Response, 400, error!, "invalid_request_error", null);
            return;
        }
        var model = SimulatedModel.For(request.Model);
        var knobs = SimKnobs.From(context.Request.Headers, model);
        if (await SimExchange.InjectFaultAsync(context, knobs, WriteFaultAsync))
        {
            return;
        }

        var answer = SimulatedAnswer.Create(request, model, knobs);
        var id = $"chatcmpl-sim{Interlocked.Increment(ref s_sequence):x8}{SimulatedAnswer.Seed(request.Model, request.LastUserText) & 0xffffffff:x8}";
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var usage = new TokenUsage(request.PromptTokens, answer.CompletionTokens + knobs.ReasoningTokens,
            request.PromptTokens + answer.CompletionTokens + knobs.ReasoningTokens, Math.Min(knobs.CachedTokens, request.PromptTokens), knobs.ReasoningTokens);
        await SimExchange.AnswerAsync(context, stats, knobs, answer.CompletionTokens, request.Stream,
            () => StreamAsync(context, request, answer, knobs, id, created, usage), () => WriteCompletionAsync(context, request, answer, knobs, id, created, usage));
    }

    /// <summary>
    /// Azure OpenAI's deployment routes (<c>/openai/deployments/{deployment}/…?api-version=…</c>, key in
    /// <c>api-key</c>): checked as Azure checks them, then answered as OpenAI's endpoint.
    /// </summary>
    public async Task AzureAsync(HttpContext context)
    {
        if (string.IsNullOrEmpty(context.Request.Query["api-version"]))
        {
            await WriteErrorAsync(context.Response, 404, "Resource not found", "invalid_request_error", "404");
            return;
        }
        if (string.IsNullOrEmpty(context.Request.Headers["api-key"]))
        {
            await WriteErrorAsync(context.Response, 401, "Access denied due to invalid subscription key or wrong API endpoint.", "invalid_request_error", "401");
            return;
        }
        await (context.Request.RouteValues["operation"] as string == "embeddings" ? EmbeddingsAsync(context) : ChatCompletionsAsync(context));
    }

    public async Task EmbeddingsAsync(HttpContext context)
    {
        stats.CountEmbeddings();
        using var document = await ReadJsonAsync(context);
        if (document is null)
        {
            return;
        }
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.String
            || !root.TryGetProperty("input", out var input))
        {
            await WriteErrorAsync(context.Response, 400, "Missing required parameter: 'model' or 'input'.", "invalid_request_error", null);
            return;
        }
        var knobs = SimKnobs.From(context.Request.Headers, SimulatedModel.For(model.GetString()!));
        if (await SimExchange.InjectFaultAsync(context, knobs, WriteFaultAsync))
        {
            return;
        }
        var texts = input.ValueKind switch
        {
            JsonValueKind.String => [input.GetString()!],
            JsonValueKind.Array => input.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString()! : e.GetRawText()).ToList(),
            _ => new List<string>(),
        };
        var dimensions = root.TryGetProperty("dimensions", out var d) && d.TryGetInt32(out var dims) && dims is > 0 and <= 8192
            ? dims
            : model.GetString() == "text-embedding-3-large" ? 3072 : 1536;
        var base64 = root.TryGetProperty("encoding_format", out var format) && format.ValueEquals("base64");

        var buffer = new ArrayBufferWriter<byte>(dimensions * 12 * texts.Count + 256);
        using (var writer = new Utf8JsonWriter(buffer, OpenAIError.WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("object", "list");
            writer.WriteStartArray("data");
            var tokens = 0;
            for (var i = 0; i < texts.Count; i++)
            {
                tokens += SimTokenizer.Count(texts[i]);
                var vector = SimEmbedding.Embed(texts[i], dimensions);
                writer.WriteStartObject();
                writer.WriteString("object", "embedding");
                writer.WriteNumber("index", i);
                if (base64)
                {
                    writer.WriteBase64String("embedding", MemoryMarshal.AsBytes(vector.AsSpan()));
                }
                else
                {
                    writer.WriteStartArray("embedding");
                    foreach (var value in vector)
                    {
                        writer.WriteNumberValue(value);
                    }
                    writer.WriteEndArray();
                }
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteString("model", model.GetString());
            writer.WriteStartObject("usage");
            writer.WriteNumber("prompt_tokens", tokens);
            writer.WriteNumber("total_tokens", tokens);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = buffer.WrittenCount;
        await context.Response.Body.WriteAsync(buffer.WrittenMemory);
    }

    public Task ModelsAsync(HttpContext context)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer, OpenAIError.WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("object", "list");
            writer.WriteStartArray("data");
            foreach (var model in SimulatedModel.Catalogue)
            {
                writer.WriteStartObject();
                writer.WriteString("id", model.Name);
                writer.WriteString("object", "model");
                writer.WriteNumber("created", 1_700_000_000);
                writer.WriteString("owned_by", "octomesh-sim");
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        context.Response.ContentType = "application/json";
        return context.Response.Body.WriteAsync(buffer.WrittenMemory).AsTask();
    }

    private static async Task<JsonDocument?> ReadJsonAsync(HttpContext context)
    {
        try
        {
            return await JsonDocument.ParseAsync(context.Request.Body, default, context.RequestAborted);
        }
        catch (JsonException)
        {
            await WriteErrorAsync(context.Response, 400, "We could not parse the JSON body of your request.", "invalid_request_error", null);
            return null;
        }
    }

    private static Task WriteFaultAsync(HttpResponse response, SimFault fault, SimKnobs knobs) => fault switch
    {
        SimFault.BadRequest => WriteErrorAsync(response, 400, "Invalid request (simulated).", "invalid_request_error", null),
        SimFault.Unauthorized => WriteErrorAsync(response, 401, "Incorrect API key provided (simulated).", "invalid_request_error", "invalid_api_key"),
        SimFault.RateLimited => WriteErrorAsync(response, 429, $"Rate limit reached for requests (simulated). Please try again in {knobs.RetryAfterSeconds}s.", "requests", "rate_limit_exceeded"),
        SimFault.ServerError => WriteErrorAsync(response, 500, "The server had an error while processing your request. Sorry about that!", "server_error", null),
        _ => WriteErrorAsync(response, 503, "The engine is currently overloaded, please try again later.", "server_error", null),
    };

    private static Task WriteErrorAsync(HttpResponse response, int status, string message, string type, string? code) =>
        OpenAIError.WriteAsync(response, status, message, type, null, code);

    private static async Task WriteCompletionAsync(HttpContext context, SimChatRequest request, SimulatedAnswer answer, SimKnobs knobs,
        string id, long created, TokenUsage usage)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer, OpenAIError.WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("id", id);
            writer.WriteString("object", "chat.completion");
            writer.WriteNumber("created", created);
            writer.WriteString("model", request.Model);
            writer.WriteStartArray("choices");
            writer.WriteStartObject();
            writer.WriteNumber("index", 0);
            writer.WriteStartObject("message");
            writer.WriteString("role", "assistant");
            if (answer.ToolCalls.Count > 0)
            {
                writer.WriteNull("content");
            }
            else
            {
                writer.WriteString("content", answer.Text);
            }
            writer.WriteNull("refusal");
            if (answer.ToolCalls.Count > 0)
            {
                writer.WriteStartArray("tool_calls");
                foreach (var call in answer.ToolCalls)
                {
                    writer.WriteStartObject();
                    writer.WriteString("id", call.Id);
                    writer.WriteString("type", "function");
                    writer.WriteStartObject("function");
                    writer.WriteString("name", call.Name);
                    writer.WriteString("arguments", call.Arguments);
                    writer.WriteEndObject();
                    writer.WriteEndObject();
                }
                writer.WriteEndArray();
            }
            writer.WriteStartArray("annotations");
            writer.WriteEndArray();
            writer.WriteEndObject();
            writer.WriteNull("logprobs");
            writer.WriteString("finish_reason", answer.FinishReason);
            writer.WriteEndObject();
            writer.WriteEndArray();
            WriteUsage(writer, usage);
            writer.WriteString("service_tier", "default");
            writer.WriteString("system_fingerprint", Fingerprint);
            writer.WriteEndObject();
        }

        await SimExchange.WriteBodyAsync(context, buffer, "application/json", knobs);
    }

    /// <summary>
    /// The chunk sequence of a streamed completion: a role chunk, one chunk per token (or per tool-call
    /// fragment), a finish chunk, the usage chunk when asked for, then <c>data: [DONE]</c>.
    /// </summary>
    private static async Task StreamAsync(HttpContext context, SimChatRequest request, SimulatedAnswer answer, SimKnobs knobs,
        string id, long created, TokenUsage usage)
    {
        var response = context.Response;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        var pipe = response.BodyWriter;
        var chunk = new ChunkWriter(pipe, id, created, request.Model, request.IncludeUsage);
        var ct = context.RequestAborted;
        var sent = 0;

        async Task SendAsync()
        {
            await pipe.FlushAsync(ct);
            sent++;
            if (knobs.Fault == SimFault.Cut && sent >= knobs.CutAfter)
            {
                await AbortAfterDeliveryAsync(context);
                throw new OperationCanceledException("simulated cut");
            }
            if (knobs.Fault == SimFault.StreamError && sent >= knobs.CutAfter)
            {
                pipe.Write(s_dataPrefix);
                pipe.Write(OpenAIError.Serialize("The server had an error while processing your request. Sorry about that!", "server_error", null, null));
                pipe.Write(s_eventEnd);
                await pipe.FlushAsync(ct);
                throw new OperationCanceledException("simulated stream error");
            }
            if (knobs.TimePerTokenMs > 0)
            {
                await Task.Delay(knobs.TimePerTokenMs, ct);
            }
        }

        if (answer.ToolCalls.Count == 0)
        {
            chunk.Write(w => { w.WriteString("role", "assistant"); w.WriteString("content", ""); w.WriteNull("refusal"); }, null);
            await SendAsync();
            foreach (var token in answer.Tokens)
            {
                chunk.Write(w => w.WriteString("content", token), null);
                await SendAsync();
            }
        }
        else
        {
            for (var i = 0; i < answer.ToolCalls.Count; i++)
            {
                var call = answer.ToolCalls[i];
                var index = i;
                chunk.Write(w =>
                {
                    if (index == 0)
                    {
                        w.WriteString("role", "assistant");
                        w.WriteNull("content");
                    }
                    w.WriteStartArray("tool_calls");
                    w.WriteStartObject();
                    w.WriteNumber("index", index);
                    w.WriteString("id", call.Id);
                    w.WriteString("type", "function");
                    w.WriteStartObject("function");
                    w.WriteString("name", call.Name);
                    w.WriteString("arguments", "");
                    w.WriteEndObject();
                    w.WriteEndObject();
                    w.WriteEndArray();
                    if (index == 0)
                    {
                        w.WriteNull("refusal");
                    }
                }, null);
                await SendAsync();
                // Arguments arrive in fragments of up to 8 characters, as the real API splits them.
                for (var at = 0; at < call.Arguments.Length; at += 8)
                {
                    var fragment = call.Arguments.Substring(at, Math.Min(8, call.Arguments.Length - at));
                    chunk.Write(w =>
                    {
                        w.WriteStartArray("tool_calls");
                        w.WriteStartObject();
                        w.WriteNumber("index", index);
                        w.WriteStartObject("function");
                        w.WriteString("arguments", fragment);
                        w.WriteEndObject();
                        w.WriteEndObject();
                        w.WriteEndArray();
                    }, null);
                    await SendAsync();
                }
            }
        }

        chunk.Write(_ => { }, answer.FinishReason);
        if (request.IncludeUsage)
        {
            chunk.WriteUsage(usage);
        }
        pipe.Write(s_done);
        await pipe.FlushAsync(ct);
    }

    /// <summary>
    /// Drops the connection once what was sent has had time to arrive: a reset that overtakes unread
    /// bytes makes the peer's kernel discard them, which would turn "cut mid-way" into "never answered".
    /// </summary>
    internal static async Task AbortAfterDeliveryAsync(HttpContext context)
    {
        // Generous on purpose: a busy test machine must not turn a cut into a reset.
        await Task.Delay(250);
        context.Abort();
    }

    private static void WriteUsage(Utf8JsonWriter writer, TokenUsage usage)
    {
        writer.WriteStartObject("usage");
        writer.WriteNumber("prompt_tokens", usage.PromptTokens);
        writer.WriteNumber("completion_tokens", usage.CompletionTokens);
        writer.WriteNumber("total_tokens", usage.TotalTokens);
        writer.WriteStartObject("prompt_tokens_details");
        writer.WriteNumber("cached_tokens", usage.CachedTokens);
        writer.WriteNumber("audio_tokens", 0);
        writer.WriteEndObject();
        writer.WriteStartObject("completion_tokens_details");
        writer.WriteNumber("reasoning_tokens", usage.ReasoningTokens);
        writer.WriteNumber("audio_tokens", 0);
        writer.WriteNumber("accepted_prediction_tokens", 0);
        writer.WriteNumber("rejected_prediction_tokens", 0);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    /// <summary>Writes <c>data: {chunk}\n\n</c> events straight into the response pipe.</summary>
    private sealed class ChunkWriter(PipeWriter pipe, string id, long created, string model, bool includeUsage)
    {
        private readonly Utf8JsonWriter _writer = new(pipe, OpenAIError.WriterOptions);

        public void Write(Action<Utf8JsonWriter> delta, string? finishReason)
        {
            Begin();
            _writer.WriteStartArray("choices");
            _writer.WriteStartObject();
            _writer.WriteNumber("index", 0);
            _writer.WriteStartObject("delta");
            delta(_writer);
            _writer.WriteEndObject();
            _writer.WriteNull("logprobs");
            if (finishReason is null)
            {
                _writer.WriteNull("finish_reason");
            }
            else
            {
                _writer.WriteString("finish_reason", finishReason);
            }
            _writer.WriteEndObject();
            _writer.WriteEndArray();
            if (includeUsage)
            {
                _writer.WriteNull("usage");
            }
            End();
        }

        public void WriteUsage(TokenUsage usage)
        {
            Begin();
            _writer.WriteStartArray("choices");
            _writer.WriteEndArray();
            OpenAISimulator.WriteUsage(_writer, usage);
            End();
        }

        private void Begin()
        {
            pipe.Write(s_dataPrefix);
            _writer.Reset(pipe);
            _writer.WriteStartObject();
            _writer.WriteString("id", id);
            _writer.WriteString("object", "chat.completion.chunk");
            _writer.WriteNumber("created", created);
            _writer.WriteString("model", model);
            _writer.WriteString("service_tier", "default");
            _writer.WriteString("system_fingerprint", Fingerprint);
        }

        private void End()
        {
            _writer.WriteEndObject();
            _writer.Flush();
            pipe.Write(s_eventEnd);
        }
    }
}
