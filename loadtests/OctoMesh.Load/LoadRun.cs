using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;

namespace OctoMesh.Load;

/// <summary>What a run sends: the mix of request kinds, and how (closed: N users back to back; open: R requests a second).</summary>
/// <param name="Users">Closed model: concurrent users, each sending its next request when the last ends.</param>
/// <param name="Rate">Open model (when set): requests started per second whatever the answers, so a slow gateway cannot slow the load (no coordinated omission).</param>
/// <param name="StreamShare">The share of requests that stream.</param>
/// <param name="CacheShare">The share that repeat one of a few prompts (cache hits once warm); the rest are unique.</param>
/// <param name="FaultShare">The share the simulator answers with a 500 (<c>x-sim-fault</c>): the gateway's failure path.</param>
/// <param name="AnthropicShare">The share sent in Anthropic's format to <c>/v1/messages</c>.</param>
/// <param name="MaxRequests">Closed model: stop after this many requests even if the duration is not over.</param>
public sealed record LoadOptions(Uri Target, TimeSpan Duration, int Users = 16, double? Rate = null, double StreamShare = 0, double CacheShare = 0,
    double FaultShare = 0, double AnthropicShare = 0, string Model = "sim-small", int Tokens = 16, string? ApiKey = null, long? MaxRequests = null);

/// <summary>The measurements of a run.</summary>
public sealed class LoadResult
{
    public Histogram Latency { get; } = new();

    /// <summary>Streams: from sending to the first content token.</summary>
    public Histogram TimeToFirstToken { get; } = new();

    /// <summary>Streams: between consecutive content tokens.</summary>
    public Histogram InterToken { get; } = new();

    public long Requests, Errors, Tokens, Late;

    public TimeSpan Elapsed { get; set; }

    public double RequestsPerSecond => Requests / Elapsed.TotalSeconds;

    public double TokensPerSecond => Tokens / Elapsed.TotalSeconds;

    public double ErrorRate => Requests == 0 ? 0 : (double)Errors / Requests;
}

/// <summary>
/// The load driver: sends the mix for the duration, in the closed or the open model, and measures each request's
/// latency (from its scheduled start in the open model), and for streams the time to the first token and between
/// tokens, by reading the SSE events as they arrive.
/// </summary>
public static class LoadRun
{
    public static async Task<LoadResult> RunAsync(LoadOptions options, CancellationToken cancellationToken = default)
    {
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = Math.Max(1, options.Users), PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
        {
            BaseAddress = options.Target,
            Timeout = TimeSpan.FromMinutes(2),
        };
        var result = new LoadResult();
        var clock = Stopwatch.StartNew();
        var end = options.Duration;
        var sequence = 0L;
        if (options.Rate is { } rate)
        {
            // Open model: arrival i is due at i / rate, whether or not earlier answers came. The driver sleeps only when
            // the next arrival is over a millisecond away (timers are no finer), starts each request on this loop (no
            // thread hop) and keeps no finished task (a long run's heap stays small). Latency counts from the start:
            // the timer's own lateness is the driver's, not the target's; starts late by over 10 ms are counted (Late).
            var capacity = Math.Max(1, options.Users) * 16;
            using var slots = new SemaphoreSlim(capacity);
            for (long i = 0; ; i++)
            {
                var due = TimeSpan.FromSeconds(i / rate);
                if (due >= end)
                {
                    break;
                }
                var wait = due - clock.Elapsed;
                if (wait > TimeSpan.FromMilliseconds(1))
                {
                    await Task.Delay(wait, cancellationToken);
                }
                else if (wait < -TimeSpan.FromMilliseconds(10))
                {
                    Interlocked.Increment(ref result.Late);
                }
                if (!await slots.WaitAsync(0, cancellationToken))
                {
                    // More in flight than the driver holds: counted as an error of the target (it is not keeping up).
                    Interlocked.Increment(ref result.Requests);
                    Interlocked.Increment(ref result.Errors);
                    continue;
                }
                _ = SendThenReleaseAsync(http, options, Interlocked.Increment(ref sequence), result, clock, clock.Elapsed, slots, cancellationToken);
            }
            for (var i = 0; i < capacity; i++)
            {
                await slots.WaitAsync(CancellationToken.None);
            }
        }
        else
        {
            await Task.WhenAll(Enumerable.Range(0, Math.Max(1, options.Users)).Select(_ => Task.Run(async () =>
            {
                while (clock.Elapsed < end && !cancellationToken.IsCancellationRequested)
                {
                    var number = Interlocked.Increment(ref sequence);
                    if (number > options.MaxRequests)
                    {
                        break;
                    }
                    await SendAsync(http, options, number, result, clock, clock.Elapsed, cancellationToken);
                }
            }, cancellationToken)));
        }
        result.Elapsed = clock.Elapsed;
        return result;
    }

