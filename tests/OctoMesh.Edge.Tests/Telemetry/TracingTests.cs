using System.Collections.Concurrent;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OctoMesh.Edge.Tests.Hosting;

namespace OctoMesh.Edge.Tests.Telemetry;

/// <summary>OpenTelemetry spans over OTLP/HTTP, received by a listener standing where a collector would.</summary>
public class TracingTests
{
    [Fact]
    public async Task ARequestBecomesAGenAISpanWithTheClientsTraceAndNoContent()
    {
        var received = new ConcurrentQueue<byte[]>();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var collector = builder.Build();
        collector.MapPost("/v1/traces", async context =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            received.Enqueue(body.ToArray());
            context.Response.ContentType = "application/x-protobuf";
        });
        await collector.StartAsync();
        var address = collector.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();

        await using (var test = await TestGateway.StartAsync($$"""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}" } }, "models": { "*": { "provider": "sim" } },
              "tracing": { "otlpEndpoint": "{{address}}", "protocol": "http/protobuf", "batchDelayMs": 50, "serviceName": "edge-under-test" } }
            """))
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
            {
                Content = new StringContent("""{"model":"sim-small","messages":[{"role":"user","content":"the secret prompt 7f3a"}]}""", Encoding.UTF8, "application/json"),
            };
            request.Headers.TryAddWithoutValidation("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
            using var response = await test.Client.SendAsync(request);
            Assert.Contains("\"usage\"", await response.Content.ReadAsStringAsync());
            // And a request without a trace of its own: a new root span.
            using var root = await test.Client.PostAsync("/v1/chat/completions",
                new StringContent("""{"model":"sim-medium","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"));
            for (var i = 0; i < 200 && !(Contains(received, "chat sim-small"u8) && Contains(received, "chat sim-medium"u8)); i++)
            {
                await Task.Delay(20);
            }
        }

        Assert.True(Contains(received, "chat sim-small"u8), "no span named 'chat sim-small' reached the collector");
        Assert.True(Contains(received, "chat sim-medium"u8), "the request without a traceparent was not traced");
        Assert.True(Contains(received, "gen_ai.request.model"u8));
        Assert.True(Contains(received, "gen_ai.usage.output_tokens"u8));
        Assert.True(Contains(received, "edge-under-test"u8));
        // The span continues the client's trace.
        Assert.True(Contains(received, Convert.FromHexString("4bf92f3577b34da6a3ce929d0e0e4736")));
        Assert.False(Contains(received, "secret prompt"u8));
    }

    private static bool Contains(IEnumerable<byte[]> bodies, ReadOnlySpan<byte> text)
    {
        foreach (var body in bodies)
        {
            if (body.AsSpan().IndexOf(text) >= 0)
            {
                return true;
            }
        }
        return false;
    }
}
