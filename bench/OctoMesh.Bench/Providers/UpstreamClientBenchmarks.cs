using System.Net;
using System.Text;
using BenchmarkDotNet.Attributes;
using OctoMesh.Edge.Providers.Http11;
using OctoMesh.Edge.Simulator;

namespace OctoMesh.Bench.Providers;

/// <summary>
/// One upstream call over loopback to the simulator, answer read whole: SocketsHttpHandler (baseline) against the
/// gateway's own HTTP/1.1 client for plain-http upstreams. Both rows include the simulator's work in this process;
/// their difference is the client's, in time and in bytes allocated per call.
/// </summary>
public class UpstreamClientBenchmarks
{
    private static readonly byte[] s_chat = """{"model":"sim-small","messages":[{"role":"user","content":"Give me three short tips for writing clear error messages."}]}"""u8.ToArray();
    private static readonly byte[] s_chatStream = """{"model":"sim-small","stream":true,"messages":[{"role":"user","content":"Give me three short tips for writing clear error messages."}]}"""u8.ToArray();

    private SimulatorServer _simulator = null!;
    private HttpMessageInvoker _sockets = null!;
    private HttpMessageInvoker _http11 = null!;
    private Uri _endpoint = null!;

    [GlobalSetup]
    public async Task Setup()
    {
        _simulator = await SimulatorServer.StartAsync("http://127.0.0.1:0", embedded: true);
        _endpoint = new Uri(_simulator.OpenAIBaseUrl + "/chat/completions");
        _sockets = new HttpMessageInvoker(new SocketsHttpHandler { UseProxy = false, UseCookies = false, AllowAutoRedirect = false });
        _http11 = new HttpMessageInvoker(new Http11Handler(_simulator.OpenAIBaseUrl, TimeSpan.FromSeconds(5)));
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        _sockets.Dispose();
        _http11.Dispose();
        await _simulator.DisposeAsync();
    }

    private async Task<int> SendAsync(HttpMessageInvoker invoker, byte[] body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, _endpoint) { Version = HttpVersion.Version11, Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new("application/json");
        using var response = await invoker.SendAsync(request, CancellationToken.None);
        await using var stream = await response.Content.ReadAsStreamAsync();
        var total = 0;
        var buffer = new byte[4096];
        for (int read; (read = await stream.ReadAsync(buffer)) > 0; )
        {
            total += read;
        }
        return total;
    }

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("json")]
    public Task<int> SocketsHttpHandler() => SendAsync(_sockets, s_chat);

    [Benchmark]
    [BenchmarkCategory("json")]
    public Task<int> Http11Handler() => SendAsync(_http11, s_chat);

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("stream")]
    public Task<int> SocketsHttpHandlerStream() => SendAsync(_sockets, s_chatStream);

    [Benchmark]
    [BenchmarkCategory("stream")]
    public Task<int> Http11HandlerStream() => SendAsync(_http11, s_chatStream);
}
