using System.Buffers;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using OctoMesh.Routing.Pricing;

namespace OctoMesh.Edge.Optimizer;

/// <summary>
/// <c>octomesh eval</c>'s engine: sends every workload item to every candidate model through a running gateway (so the
/// gateway's own providers, routes and keys serve it), scores each answer with the item's checker, prices it from the
/// usage the answer reports, and appends one result line per pair to the store as it goes. Pairs already in the store
/// are skipped (resume after a stop or a crash). New pairs stop being started once the spend reaches the cap.
/// </summary>
/// <param name="headers">Sent with every request (the gateway's shadow credential, for shadow evaluation).</param>
internal sealed class EvalRunner(HttpClient gateway, PriceTable prices, string? apiKey = null, IReadOnlyDictionary<string, string>? headers = null)
{
    /// <summary>Each judged item's reference answer, asked of <see cref="ReferenceModel"/> once.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Task<Answer>> _references = new(StringComparer.Ordinal);
    private static readonly Dictionary<string, string> s_noHeaders = [];
    private long _spent;

    /// <summary>The model whose answers judged items are compared with.</summary>
    public string? ReferenceModel { get; init; }

    /// <summary>The model that judges (its own calls count toward the spend cap, not toward a candidate's cost).</summary>
    public string? JudgeModel { get; init; }

    public int Concurrency { get; init; } = 8;

    /// <summary>Micro-dollars the run may spend (pairs in flight when it is reached still finish); null: no cap.</summary>
    public long? MaxSpendMicros { get; init; }

    public TextWriter? Progress { get; init; }

    /// <summary>
    /// The upstream model a candidate name should reach (the configuration's aliases); an answer the gateway served from
    /// another (a route or a detected task sent it elsewhere) is an error, <c>routed_elsewhere</c>, not evidence.
    /// </summary>
    public Func<string, string?>? ExpectedUpstream { get; init; }

    /// <summary>Micro-dollars spent so far, by candidates and judges alike.</summary>
    public long Spent => Interlocked.Read(ref _spent);

    /// <returns>The results of this run (not those found in the store), and whether the spend cap stopped it.</returns>
    public async Task<(List<EvalResult> Results, bool Capped)> RunAsync(IReadOnlyList<WorkloadItem> items, IReadOnlyList<string> models, string store,
        CancellationToken cancellationToken = default)
    {
        var done = EvalResult.ReadAll(store).Where(r => r.Error is null).Select(r => (r.Item, r.Model)).ToHashSet();
        var pairs = items.SelectMany(item => models.Select(model => (Item: item, Model: model))).Where(p => !done.Contains((p.Item.Id, p.Model))).ToList();
        var results = new List<EvalResult>();
        var capped = false;
        var gate = new Lock();
        await using var output = new FileStream(store, FileMode.Append, FileAccess.Write, FileShare.Read);
        if (output.Length > 0 && LastByte(store) != (byte)'\n')
        {
            // A line torn by a crash: end it, so the next result starts a line of its own.
            output.WriteByte((byte)'\n');
        }
        var finished = 0;
        await Parallel.ForEachAsync(pairs, new ParallelOptions { MaxDegreeOfParallelism = Concurrency, CancellationToken = cancellationToken },
            async (pair, token) =>
            {
                if (MaxSpendMicros is { } cap && Interlocked.Read(ref _spent) >= cap)
                {
                    capped = true;
                    return;
                }
                EvalResult result;
                try
                {
                    result = await AskAsync(pair.Item, pair.Model, token);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // Whatever one pair does (an answer of an odd shape, a checker's bad reference), the run goes on.
                    result = new EvalResult(pair.Item.Id, pair.Item.Task, pair.Model, 0, 0, 0, 0, 0, e.GetType().Name);
                }
                var line = new ArrayBufferWriter<byte>(256);
                using (var json = new Utf8JsonWriter(line))
                {
                    result.Write(json);
                }
                lock (gate)
                {
                    output.Write(line.WrittenSpan);
                    output.WriteByte((byte)'\n');
                    output.Flush();
                    results.Add(result);
                    finished++;
                    Progress?.Write($"\r{Bar(finished, pairs.Count)} {finished}/{pairs.Count} pairs  ${Interlocked.Read(ref _spent) / 1e6:0.0000}");
                }
            });
        Progress?.WriteLine();
        return (results, capped);
    }

    /// <summary>One answer: its text, cost, latency and tokens, or the error that stood for it.</summary>
    private sealed record Answer(string Text, long CostMicros, double LatencyMs, int PromptTokens, int CompletionTokens, string? Error);

    private async Task<EvalResult> AskAsync(WorkloadItem item, string model, CancellationToken cancellationToken)
    {
        var answer = await CallAsync(model, item.Messages, cancellationToken);
        var score = 0.0;
        var error = answer.Error;
        if (error is null && item.Checker.Kind == CheckerKind.Judge)
        {
            (score, error) = await JudgeAsync(item, answer.Text, cancellationToken);
        }
        else if (error is null)
        {
            score = item.Checker.Score(answer.Text, item.Reference);
        }
        return new EvalResult(item.Id, item.Task, model, score, answer.CostMicros, answer.LatencyMs, answer.PromptTokens, answer.CompletionTokens, error);
    }

    /// <summary>The candidate's answer against the reference model's, judged with the places swapped (<see cref="Checker.JudgedScore"/>).</summary>
    private async Task<(double Score, string? Error)> JudgeAsync(WorkloadItem item, string candidate, CancellationToken cancellationToken)
    {
        if (ReferenceModel is null || JudgeModel is null)
        {
            return (0, "no_judge");
        }
        var reference = await _references.GetOrAdd(item.Id, _ => CallAsync(ReferenceModel, item.Messages, CancellationToken.None));
        if (reference.Error is not null)
        {
            // Not kept: the next candidate asks again rather than fail on a stale error.
            _references.TryRemove(item.Id, out _);
            return (0, "reference_" + reference.Error);
        }
        return await JudgeAgainstAsync(item.LastUserText, candidate, reference.Text, cancellationToken);
    }

