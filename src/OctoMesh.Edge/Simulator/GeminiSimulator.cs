using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using OctoMesh.Edge.Wire;

namespace OctoMesh.Edge.Simulator;

/// <summary>
/// Gemini's <c>models/{model}:generateContent</c> and <c>:streamGenerateContent?alt=sse</c>, written as
/// the public API reference documents them (see README.md beside this file): candidates with parts,
/// whole function calls, <c>usageMetadata</c> with cached and thinking tokens, Google's error shape.
/// </summary>
internal sealed class GeminiSimulator(SimulatorStats stats)
{
    private static readonly byte[] s_dataPrefix = "data: "u8.ToArray();
    private static readonly byte[] s_eventEnd = "\r\n\r\n"u8.ToArray();
    private static long s_sequence;

    /// <summary><c>POST /v1beta/models/{model}:{method}</c>.</summary>
    public async Task GenerateAsync(HttpContext context)
    {
        stats.CountChat();
        var target = context.Request.RouteValues["target"] as string ?? "";
        var colon = target.LastIndexOf(':');
        var (model, method) = colon < 0 ? (target, "") : (target[..colon], target[(colon + 1)..]);
        var response = context.Response;
        if (method is not ("generateContent" or "streamGenerateContent"))
        {
            await WriteErrorAsync(response, 404, "NOT_FOUND", $"Method {method} is not found for model {model}.");
            return;
        }
        var stream = method == "streamGenerateContent";
        if (stream && context.Request.Query["alt"] != "sse")
        {
            await WriteErrorAsync(response, 400, "INVALID_ARGUMENT", "This simulator streams with alt=sse only.");
            return;
        }
        if (string.IsNullOrEmpty(context.Request.Headers["x-goog-api-key"]))
        {
            await WriteErrorAsync(response, 403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.");
            return;
        }
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(context.Request.Body, default, context.RequestAborted);
        }
        catch (JsonException)
        {
            await WriteErrorAsync(response, 400, "INVALID_ARGUMENT", "Invalid JSON payload received.");
            return;
        }
        using (document)
        {
            stats.RecordChat(context.Request, document.RootElement.GetRawText());
            var request = SimParse.Safely((out string? e) => SimChatRequest.ParseGemini(document.RootElement, model, stream, out e), out var error);
            if (request is null)
            {
                await WriteErrorAsync(response, 400, "INVALID_ARGUMENT", error!);
                return;
            }
            var knobs = SimKnobs.From(context.Request.Headers, SimulatedModel.For(model));
            if (await SimExchange.InjectFaultAsync(context, knobs, WriteFaultAsync))
            {
                return;
            }

            var answer = SimulatedAnswer.Create(request, SimulatedModel.For(model), knobs);
            var id = $"sim{Interlocked.Increment(ref s_sequence):x8}{SimulatedAnswer.Seed(model, request.LastUserText) & 0xffffffff:x8}";
            var usage = new Usage(request.PromptTokens, answer.CompletionTokens, Math.Min(knobs.CachedTokens, request.PromptTokens), knobs.ReasoningTokens);
            await SimExchange.AnswerAsync(context, stats, knobs, answer.CompletionTokens, stream,
                () => StreamAsync(context, model, answer, knobs, id, usage), () => WriteResponseAsync(context, model, answer, knobs, id, usage));
        }
    }

    /// <summary>Gemini's usage: cached tokens are part of the prompt count; thinking is reported apart from the candidates.</summary>
    private readonly record struct Usage(int Prompt, int Candidates, int Cached, int Thoughts);

    private static string FinishReason(SimulatedAnswer answer) => answer.FinishReason == "length" ? "MAX_TOKENS" : "STOP";

    /// <summary>One <c>GenerateContentResponse</c>: the given parts, and on the last one the finish reason and full usage.</summary>
    private static void WriteResponse(Utf8JsonWriter writer, string model, string id, Action<Utf8JsonWriter> parts, string? finishReason, Usage usage)
    {
        writer.WriteStartObject();
        writer.WriteStartArray("candidates");
        writer.WriteStartObject();
        writer.WriteStartObject("content");
        writer.WriteStartArray("parts");
        parts(writer);
        writer.WriteEndArray();
        writer.WriteString("role", "model");
        writer.WriteEndObject();
        if (finishReason is not null)
        {
            writer.WriteString("finishReason", finishReason);
        }
        writer.WriteNumber("index", 0);
        writer.WriteEndObject();
        writer.WriteEndArray();
        writer.WriteStartObject("usageMetadata");
        writer.WriteNumber("promptTokenCount", usage.Prompt);
        if (finishReason is not null)
        {
            writer.WriteNumber("candidatesTokenCount", usage.Candidates);
        }
        writer.WriteNumber("totalTokenCount", usage.Prompt + (finishReason is null ? 0 : usage.Candidates + usage.Thoughts));
        if (usage.Cached > 0)
        {
            writer.WriteNumber("cachedContentTokenCount", usage.Cached);
        }
        if (usage.Thoughts > 0 && finishReason is not null)
        {
            writer.WriteNumber("thoughtsTokenCount", usage.Thoughts);
        }
        writer.WriteEndObject();
        writer.WriteString("modelVersion", model);
        writer.WriteString("responseId", id);
        writer.WriteEndObject();
    }

