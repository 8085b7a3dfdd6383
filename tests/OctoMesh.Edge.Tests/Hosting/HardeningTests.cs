using System.Net;
using System.Net.Sockets;
using System.Text;

namespace OctoMesh.Edge.Tests.Hosting;

/// <summary>Clients that send too much header, or their body too slowly, are stopped by Kestrel's limits as configured.</summary>
public class HardeningTests
{
    private const string Config = """
        { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}" } }, "models": { "*": { "provider": "sim" } },
          "limits": { "maxHeaderBytes": 4096, "maxHeaderCount": 20, "minBodyBytesPerSecond": 1000 } }
        """;

    [Fact]
    public async Task TooManyOrTooLargeHeadersAre431()
    {
        await using var test = await TestGateway.StartAsync(Config);
        var big = new HttpRequestMessage(HttpMethod.Get, "/healthz");
        big.Headers.Add("x-padding", new string('a', 8000));
        Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, (await test.Client.SendAsync(big)).StatusCode);
        var many = new HttpRequestMessage(HttpMethod.Get, "/healthz");
        for (var i = 0; i < 30; i++)
        {
            many.Headers.Add($"x-h{i}", "1");
        }
        Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, (await test.Client.SendAsync(many)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await test.Client.GetAsync("/healthz")).StatusCode);
    }

    [Fact]
    public void AConnectionGetsASecondsWorthAtOnceThenItsRate()
    {
        var now = 0L;
        var rate = new OctoMesh.Edge.Hosting.ConnectionRate(4, () => now);
        Assert.Equal([true, true, true, true, false], Enumerable.Range(0, 5).Select(_ => rate.TryTake()));
        now += System.Diagnostics.Stopwatch.Frequency / 2;
        Assert.Equal([true, true, false], Enumerable.Range(0, 3).Select(_ => rate.TryTake()));
        now += System.Diagnostics.Stopwatch.Frequency * 10;
        Assert.Equal(4, Enumerable.Range(0, 10).Count(_ => rate.TryTake()));
    }

    [Fact]
    public async Task AConnectionPastItsRequestRateIs429AndOthersAreServed()
    {
        await using var test = await TestGateway.StartAsync(Config.Replace("\"minBodyBytesPerSecond\": 1000", "\"maxRequestsPerConnectionPerSecond\": 1"));
        // One connection (HttpClient reuses it for requests in turn): a burst of one, then one a second.
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 4; i++)
        {
            statuses.Add((await test.Client.GetAsync("/healthz")).StatusCode);
        }
        Assert.Equal(HttpStatusCode.OK, statuses[0]);
        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
        // Refused in the client's API format (Anthropic's on /v1/messages).
        HttpResponseMessage refused;
        var tries = 0;
        do
        {
            refused = await test.Client.PostAsync("/v1/messages", new StringContent("{}", Encoding.UTF8, "application/json"));
        }
        while (refused.StatusCode != HttpStatusCode.TooManyRequests && ++tries < 20);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Contains("\"type\":\"rate_limit_error\"", await refused.Content.ReadAsStringAsync());
        Assert.Equal("1", refused.Headers.GetValues("retry-after").Single());
        // Another connection has its own second.
        using var other = new HttpClient { BaseAddress = test.BaseUrl };
        Assert.Equal(HttpStatusCode.OK, (await other.GetAsync("/healthz")).StatusCode);
    }

    [Fact]
    public async Task ABodyTrickledTooSlowlyIsCutOff()
    {
        await using var test = await TestGateway.StartAsync(Config);
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(test.BaseUrl.Host, test.BaseUrl.Port);
        await socket.SendAsync(Encoding.ASCII.GetBytes(
            $"POST /v1/chat/completions HTTP/1.1\r\nHost: {test.BaseUrl.Authority}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"));
        // One byte a second against a minimum of 1,000 B/s: after the 5 s grace the gateway stops waiting.
        var cut = false;
        for (var i = 0; i < 30 && !cut; i++)
        {
            try
            {
                await socket.SendAsync("{"u8.ToArray());
                await Task.Delay(1000);
                cut = socket.Poll(0, SelectMode.SelectRead) && (socket.Available == 0 || await ReadsResponse(socket));
            }
            catch (SocketException)
            {
                cut = true;
            }
        }
        Assert.True(cut, "the slow body was never cut off");
        // The gateway serves others meanwhile and after.
        Assert.Equal(HttpStatusCode.OK, (await test.Client.GetAsync("/healthz")).StatusCode);
    }

    /// <summary>The gateway answered (a 408 or a close) rather than waiting for the rest of the body.</summary>
    private static async Task<bool> ReadsResponse(Socket socket)
    {
        var buffer = new byte[1024];
        var read = await socket.ReceiveAsync(buffer);
        return read == 0 || Encoding.ASCII.GetString(buffer, 0, read).StartsWith("HTTP/1.1 4", StringComparison.Ordinal);
    }
}
