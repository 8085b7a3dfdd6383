using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using OctoMesh.Edge.Telemetry;
using OctoMesh.Edge.Wire;

namespace OctoMesh.Edge.Pipeline.Steps;

/// <summary>
/// The body, read into pooled memory (413 past the limit, 400 when empty), then one <see cref="RequestInspector"/> pass
/// over it that yields what the later steps read (400 with the field at fault).
/// </summary>
internal sealed class InspectStep(ILogger<InspectStep> logger) : IRequestStep
{
    public async ValueTask<StepResult> RunAsync(GatewayRequest request)
    {
        var limit = request.Runtime.Limits.MaxBodyBytes;
        BodyReadStatus status;
        BodyBuffer? body;
        try
        {
            (status, body) = await BodyBuffer.ReadAsync(request.Request.BodyReader, request.Request.ContentLength, limit, request.Aborted);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            (status, body) = (BodyReadStatus.TooLarge, null);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or BadHttpRequestException)
        {
            Log.ClientDisconnected(logger, request.Exchange.RequestId);
            return StepResult.Answered;
        }
        if (status == BodyReadStatus.TooLarge)
        {
            return await request.RefuseAsync(StatusCodes.Status413PayloadTooLarge,
                $"The request body is larger than the {limit} bytes this gateway accepts.", code: "request_too_large");
        }
        if (body is null)
        {
            return await request.RefuseAsync(StatusCodes.Status400BadRequest, "The request body is empty. Send a JSON object.", code: "invalid_json");
        }
        request.Body = body;
        var error = RequestInspector.Inspect(body.Span, request.Operation, out request.Inspected);
        if (error != InspectError.None)
        {
            return await request.RefuseAsync(StatusCodes.Status400BadRequest, RequestInspector.Describe(error, request.Inspected),
                request.Inspected.ErrorParam, error == InspectError.InvalidJson ? "invalid_json" : null);
        }
        request.Exchange.Stream = request.Inspected.Stream;
        return StepResult.Next;
    }
}
