using System.Text;
using Microsoft.Extensions.Logging;
using OctoMesh.Edge.Hosting;
using OctoMesh.Edge.Simulator;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Tests.Hosting;

/// <summary>A simulator and a gateway in front of it, both on free loopback ports, stopped on dispose.</summary>
internal sealed class TestGateway : IAsyncDisposable
{
    public const string ProviderKey = "sk-provider-secret-for-tests";

    private TestGateway(SimulatorServer simulator, GatewayServer gateway)
    {
        Simulator = simulator;
        Gateway = gateway;
        // No draining of half-read answers: a test that walks away from a stream closes the connection at once.
        Client = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = gateway.Addresses[0], Timeout = TimeSpan.FromSeconds(30) };
    }

    public SimulatorServer Simulator { get; }
    public GatewayServer Gateway { get; }
    public HttpClient Client { get; }
    public Uri BaseUrl => Gateway.Addresses[0];

    /// <param name="config">The configuration; <c>{SIM}</c> stands for the simulator's OpenAI base URL, <c>{SIMROOT}</c> for its root, <c>{SIMGEMINI}</c> for its Gemini root.</param>
    /// <summary>The configuration file, when the gateway was started from one (<see cref="StartFromFileAsync"/>).</summary>
    public string? ConfigPath { get; private init; }

    public const string RedisPassword = "redis-pass-for-tests";

    /// <summary>The environment configs are read with: SIM_KEY (the provider key) and REDIS_PASSWORD.</summary>
    public static Func<string, string?> Environment { get; } = name => name switch
    {
        "SIM_KEY" => ProviderKey,
        "REDIS_PASSWORD" => RedisPassword,
        _ => null,
    };

    /// <summary>Starts the gateway from a file, as <c>octomesh serve --config</c> does: watched, and reloadable.</summary>
    public static async Task<TestGateway> StartFromFileAsync(Func<SimulatorServer, string> config)
    {
        var simulator = await SimulatorServer.StartAsync("http://127.0.0.1:0", embedded: true);
        var path = Path.Combine(Path.GetTempPath(), $"octomesh-test-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(path, config(simulator));
        var loaded = ConfigLoader.LoadFile(path, Environment);
        Assert.True(loaded.Succeeded, string.Join("\n", loaded.Errors));
        var trace = NewTraceDirectory();
        var gateway = await GatewayServer.StartAsync(loaded.Config!, ["http://127.0.0.1:0"], LogLevel.Warning, embedded: true, configPath: path, traceDirectory: trace,
            tenancyDirectory: Private(loaded.Config!, trace));
        return new TestGateway(simulator, gateway) { ConfigPath = path, TraceDirectory = trace };
    }

    /// <param name="https">The simulator serves https with the tests' certificate; <c>{CAFILE}</c> stands for the CA that signed it.</param>
    public static async Task<TestGateway> StartAsync(string? config = null, bool h2c = false, bool https = false)
    {
        var simulator = https
            ? await SimulatorServer.StartAsync("https://127.0.0.1:0", embedded: true, h2c: h2c,
                tls: new SimulatorTls(TestCertificates.ServerCertificate, TestCertificates.ServerKey))
            : await SimulatorServer.StartAsync("http://127.0.0.1:0", embedded: true, h2c: h2c);
        config ??= """
            {
              "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}", "apiKey": "${SIM_KEY}" } },
              "models": { "fast": { "provider": "sim", "model": "sim-small" }, "*": { "provider": "sim" } }
            }
            """;
        var json = config.Replace("{SIM}", simulator.OpenAIBaseUrl.ToString()).Replace("{SIMROOT}", simulator.Address.ToString())
            .Replace("{SIMGEMINI}", simulator.GeminiBaseUrl.ToString()).Replace("{CAFILE}", https ? TestCertificates.CaFile : "");
        var loaded = ConfigLoader.Load(Encoding.UTF8.GetBytes(json), Environment);
        Assert.True(loaded.Succeeded, string.Join("\n", loaded.Errors));
        var trace = NewTraceDirectory();
        var gateway = await GatewayServer.StartAsync(loaded.Config!, ["http://127.0.0.1:0"], LogLevel.Warning, embedded: true, traceDirectory: trace,
            tenancyDirectory: Private(loaded.Config!, trace));
        return new TestGateway(simulator, gateway) { TraceDirectory = trace };
    }

    /// <summary>The store, keyring and kept content under the test's own directory, unless the test placed them.</summary>
    private static string? Private(GatewayConfig config, string directory) =>
        config.Tenancy == new TenancyConfig() ? Path.Combine(directory, "tenancy") : null;

    /// <summary>A trace log directory of the test's own, removed on dispose.</summary>
    private static string NewTraceDirectory() => Path.Combine(Path.GetTempPath(), $"octomesh-trace-{Guid.NewGuid():N}");

    /// <summary>Where this gateway's trace log is.</summary>
    public string TraceDirectory { get; private init; } = "";

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Gateway.DisposeAsync();
        await Simulator.DisposeAsync();
        if (ConfigPath is not null)
        {
            File.Delete(ConfigPath);
        }
        if (Directory.Exists(TraceDirectory))
        {
            Directory.Delete(TraceDirectory, recursive: true);
        }
    }
}
