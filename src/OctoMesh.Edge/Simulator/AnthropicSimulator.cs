using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using OctoMesh.Edge.Wire;

namespace OctoMesh.Edge.Simulator;

/// <summary>
/// Anthropic's Messages endpoint, written as the public API reference documents it (see README.md
/// beside this file): the message object, the streaming event sequence, tool use, usage with cache
/// reads and writes apart, and Anthropic's error shape. Answers come from <see cref="SimulatedAnswer"/>,
/// so a question gets the same answer here as through the OpenAI endpoint.
/// </summary>
internal sealed class AnthropicSimulator(SimulatorStats stats)
{
    private static long s_sequence;

    public async Task MessagesAsync(HttpContext context)
    {
        stats.CountChat();
        var response = context.Response;
        if (string.IsNullOrEmpty(context.Request.Headers["anthropic-version"]))
        {
            await WriteErrorAsync(response, 400, "invalid_request_error", "anthropic-version: header is required");
            return;
        }
        if (string.IsNullOrEmpty(context.Request.Headers["x-api-key"]))
        {
            await WriteErrorAsync(response, 401, "authentication_error", "x-api-key header is required");
            return;
        }
        if (await ReadJsonAsync(context) is not { } document)
        {
            return;
        }
        using (document)
        {
            stats.RecordChat(context.Request, document.RootElement.GetRawText());
            var request = SimParse.Safely((out string? e) => SimChatRequest.ParseAnthropic(document.RootElement, out e), out var error);
            if (request is null)
            {
                await WriteErrorAsync(response, 400, "invalid_request_error", error!);
                return;
            }
            var model = SimulatedModel.For(request.Model);
            var knobs = SimKnobs.From(context.Request.Headers, model);
            if (await SimExchange.InjectFaultAsync(context, knobs, WriteFaultAsync))
            {
                return;
            }

            var answer = SimulatedAnswer.Create(request, model, knobs);
            var id = $"msg_sim{Interlocked.Increment(ref s_sequence):x8}{SimulatedAnswer.Seed(request.Model, request.LastUserText) & 0xffffffff:x8}";
            var cacheRead = Math.Min(knobs.CachedTokens, request.PromptTokens);
            var cacheWrite = Math.Min(knobs.CacheWriteTokens, request.PromptTokens - cacheRead);
            var usage = new Usage(request.PromptTokens - cacheRead - cacheWrite, cacheWrite, cacheRead, answer.CompletionTokens);
            await SimExchange.AnswerAsync(context, stats, knobs, answer.CompletionTokens, request.Stream,
                () => StreamAsync(context, request, answer, knobs, id, usage), () => WriteMessageAsync(context, request, answer, knobs, id, usage));
        }
    }

    /// <summary><c>POST /v1/messages/count_tokens</c>: <c>{"input_tokens": N}</c> by the prompt rule (Anthropic API reference, "Count Message tokens").</summary>
    public async Task CountTokensAsync(HttpContext context)
    {
        var response = context.Response;
        if (string.IsNullOrEmpty(context.Request.Headers["x-api-key"]))
        {
            await WriteErrorAsync(response, 401, "authentication_error", "x-api-key header is required");
            return;
        }
        if (await ReadJsonAsync(context) is not { } document)
        {
            return;
        }
        using (document)
        {
            var request = SimParse.Safely((out string? e) => SimChatRequest.ParseAnthropic(document.RootElement, out e, countOnly: true), out var error);
            if (request is null)
            {
                await WriteErrorAsync(response, 400, "invalid_request_error", error!);
                return;
            }
            var body = System.Text.Encoding.UTF8.GetBytes($"{{\"input_tokens\":{request.PromptTokens}}}");
            response.ContentType = "application/json";
            response.ContentLength = body.Length;
            await response.Body.WriteAsync(body);
        }
    }

    /// <summary>Anthropic's usage: <c>input_tokens</c> excludes the cache reads and writes reported beside it.</summary>
    private readonly record struct Usage(int Input, int CacheWrite, int CacheRead, int Output);

    private static string StopReason(SimulatedAnswer answer) => answer.FinishReason switch
    {
        "length" => "max_tokens",
        "tool_calls" => "tool_use",
        _ => answer.StopSequence is null ? "end_turn" : "stop_sequence",
    };

