using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http;
using OctoMesh.Routing.Pricing;
using OctoMesh.Routing.Table;

namespace OctoMesh.Edge.Optimizer;

/// <summary>
/// Shadow evaluation (a route's <c>shadow</c>): after a sampled request of the route is answered, the same messages go
/// to each candidate model, and a judge compares each candidate's answer with the one the client got, both ways round;
/// the score, cost and latency are appended to the route's result store, which <c>octomesh optimize</c> reads. All of
/// it runs on one background task, never on the response path, within the route's daily spend cap. The mirrored
/// requests go through this gateway itself (its providers, aliases, metering), over loopback, admitted by a credential
/// that never leaves the process (<see cref="Header"/>: never forwarded upstream, like every <c>x-octomesh-</c>
/// header); they carry no workspace, so no client's budget pays for them, and they are never mirrored again. Nothing
/// of the prompts or answers is kept: the store holds scores.
/// </summary>
internal sealed class ShadowEvaluator : IAsyncDisposable
{
    public const string Header = "x-octomesh-shadow";
    private const int Backlog = 256;

    /// <summary>The secret a mirrored request carries; made when first needed (OpenSSL's generator, which costs the start 10 ms).</summary>
    private readonly Lazy<string> _token = new(() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)));
    private readonly Channel<Job> _queue = Channel.CreateBounded<Job>(new BoundedChannelOptions(Backlog) { SingleReader = true });
    private readonly Lock _gate = new();
    private readonly Dictionary<string, (DateOnly Day, long Micros)> _spent = new(StringComparer.Ordinal);
    private HttpClient? _self;
    private Task _worker = Task.CompletedTask;
    private long _dropped;

    private byte[] TokenBytes => field ??= Encoding.ASCII.GetBytes(_token.Value);

    private sealed record Job(string Route, ShadowPolicy Policy, string Judge, string Id, string Task, string Request, string Question, string Answer, PriceTable Prices);

    /// <summary>Sampled requests not mirrored because the queue was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Starts the worker, which sends to this gateway at <paramref name="self"/>.</summary>
    public void Start(Uri self)
    {
        _self = new HttpClient { BaseAddress = self, Timeout = TimeSpan.FromMinutes(2) };
        _worker = Task.Run(RunAsync);
    }

    /// <summary>Whether the request is one of the mirrored ones (its credential compared in constant time).</summary>
    public bool IsShadow(IHeaderDictionary headers)
    {
        if (!headers.TryGetValue(Header, out var value) || value.Count != 1 || value[0] is not { Length: 64 } given)
        {
            return false;
        }
        Span<byte> bytes = stackalloc byte[64];
        return Encoding.ASCII.GetBytes(given, bytes) == 64 && CryptographicOperations.FixedTimeEquals(bytes, TokenBytes);
    }

    /// <summary>Draws whether this request of <paramref name="route"/> is mirrored: its share, while today's spend is under the cap.</summary>
    public bool Sample(string route, ShadowPolicy policy)
    {
        if (_self is null || Random.Shared.NextDouble() >= policy.Share)
        {
            return false;
        }
        lock (_gate)
        {
            return !_spent.TryGetValue(route, out var spent) || spent.Day != Today || spent.Micros < policy.MaxMicroUsdPerDay;
        }
    }

    /// <summary>Queues a mirrored request: the client's request body, its last user turn, and the answer the client got.</summary>
    public void Offer(string route, ShadowPolicy policy, string judge, string requestId, string task, string request, string question, string answer,
        PriceTable prices)
    {
        var job = new Job(route, policy, judge, "shadow-" + requestId, task, request, question, answer, prices);
        if (!_queue.Writer.TryWrite(job))
        {
            Interlocked.Increment(ref _dropped);
        }
    }

    /// <summary>The text of a chat completion's first choice (a stream already made one JSON body); null when it has none.</summary>
    public static string? AnswerText(byte[] json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            return document.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString();
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    private static DateOnly Today => DateOnly.FromDateTime(DateTime.UtcNow);

    private async Task RunAsync()
    {
        await foreach (var job in _queue.Reader.ReadAllAsync())
        {
            var runner = new EvalRunner(_self!, job.Prices, headers: new Dictionary<string, string> { [Header] = _token.Value }) { JudgeModel = job.Judge };
            foreach (var model in job.Policy.Models)
            {
                lock (_gate)
                {
                    if (_spent.TryGetValue(job.Route, out var spent) && spent.Day == Today && spent.Micros >= job.Policy.MaxMicroUsdPerDay)
                    {
                        break;
                    }
                }
                var before = runner.Spent;
                try
                {
                    var result = await runner.ShadowAsync(job.Id, job.Task, job.Request, job.Question, model, job.Answer, CancellationToken.None)
                        .ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
                    // On the thread pool (forced above): with inline I/O the answer's socket thread would otherwise write the file.
                    Append(job.Policy.Results, result);
                }
                catch (Exception)
                {
                    // Whatever went wrong with this mirror (the store, an odd body), the worker goes on with the next.
                    Interlocked.Increment(ref _dropped);
                }
                lock (_gate)
                {
                    var day = Today;
                    var spent = _spent.TryGetValue(job.Route, out var was) && was.Day == day ? was.Micros : 0;
                    _spent[job.Route] = (day, spent + runner.Spent - before);
                }
            }
        }
    }

    private static void Append(string path, EvalResult result)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using var file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        using (var json = new Utf8JsonWriter(file))
        {
            result.Write(json);
        }
        file.WriteByte((byte)'\n');
    }

    /// <summary>Waits until every queued mirror is done (tests, and shutdown).</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _worker;
        _self?.Dispose();
    }
}
