using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using OctoMesh.Edge.Wire;
using OctoMesh.Edge.Tenancy;
using OctoMesh.Routing.Table;
using OctoMesh.Edge.Pipeline;

namespace OctoMesh.Edge.Admin;

/// <summary>
/// <c>GET /admin/routes</c>: every route with its matchers and strategy, and each target's live
/// health (breaker, smoothed time to first token, error rate), plus the reload counters. Admin keys
/// only; closed when none are configured.
/// </summary>
internal sealed class RoutesEndpoint(GatewayRuntimeHolder runtimes, Metering.RequestMeter meter)
{
    public async Task HandleAsync(HttpContext context)
    {
        var runtime = runtimes.Current;
        if (await AdminAccess.AdmitAsync(runtime, context) is not { } admin)
        {
            return;
        }
        meter.Audit(admin, Metering.AuditAction.ReadRoutes, null, StatusCodes.Status200OK, context.TraceIdentifier);
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer, OpenAIError.WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteNumber("reloads", runtimes.Reloads);
            writer.WriteNumber("reloadFailures", runtimes.ReloadFailures);
            writer.WriteStartArray("routes");
            foreach (var route in runtime.Routes.Routes)
            {
                WriteRoute(writer, route);
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = buffer.WrittenCount;
        await context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
    }

    private static void WriteRoute(Utf8JsonWriter writer, CompiledRoute route)
    {
        var definition = route.Definition;
        var match = definition.Match;
        writer.WriteStartObject();
        writer.WriteString("name", route.Name);
        writer.WriteString("strategy", definition.Strategy switch
        {
            RouteStrategy.Weighted => "weighted",
            RouteStrategy.LeastLatency => "least-latency",
            RouteStrategy.CheapestAboveQuality => "cheapest-above-quality",
            _ => "priority",
        });
        writer.WriteStartObject("match");
        WriteIfSet(writer, "model", match.Model);
        WriteIfSet(writer, "workspace", match.Workspace);
        WriteIfSet(writer, "task", match.Task);
        if (match.Tools is { } tools) writer.WriteBoolean("tools", tools);
        if (match.Images is { } images) writer.WriteBoolean("images", images);
        if (match.Stream is { } stream) writer.WriteBoolean("stream", stream);
        if (match.Headers is { Count: > 0 } headers)
        {
            writer.WriteStartObject("headers");
            foreach (var (name, value) in headers)
            {
                writer.WriteString(name, value);
            }
            writer.WriteEndObject();
        }
        writer.WriteEndObject();
        writer.WriteStartArray("targets");
        for (var i = 0; i < definition.Targets.Length; i++)
        {
            var target = definition.Targets[i];
            var health = route.Health[i];
            writer.WriteStartObject();
            writer.WriteString("provider", target.Provider);
            writer.WriteString("model", target.Model);
            writer.WriteBoolean("available", health.IsAvailable);
            if (target.MaxConcurrency > 0)
            {
                writer.WriteNumber("maxConcurrency", target.MaxConcurrency);
            }
            writer.WriteNumber("inFlight", health.InFlight);
            writer.WriteNumber("observations", health.Observations);
            writer.WriteNumber("timeToFirstTokenMs", Math.Round(health.TimeToFirstTokenMs, 2));
            writer.WriteNumber("errorRate", Math.Round(health.ErrorRate, 4));
            writer.WriteNumber("consecutiveFailures", health.ConsecutiveFailures);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private static void WriteIfSet(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is not null)
        {
            writer.WriteString(name, value);
        }
    }
}