    private static void WriteUsage(Utf8JsonWriter writer, Usage usage, bool outputOnly)
    {
        writer.WriteStartObject("usage");
        if (!outputOnly)
        {
            writer.WriteNumber("input_tokens", usage.Input);
            writer.WriteNumber("cache_creation_input_tokens", usage.CacheWrite);
            writer.WriteNumber("cache_read_input_tokens", usage.CacheRead);
        }
        writer.WriteNumber("output_tokens", usage.Output);
        writer.WriteEndObject();
    }

    private static void WriteToolUse(Utf8JsonWriter writer, SimToolCall call, bool emptyInput)
    {
        writer.WriteString("type", "tool_use");
        writer.WriteString("id", "toolu_" + call.Id["call_".Length..]);
        writer.WriteString("name", call.Name);
        writer.WritePropertyName("input");
        if (emptyInput)
        {
            writer.WriteStartObject();
            writer.WriteEndObject();
        }
        else
        {
            writer.WriteRawValue(call.Arguments);
        }
    }

    private static async Task WriteMessageAsync(HttpContext context, SimChatRequest request, SimulatedAnswer answer, SimKnobs knobs, string id, Usage usage)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer, OpenAIError.WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("id", id);
            writer.WriteString("type", "message");
            writer.WriteString("role", "assistant");
            writer.WriteString("model", request.Model);
            writer.WriteStartArray("content");
            if (answer.ToolCalls.Count == 0)
            {
                writer.WriteStartObject();
                writer.WriteString("type", "text");
                writer.WriteString("text", answer.Text);
                writer.WriteEndObject();
            }
            foreach (var call in answer.ToolCalls)
            {
                writer.WriteStartObject();
                WriteToolUse(writer, call, emptyInput: false);
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteString("stop_reason", StopReason(answer));
            if (answer.StopSequence is null)
            {
                writer.WriteNull("stop_sequence");
            }
            else
            {
                writer.WriteString("stop_sequence", answer.StopSequence);
            }
            WriteUsage(writer, usage, outputOnly: false);
            writer.WriteEndObject();
        }
        await SimExchange.WriteBodyAsync(context, buffer, "application/json", knobs);
    }

    /// <summary>
    /// message_start, then per block content_block_start / deltas / content_block_stop (a ping after
    /// the first start, as the API sends), message_delta with the stop reason and output usage, message_stop.
    /// </summary>
    private static async Task StreamAsync(HttpContext context, SimChatRequest request, SimulatedAnswer answer, SimKnobs knobs, string id, Usage usage)
    {
        var response = context.Response;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        var pipe = response.BodyWriter;
        var events = new EventWriter(pipe);
        var ct = context.RequestAborted;
        var sent = 0;

        async Task SendAsync()
        {
            await pipe.FlushAsync(ct);
            sent++;
            if (knobs.Fault == SimFault.Cut && sent >= knobs.CutAfter)
            {
                await OpenAISimulator.AbortAfterDeliveryAsync(context);
                throw new OperationCanceledException("simulated cut");
            }
            if (knobs.Fault == SimFault.StreamError && sent >= knobs.CutAfter)
            {
                events.Write("error", w =>
                {
                    w.WriteString("type", "error");
                    w.WriteStartObject("error");
                    w.WriteString("type", "overloaded_error");
                    w.WriteString("message", "Overloaded");
                    w.WriteEndObject();
                });
                await pipe.FlushAsync(ct);
                throw new OperationCanceledException("simulated stream error");
            }
            if (knobs.TimePerTokenMs > 0)
            {
                await Task.Delay(knobs.TimePerTokenMs, ct);
            }
        }

        events.Write("message_start", w =>
        {
            w.WriteString("type", "message_start");
            w.WriteStartObject("message");
            w.WriteString("id", id);
            w.WriteString("type", "message");
            w.WriteString("role", "assistant");
            w.WriteString("model", request.Model);
            w.WriteStartArray("content");
            w.WriteEndArray();
            w.WriteNull("stop_reason");
            w.WriteNull("stop_sequence");
            WriteUsage(w, usage with { Output = 1 }, outputOnly: false);
            w.WriteEndObject();
        });
        await SendAsync();

        var index = 0;
        if (answer.ToolCalls.Count == 0)
        {
            events.Write("content_block_start", w =>
            {
                w.WriteString("type", "content_block_start");
                w.WriteNumber("index", 0);
                w.WriteStartObject("content_block");
                w.WriteString("type", "text");
                w.WriteString("text", "");
                w.WriteEndObject();
            });
            events.Write("ping", w => w.WriteString("type", "ping"));
            await SendAsync();
            foreach (var token in answer.Tokens)
            {
                events.Write("content_block_delta", w =>
                {
                    w.WriteString("type", "content_block_delta");
                    w.WriteNumber("index", 0);
                    w.WriteStartObject("delta");
                    w.WriteString("type", "text_delta");
                    w.WriteString("text", token);
                    w.WriteEndObject();
                });
                await SendAsync();
            }
            events.Write("content_block_stop", w => { w.WriteString("type", "content_block_stop"); w.WriteNumber("index", 0); });
        }
        foreach (var call in answer.ToolCalls)
        {
            var block = index++;
            events.Write("content_block_start", w =>
            {
                w.WriteString("type", "content_block_start");
                w.WriteNumber("index", block);
                w.WriteStartObject("content_block");
                WriteToolUse(w, call, emptyInput: true);
                w.WriteEndObject();
            });
            await SendAsync();
            // The API opens with an empty fragment, then sends the input JSON in pieces.
            var fragments = new List<string> { "" };
            for (var at = 0; at < call.Arguments.Length; at += 8)
            {
                fragments.Add(call.Arguments.Substring(at, Math.Min(8, call.Arguments.Length - at)));
            }
            foreach (var fragment in fragments)
            {
                events.Write("content_block_delta", w =>
                {
                    w.WriteString("type", "content_block_delta");
                    w.WriteNumber("index", block);
                    w.WriteStartObject("delta");
                    w.WriteString("type", "input_json_delta");
                    w.WriteString("partial_json", fragment);
                    w.WriteEndObject();
                });
                await SendAsync();
            }
            events.Write("content_block_stop", w => { w.WriteString("type", "content_block_stop"); w.WriteNumber("index", block); });
        }

        events.Write("message_delta", w =>
        {
            w.WriteString("type", "message_delta");
            w.WriteStartObject("delta");
            w.WriteString("stop_reason", StopReason(answer));
            if (answer.StopSequence is null)
            {
                w.WriteNull("stop_sequence");
            }
            else
            {
                w.WriteString("stop_sequence", answer.StopSequence);
            }
            w.WriteEndObject();
            WriteUsage(w, usage, outputOnly: true);
        });
        events.Write("message_stop", w => w.WriteString("type", "message_stop"));
        await pipe.FlushAsync(ct);
    }

    private static async Task<JsonDocument?> ReadJsonAsync(HttpContext context)
    {
        try
        {
            return await JsonDocument.ParseAsync(context.Request.Body, default, context.RequestAborted);
        }
        catch (JsonException)
        {
            await WriteErrorAsync(context.Response, 400, "invalid_request_error", "There was an issue with the request body: it is not valid JSON.");
            return null;
        }
    }

    private static Task WriteFaultAsync(HttpResponse response, SimFault fault, SimKnobs knobs) => fault switch
    {
        SimFault.BadRequest => WriteErrorAsync(response, 400, "invalid_request_error", "Invalid request (simulated)."),
        SimFault.Unauthorized => WriteErrorAsync(response, 401, "authentication_error", "invalid x-api-key (simulated)"),
        SimFault.RateLimited => WriteErrorAsync(response, 429, "rate_limit_error", "Number of requests has exceeded your rate limit (simulated)."),
        SimFault.ServerError => WriteErrorAsync(response, 500, "api_error", "Internal server error"),
        _ => WriteErrorAsync(response, 529, "overloaded_error", "Overloaded"),
    };

    private static Task WriteErrorAsync(HttpResponse response, int status, string type, string message)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, OpenAIError.WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("type", "error");
            writer.WriteStartObject("error");
            writer.WriteString("type", type);
            writer.WriteString("message", message);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        response.StatusCode = status;
        response.ContentType = "application/json";
        response.ContentLength = buffer.WrittenCount;
        return response.Body.WriteAsync(buffer.WrittenMemory).AsTask();
    }

    /// <summary>Writes <c>event: NAME\ndata: {json}\n\n</c> into the response pipe.</summary>
    private sealed class EventWriter(PipeWriter pipe)
    {
        private readonly Utf8JsonWriter _writer = new(pipe, OpenAIError.WriterOptions);

        public void Write(string name, Action<Utf8JsonWriter> body)
        {
            pipe.Write("event: "u8);
            pipe.Write(System.Text.Encoding.UTF8.GetBytes(name));
            pipe.Write("\ndata: "u8);
            _writer.Reset(pipe);
            _writer.WriteStartObject();
            body(_writer);
            _writer.WriteEndObject();
            _writer.Flush();
            pipe.Write("\n\n"u8);
        }
    }
}
