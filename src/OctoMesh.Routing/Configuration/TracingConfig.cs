namespace OctoMesh.Routing.Configuration;

/// <summary>How OTLP is spoken to the collector.</summary>
public enum OtlpProtocol
{
    Grpc,
    HttpProtobuf,
}

/// <summary>The <c>tracing</c> section: OpenTelemetry spans per request, sent over OTLP. Off unless an endpoint is given; fixed at start.</summary>
/// <param name="OtlpEndpoint">The collector, e.g. <c>http://otel-collector:4317</c> (gRPC) or <c>http://otel-collector:4318</c> (HTTP).</param>
/// <param name="SampleRatio">Share of requests traced (a client's sampled <c>traceparent</c> is followed as given).</param>
/// <param name="BatchDelayMs">How long finished spans gather before a batch is sent.</param>
public sealed record TracingConfig(Uri? OtlpEndpoint = null, OtlpProtocol Protocol = OtlpProtocol.Grpc, double SampleRatio = 1.0,
    int BatchDelayMs = 5000, string ServiceName = "octomesh-edge")
{
    public bool Enabled => OtlpEndpoint is not null;
}