    private static async Task SendThenReleaseAsync(HttpClient http, LoadOptions options, long number, LoadResult result, Stopwatch clock, TimeSpan scheduled,
        SemaphoreSlim slots, CancellationToken cancellationToken)
    {
        try
        {
            await SendAsync(http, options, number, result, clock, scheduled, cancellationToken);
        }
        finally
        {
            slots.Release();
        }
    }

    private static async Task SendAsync(HttpClient http, LoadOptions options, long number, LoadResult result, Stopwatch clock, TimeSpan scheduled,
        CancellationToken cancellationToken)
    {
        // Each request's kind is drawn from its number, so a run's mix is the same every time.
        var draw = new Random((int)number);
        var stream = draw.NextDouble() < options.StreamShare;
        var cached = draw.NextDouble() < options.CacheShare;
        var fault = draw.NextDouble() < options.FaultShare;
        var anthropic = draw.NextDouble() < options.AnthropicShare;
        var prompt = cached ? $"Tell me about topic {number % 8}" : $"Question number {number}: what is {number} + 1?";
        var body = anthropic
            ? $$"""{"model":"{{options.Model}}","max_tokens":{{options.Tokens * 2}},"stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"{{prompt}}"}]}"""
            : $$"""{"model":"{{options.Model}}","stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"{{prompt}}"}]}""";
        using var request = new HttpRequestMessage(HttpMethod.Post, anthropic ? "v1/messages" : "v1/chat/completions")
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("x-sim-tokens", options.Tokens.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (fault)
        {
            request.Headers.Add("x-sim-fault", "500");
        }
        if (anthropic)
        {
            request.Headers.Add("anthropic-version", "2023-06-01");
        }
        if (options.ApiKey is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", options.ApiKey);
        }
        var ok = false;
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (stream && response.IsSuccessStatusCode)
            {
                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
                TimeSpan? last = null;
                while (await reader.ReadLineAsync(cancellationToken) is { } line)
                {
                    // A content token: an OpenAI chunk with a delta's content, or an Anthropic text delta.
                    if (!line.StartsWith("data: ", StringComparison.Ordinal) || !(line.Contains("\"content\":\"", StringComparison.Ordinal) || line.Contains("\"text_delta\"", StringComparison.Ordinal)))
                    {
                        continue;
                    }
                    var now = clock.Elapsed;
                    if (last is null)
                    {
                        result.TimeToFirstToken.Record((long)(now - scheduled).TotalMicroseconds);
                    }
                    else
                    {
                        result.InterToken.Record((long)(now - last.Value).TotalMicroseconds);
                    }
                    last = now;
                    Interlocked.Increment(ref result.Tokens);
                }
                ok = last is not null;
            }
            else
            {
                // Read whole: the latency is to the answer's last byte.
                await response.Content.ReadAsByteArrayAsync(cancellationToken);
                ok = response.IsSuccessStatusCode;
                if (ok)
                {
                    Interlocked.Add(ref result.Tokens, options.Tokens);
                }
            }
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            ok = false;
        }
        result.Latency.Record((long)(clock.Elapsed - scheduled).TotalMicroseconds);
        Interlocked.Increment(ref result.Requests);
        if (!ok && !fault)
        {
            Interlocked.Increment(ref result.Errors);
        }
    }
}
