using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging;
using OctoMesh.Edge.Hosting;
using OctoMesh.Edge.Simulator;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Bench.Hosting;

/// <summary>
/// A whole request over loopback, in one process: HttpClient → simulator (baseline) and HttpClient →
/// gateway → simulator. MemoryDiagnoser counts every thread's allocations, so the difference between
/// the two rows is what the gateway allocates per proxied request. Time here includes both servers
/// sharing the machine: use loadtests/ for throughput, this for bytes.
/// </summary>
public class ProxyRoundTripBenchmarks
{
    private const string Chat = """{"model":"sim-small","messages":[{"role":"user","content":"Give me three short tips for writing clear error messages."}]}""";
    private const string ChatStream = """{"model":"sim-small","stream":true,"messages":[{"role":"user","content":"Give me three short tips for writing clear error messages."}]}""";

    private SimulatorServer _simulator = null!;
    private GatewayServer _gateway = null!;
    private HttpClient _direct = null!;
    private HttpClient _viaGateway = null!;

    [GlobalSetup]
    public async Task Setup()
    {
        _simulator = await SimulatorServer.StartAsync("http://127.0.0.1:0", embedded: true);
        var config = ConfigLoader.Load(Encoding.UTF8.GetBytes($$"""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{{_simulator.OpenAIBaseUrl}}" } }, "models": { "*": { "provider": "sim" } } }
            """), _ => null).Config!;
        _gateway = await GatewayServer.StartAsync(config, ["http://127.0.0.1:0"], LogLevel.Warning, embedded: true);
        _direct = new HttpClient { BaseAddress = _simulator.Address };
        _viaGateway = new HttpClient { BaseAddress = _gateway.Addresses[0] };
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        _direct.Dispose();
        _viaGateway.Dispose();
        await _gateway.DisposeAsync();
        await _simulator.DisposeAsync();
    }

    private static async Task<int> SendAsync(HttpClient client, string body)
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await client.PostAsync("/v1/chat/completions", content);
        return (await response.Content.ReadAsByteArrayAsync()).Length;
    }

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("json")]
    public Task<int> Direct() => SendAsync(_direct, Chat);

    [Benchmark]
    [BenchmarkCategory("json")]
    public Task<int> ThroughGateway() => SendAsync(_viaGateway, Chat);

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("stream")]
    public Task<int> DirectStream() => SendAsync(_direct, ChatStream);

    [Benchmark]
    [BenchmarkCategory("stream")]
    public Task<int> ThroughGatewayStream() => SendAsync(_viaGateway, ChatStream);
}
