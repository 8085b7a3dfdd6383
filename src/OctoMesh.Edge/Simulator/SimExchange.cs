using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace OctoMesh.Edge.Simulator;

/// <summary>
/// The steps every simulated dialect takes alike: faults before the first byte, and the answer after
/// the simulated latency. Each dialect brings only its own words: the error body, the answer's shape.
/// </summary>
internal static class SimExchange
{
    /// <summary>
    /// Applies <see cref="SimKnobs.Fault"/> when it comes before the first byte: a reset aborts the connection,
    /// a 429 carries <c>retry-after</c>, and each refusal is the dialect's error, written by <paramref name="writeError"/>.
    /// True when the request is answered.
    /// </summary>
    public static async Task<bool> InjectFaultAsync(HttpContext context, SimKnobs knobs, Func<HttpResponse, SimFault, SimKnobs, Task> writeError)
    {
        switch (knobs.Fault)
        {
            case SimFault.Reset:
                context.Abort();
                return true;
            case SimFault.RateLimited:
                context.Response.Headers.RetryAfter = knobs.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
                break;
            case SimFault.BadRequest or SimFault.Unauthorized or SimFault.ServerError or SimFault.Overloaded:
                break;
            default:
                return false;
        }
        await writeError(context.Response, knobs.Fault, knobs);
        return true;
    }

    /// <summary>
    /// Waits the time to first token, then streams, or waits the time per token and writes the whole answer.
    /// A client that leaves meanwhile is counted, not thrown.
    /// </summary>
    public static async Task AnswerAsync(HttpContext context, SimulatorStats stats, SimKnobs knobs, int completionTokens, bool stream,
        Func<Task> streamAsync, Func<Task> writeAsync)
    {
        try
        {
            await Task.Delay(knobs.TimeToFirstTokenMs, context.RequestAborted);
            if (stream)
            {
                await streamAsync();
            }
            else
            {
                await Task.Delay(knobs.TimePerTokenMs * completionTokens, context.RequestAborted);
                await writeAsync();
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            stats.CountAborted();
        }
    }

    /// <summary>Writes a whole JSON answer, or, for <see cref="SimFault.Cut"/>, half of it before the connection drops.</summary>
    public static async Task WriteBodyAsync(HttpContext context, System.Buffers.ArrayBufferWriter<byte> body, string contentType, SimKnobs knobs)
    {
        var response = context.Response;
        response.ContentType = contentType;
        response.ContentLength = body.WrittenCount;
        if (knobs.Fault == SimFault.Cut)
        {
            await response.Body.WriteAsync(body.WrittenMemory[..(body.WrittenCount / 2)]);
            await response.Body.FlushAsync();
            await OpenAISimulator.AbortAfterDeliveryAsync(context);
            return;
        }
        await response.Body.WriteAsync(body.WrittenMemory);
    }
}