    private static void WriteCalls(Utf8JsonWriter writer, SimulatedAnswer answer)
    {
        foreach (var call in answer.ToolCalls)
        {
            writer.WriteStartObject();
            writer.WriteStartObject("functionCall");
            writer.WriteString("name", call.Name);
            writer.WritePropertyName("args");
            writer.WriteRawValue(call.Arguments);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
    }

    private static async Task WriteResponseAsync(HttpContext context, string model, SimulatedAnswer answer, SimKnobs knobs, string id, Usage usage)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer, OpenAIError.WriterOptions))
        {
            WriteResponse(writer, model, id, w =>
            {
                if (answer.ToolCalls.Count > 0)
                {
                    WriteCalls(w, answer);
                }
                else
                {
                    w.WriteStartObject();
                    w.WriteString("text", answer.Text);
                    w.WriteEndObject();
                }
            }, FinishReason(answer), usage);
        }
        await SimExchange.WriteBodyAsync(context, buffer, "application/json; charset=UTF-8", knobs);
    }

    /// <summary>One event per token (the last one with the finish reason and usage), or one event with the whole function calls.</summary>
    private static async Task StreamAsync(HttpContext context, string model, SimulatedAnswer answer, SimKnobs knobs, string id, Usage usage)
    {
        var response = context.Response;
        response.ContentType = "text/event-stream";
        var pipe = response.BodyWriter;
        var writer = new Utf8JsonWriter(pipe, OpenAIError.WriterOptions);
        var ct = context.RequestAborted;
        var sent = 0;

        async Task SendAsync(Action<Utf8JsonWriter> parts, string? finishReason)
        {
            pipe.Write(s_dataPrefix);
            writer.Reset(pipe);
            WriteResponse(writer, model, id, parts, finishReason, usage);
            writer.Flush();
            pipe.Write(s_eventEnd);
            await pipe.FlushAsync(ct);
            sent++;
            if (finishReason is null && knobs.Fault == SimFault.Cut && sent >= knobs.CutAfter)
            {
                await OpenAISimulator.AbortAfterDeliveryAsync(context);
                throw new OperationCanceledException("simulated cut");
            }
            if (finishReason is null && knobs.Fault == SimFault.StreamError && sent >= knobs.CutAfter)
            {
                pipe.Write(s_dataPrefix);
                pipe.Write(ErrorBody(503, "UNAVAILABLE", "The model is overloaded. Please try again later."));
                pipe.Write(s_eventEnd);
                await pipe.FlushAsync(ct);
                throw new OperationCanceledException("simulated stream error");
            }
            if (knobs.TimePerTokenMs > 0)
            {
                await Task.Delay(knobs.TimePerTokenMs, ct);
            }
        }

        if (answer.ToolCalls.Count > 0)
        {
            await SendAsync(w => WriteCalls(w, answer), FinishReason(answer));
            return;
        }
        var tokens = answer.Tokens.Count == 0 ? [""] : answer.Tokens;
        for (var i = 0; i < tokens.Count; i++)
        {
            var token = tokens[i];
            await SendAsync(w =>
            {
                w.WriteStartObject();
                w.WriteString("text", token);
                w.WriteEndObject();
            }, i == tokens.Count - 1 ? FinishReason(answer) : null);
        }
    }

    private static byte[] ErrorBody(int code, string status, string message)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, OpenAIError.WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteStartObject("error");
            writer.WriteNumber("code", code);
            writer.WriteString("message", message);
            writer.WriteString("status", status);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static Task WriteFaultAsync(HttpResponse response, SimFault fault, SimKnobs knobs) => fault switch
    {
        SimFault.BadRequest => WriteErrorAsync(response, 400, "INVALID_ARGUMENT", "Request contains an invalid argument (simulated)."),
        SimFault.Unauthorized => WriteErrorAsync(response, 401, "UNAUTHENTICATED", "API key not valid. Please pass a valid API key (simulated)."),
        SimFault.RateLimited => WriteErrorAsync(response, 429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota) (simulated)."),
        SimFault.ServerError => WriteErrorAsync(response, 500, "INTERNAL", "An internal error has occurred."),
        _ => WriteErrorAsync(response, 503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
    };

    private static Task WriteErrorAsync(HttpResponse response, int code, string status, string message)
    {
        var body = ErrorBody(code, status, message);
        response.StatusCode = code;
        response.ContentType = "application/json; charset=UTF-8";
        response.ContentLength = body.Length;
        return response.Body.WriteAsync(body).AsTask();
    }
}
