using System.Reflection;
using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using OctoMesh.Edge.Wire;
using OctoMesh.Routing.Configuration;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace OctoMesh.Edge.Telemetry;

/// <summary>
/// Optional OpenTelemetry spans, one per request, named and attributed by the GenAI semantic conventions
/// (<c>chat sim-small</c>; <c>gen_ai.operation.name</c>, <c>gen_ai.provider.name</c>, <c>gen_ai.request.model</c>,
/// <c>gen_ai.usage.input_tokens</c>, …), sent over OTLP. Off unless <c>tracing.otlpEndpoint</c> is set: without a
/// listener <see cref="ActivitySource.StartActivity(string, ActivityKind, ActivityContext, IEnumerable{KeyValuePair{string, object}}, IEnumerable{ActivityLink}, DateTimeOffset)"/>
/// returns null and a request pays one check. Never a prompt or an answer.
/// </summary>
internal static class GatewayTracing
{
    public static readonly ActivitySource Source = new("OctoMesh.Edge", typeof(GatewayTracing).Assembly.GetName().Version?.ToString());

    /// <summary>The exporter pipeline for <paramref name="config"/>, or null when tracing is off.</summary>
    public static TracerProvider? Start(TracingConfig config)
    {
        if (config.OtlpEndpoint is not { } endpoint)
        {
            return null;
        }
        return Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(ResourceBuilder.CreateDefault().AddService(config.ServiceName, serviceVersion: Version))
            .AddSource(Source.Name)
            .SetSampler(new ParentBasedSampler(new TraceIdRatioBasedSampler(config.SampleRatio)))
            .AddOtlpExporter(otlp =>
            {
                otlp.Protocol = config.Protocol == OtlpProtocol.Grpc ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
                // HTTP needs the signal's path; gRPC takes the endpoint as it is.
                otlp.Endpoint = config.Protocol == OtlpProtocol.HttpProtobuf && endpoint.AbsolutePath == "/" ? new Uri(endpoint, "/v1/traces") : endpoint;
                otlp.BatchExportProcessorOptions.ScheduledDelayMilliseconds = config.BatchDelayMs;
            })
            .Build();
    }

    /// <summary>The product's version, as <c>octomesh --version</c> prints it and spans name it.</summary>
    public static string Version =>
        typeof(GatewayTracing).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <summary>A server span for the request, child of the client's <c>traceparent</c> when it sent one; null when nobody listens.</summary>
    public static Activity? StartRequest(HttpContext context, ApiOperation operation)
    {
        if (!Source.HasListeners())
        {
            return null;
        }
        var headers = context.Request.Headers;
        ActivityContext.TryParse(headers.TraceParent.ToString(), headers.TraceState.ToString(), isRemote: true, out var parent);
        // The host may have started an unsampled activity of its own; the span's parent is the client's trace or none.
        Activity.Current = null;
        return Source.StartActivity(operation.MetricName(), ActivityKind.Server, parent);
    }

    /// <summary>Names the span <c>{operation} {model}</c> and sets what the request did.</summary>
    public static void Complete(Activity activity, Exchange exchange, int status, long costMicros)
    {
        var operation = exchange.OperationName;
        activity.DisplayName = exchange.Model is { } model ? $"{operation} {model}" : operation;
        activity.SetTag("gen_ai.operation.name", operation);
        activity.SetTag("gen_ai.provider.name", exchange.Provider);
        activity.SetTag("gen_ai.request.model", exchange.Model);
        activity.SetTag("http.response.status_code", status);
        activity.SetTag("octomesh.request_id", exchange.RequestId);
        activity.SetTag("octomesh.route", exchange.Route);
        activity.SetTag("octomesh.task", exchange.Task);
        activity.SetTag("octomesh.workspace", exchange.Workspace);
        activity.SetTag("octomesh.retries", exchange.Retries);
        activity.SetTag("octomesh.fallbacks", exchange.Fallbacks);
        if (exchange.Usage is { } usage)
        {
            activity.SetTag("gen_ai.usage.input_tokens", usage.PromptTokens);
            activity.SetTag("gen_ai.usage.output_tokens", usage.CompletionTokens);
            activity.SetTag("octomesh.cost_micros", costMicros);
        }
        if (exchange.FirstByte != 0 && exchange.Stream)
        {
            activity.SetTag("gen_ai.server.time_to_first_token", Stopwatch.GetElapsedTime(exchange.Started, exchange.FirstByte).TotalSeconds);
        }
        if (status >= 500 || exchange.Outcome is ProxyOutcome.UpstreamCut or ProxyOutcome.UpstreamTimeout)
        {
            activity.SetStatus(ActivityStatusCode.Error);
            activity.SetTag("error.type", exchange.Outcome == ProxyOutcome.Completed ? status.ToString(System.Globalization.CultureInfo.InvariantCulture) : exchange.Outcome.ToString());
        }
    }
}
