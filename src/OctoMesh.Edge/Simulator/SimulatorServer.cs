using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace OctoMesh.Edge.Simulator;

/// <summary>
/// Hosts the simulator on Kestrel: as <c>octomesh sim</c>, inside <c>octomesh serve</c> when no
/// provider is configured, and inside tests. Listen on port 0 to get a free port.
/// </summary>
public sealed class SimulatorServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private SimulatorServer(WebApplication app, SimulatorStats stats)
    {
        _app = app;
        Stats = stats;
    }

    public SimulatorStats Stats { get; }

    /// <summary>The first address it listens on, e.g. <c>http://127.0.0.1:41234</c>, known once started.</summary>
    public Uri Address => new(_app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First());

    /// <summary>The OpenAI API root on this simulator (<c>…/v1</c>), for a provider's base URL.</summary>
    public Uri OpenAIBaseUrl => new(Address, "/v1");

    /// <summary>The Gemini API root on this simulator (<c>…/v1beta</c>).</summary>
    public Uri GeminiBaseUrl => new(Address, "/v1beta");

    /// <param name="embedded">Hosted inside another server (the gateway, a test): leave SIGTERM to the host, which stops it last.</param>
    /// <param name="h2c">Speak HTTP/2 only, with prior knowledge over plain http (h2c), as vLLM behind an h2 proxy or a gRPC-era server does.</param>
    /// <param name="tls">The certificate and key (PEM files) of <c>https://</c> addresses in <paramref name="urls"/>.</param>
    public static async Task<SimulatorServer> StartAsync(string urls, bool embedded, LogLevel logLevel = LogLevel.Warning,
        bool h2c = false, SimulatorTls? tls = null, CancellationToken cancellationToken = default)
    {
        var builder = Kestrel.SlimHost.CreateBuilder();
        builder.Logging.SetMinimumLevel(logLevel);
        builder.WebHost.UseUrls(urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Kestrel.InlineIo.Apply(builder.WebHost);
        if (tls is not null)
        {
            // The slim host leaves https:// addresses out unless asked.
            builder.WebHost.UseKestrelHttpsConfiguration();
        }
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            if (h2c)
            {
                kestrel.ConfigureEndpointDefaults(listen => listen.Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http2);
            }
            if (tls is not null)
            {
                var certificate = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(tls.CertificateFile, tls.KeyFile);
                kestrel.ConfigureHttpsDefaults(https => https.ServerCertificate = certificate);
            }
        });
        if (embedded)
        {
            builder.Services.AddSingleton<IHostLifetime, Kestrel.EmbeddedLifetime>();
        }
        var app = builder.Build();

        var stats = new SimulatorStats();
        var openai = new OpenAISimulator(stats);
        app.MapPost("/v1/chat/completions", openai.ChatCompletionsAsync);
        app.MapPost("/v1/embeddings", openai.EmbeddingsAsync);
        app.MapGet("/v1/models", openai.ModelsAsync);
        var anthropic = new AnthropicSimulator(stats);
        app.MapPost("/v1/messages", anthropic.MessagesAsync);
        app.MapPost("/v1/messages/count_tokens", anthropic.CountTokensAsync);
        app.MapPost("/openai/deployments/{deployment}/{**operation}", openai.AzureAsync);
        app.MapPost("/v1beta/models/{**target}", new GeminiSimulator(stats).GenerateAsync);
        app.MapGet("/sim/stats", context => WriteStatsAsync(context, stats));
        app.MapGet("/healthz", () => "ok");

        await app.StartAsync(cancellationToken);
        return new SimulatorServer(app, stats);
    }

    public Task WaitForShutdownAsync(CancellationToken cancellationToken) => _app.WaitForShutdownAsync(cancellationToken);

    private static Task WriteStatsAsync(HttpContext context, SimulatorStats stats)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("chat_completions", stats.ChatCompletions);
            writer.WriteNumber("embeddings", stats.Embeddings);
            writer.WriteNumber("aborted", stats.Aborted);
            writer.WriteEndObject();
        }
        context.Response.ContentType = "application/json";
        return context.Response.Body.WriteAsync(buffer.WrittenMemory).AsTask();
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>The simulator's TLS certificate and its key, as PEM files.</summary>
public sealed record SimulatorTls(string CertificateFile, string KeyFile);