    /// <summary>
    /// A shadow evaluation: <paramref name="messages"/> sent to <paramref name="model"/>, and its answer judged against
    /// <paramref name="primaryAnswer"/>, the one the client got.
    /// </summary>
    /// <param name="request">The client's request body: sent again with the candidate's name (and not streamed), its other parameters as they were.</param>
    public async Task<EvalResult> ShadowAsync(string id, string task, string request, string question, string model, string primaryAnswer,
        CancellationToken cancellationToken)
    {
        var body = System.Text.Json.Nodes.JsonNode.Parse(request)!.AsObject();
        body["model"] = model;
        body.Remove("stream");
        body.Remove("stream_options");
        var answer = await CallAsync(model, "", cancellationToken, OptimizeReport.ToText(body));
        var (score, error) = answer.Error is null ? await JudgeAgainstAsync(question, answer.Text, primaryAnswer, cancellationToken) : (0, answer.Error);
        return new EvalResult(id, task, model, score, answer.CostMicros, answer.LatencyMs, answer.PromptTokens, answer.CompletionTokens, error);
    }

    private async Task<(double Score, string? Error)> JudgeAgainstAsync(string question, string candidate, string reference, CancellationToken cancellationToken)
    {
        if (JudgeModel is null)
        {
            return (0, "no_judge");
        }
        var first = await CallAsync(JudgeModel, JudgePrompt(question, candidate, reference), cancellationToken);
        var second = await CallAsync(JudgeModel, JudgePrompt(question, reference, candidate), cancellationToken);
        if ((first.Error ?? second.Error) is { } failed)
        {
            return (0, "judge_" + failed);
        }
        return Checker.Verdict(first.Text) is { } a && Checker.Verdict(second.Text) is { } b ? (Checker.JudgedScore(a, b), null) : (0, "judge_unparsable");
    }

    private static string JudgePrompt(string question, string a, string b) => WorkloadItem.UserMessages(
        $"Compare two answers to the question below.\nQuestion: {question}\nAnswer A: {a}\nAnswer B: {b}\nReply with exactly one of: A, B, tie.");

    /// <param name="whole">A whole request body to send instead of one made of <paramref name="messages"/>.</param>
    private async Task<Answer> CallAsync(string model, string messages, CancellationToken cancellationToken, string? whole = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new ByteArrayContent(whole is null ? Body(model, messages) : Encoding.UTF8.GetBytes(whole)) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        // Evaluation asks every candidate: an exact cache hit would measure the cache, not the model.
        request.Headers.Add("x-octomesh-cache", "off");
        if (apiKey is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }
        foreach (var (name, value) in headers ?? s_noHeaders)
        {
            request.Headers.Add(name, value);
        }
        var started = Stopwatch.GetTimestamp();
        try
        {
            using var response = await gateway.SendAsync(request, cancellationToken);
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            var latency = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            using var document = JsonDocument.Parse(text);
            var root = document.RootElement;
            if (!response.IsSuccessStatusCode)
            {
                var code = root.TryGetProperty("error", out var error) && error.TryGetProperty("code", out var c) ? c.GetString() : null;
                return new Answer("", 0, latency, 0, 0, code ?? ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
            var answer = root.GetProperty("choices")[0].GetProperty("message").TryGetProperty("content", out var content) ? content.GetString() ?? "" : "";
            var usage = root.GetProperty("usage");
            var prompt = usage.GetProperty("prompt_tokens").GetInt32();
            var completion = usage.GetProperty("completion_tokens").GetInt32();
            var served = response.Headers.TryGetValues("x-octomesh-model", out var models) ? models.First() : model;
            if (!prices.TryFind(served, out var price) && !prices.TryFind(model, out price))
            {
                // A model without a price would look free, and so the cheapest: no evidence until it has one (prices).
                return new Answer("", 0, latency, prompt, completion, "unpriced");
            }
            var cost = price.Cost(prompt, completion, 0, 0, 0);
            Interlocked.Add(ref _spent, cost);
            if (ExpectedUpstream?.Invoke(model) is { } expected && expected != served)
            {
                return new Answer("", cost, latency, prompt, completion, "routed_elsewhere");
            }
            return new Answer(answer, cost, latency, prompt, completion, null);
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or KeyNotFoundException or InvalidOperationException or IndexOutOfRangeException
            || e is TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return new Answer("", 0, Stopwatch.GetElapsedTime(started).TotalMilliseconds, 0, 0, e.GetType().Name);
        }
    }

    private static byte[] Body(string model, string messages)
    {
        var body = new ArrayBufferWriter<byte>(256 + messages.Length);
        using (var json = new Utf8JsonWriter(body))
        {
            json.WriteStartObject();
            json.WriteString("model", model);
            json.WriteNumber("max_tokens", 256);
            json.WritePropertyName("messages");
            json.WriteRawValue(messages);
            json.WriteEndObject();
        }
        return body.WrittenSpan.ToArray();
    }

    private static byte LastByte(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        file.Seek(-1, SeekOrigin.End);
        return (byte)file.ReadByte();
    }

    private static string Bar(int done, int total)
    {
        var filled = total == 0 ? 30 : done * 30 / total;
        return "[" + new string('#', filled) + new string('.', 30 - filled) + "]";
    }
}
