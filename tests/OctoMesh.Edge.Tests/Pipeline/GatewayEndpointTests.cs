using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using OctoMesh.Edge.Pipeline;
using OctoMesh.Edge.Pipeline.Steps;
using OctoMesh.Edge.Telemetry;
using OctoMesh.Edge.Tenancy;
using OctoMesh.Edge.Wire;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Tests.Pipeline;

public sealed class GatewayEndpointTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("octomesh-endpoint-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>A provider nothing is sent to here: the steps under test stop before any upstream call.</summary>
    private const string Config = """
        { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "http://127.0.0.1:9" } }, "models": { "m": { "provider": "sim" } },
          "rateLimits": [ { "name": "all", "tokensPerMinute": 1000 } ] }
        """;

    private (GatewayRuntimeHolder Runtimes, TenancyStore Tenancy) Runtime(string json = Config)
    {
        var loaded = ConfigLoader.Load(Encoding.UTF8.GetBytes(json), _ => null);
        Assert.True(loaded.Config is not null, string.Join("; ", loaded.Errors));
        var config = loaded.Config with { Tenancy = loaded.Config.Tenancy with { Directory = _directory } };
        return (new GatewayRuntimeHolder(new GatewayRuntime(config, null), null, NullLogger.Instance), new TenancyStore(config.Tenancy, null, NullLogger.Instance));
    }

    private static DefaultHttpContext Post(string body)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "POST";
        context.Request.Path = "/v1/chat/completions";
        context.Request.Body = new MemoryStream(Encoding.UTF8.GetBytes(body));
        context.Request.ContentLength = context.Request.Body.Length;
        context.Response.Body = new MemoryStream();
        return context;
    }

    /// <summary>A step that writes down when it runs and, as a bracket, when it closes.</summary>
    private sealed class Recorder(string name, List<string> log, StepResult result = StepResult.Next) : IRequestBracket
    {
        public ValueTask<StepResult> RunAsync(GatewayRequest request)
        {
            log.Add("run " + name);
            return ValueTask.FromResult(result);
        }

        public ValueTask CloseAsync(GatewayRequest request)
        {
            log.Add("close " + name);
            return ValueTask.CompletedTask;
        }
    }

    private sealed class Step(Func<GatewayRequest, StepResult> run) : IRequestStep
    {
        public ValueTask<StepResult> RunAsync(GatewayRequest request) => ValueTask.FromResult(run(request));
    }

    [Fact]
    public async Task BracketsCloseInReverseOrderWhenALaterStepThrows()
    {
        var (runtimes, tenancy) = Runtime();
        var log = new List<string>();
        var endpoint = new GatewayEndpoint(runtimes, tenancy, NullLogger<GatewayEndpoint>.Instance,
            [new Recorder("a", log), new Step(_ => throw new InvalidOperationException("boom")), new Recorder("never", log)]);
        var thrown = await Assert.ThrowsAsync<InvalidOperationException>(() => endpoint.HandleAsync(Post("{}"), ApiOperation.ChatCompletions));
        Assert.Equal("boom", thrown.Message);
        Assert.Equal(["run a", "close a"], log);

        log.Clear();
        endpoint = new GatewayEndpoint(runtimes, tenancy, NullLogger<GatewayEndpoint>.Instance,
            [new Recorder("a", log), new Recorder("b", log), new Step(_ => throw new TimeoutException()), new Recorder("never", log)]);
        await Assert.ThrowsAsync<TimeoutException>(() => endpoint.HandleAsync(Post("{}"), ApiOperation.ChatCompletions));
        Assert.Equal(["run a", "run b", "close b", "close a"], log);
    }

    [Fact]
    public async Task AStepThatAnswersStopsTheChainAndTheBracketsBeforeItClose()
    {
        var (runtimes, tenancy) = Runtime();
        var log = new List<string>();
        var endpoint = new GatewayEndpoint(runtimes, tenancy, NullLogger<GatewayEndpoint>.Instance,
            [new Recorder("a", log), new Recorder("answers", log, StepResult.Answered), new Recorder("never", log)]);
        await endpoint.HandleAsync(Post("{}"), ApiOperation.ChatCompletions);
        Assert.Equal(["run a", "run answers", "close answers", "close a"], log);
    }

    [Fact]
    public async Task AFailingCloseDoesNotKeepTheOthersFromClosing()
    {
        var (runtimes, tenancy) = Runtime();
        var log = new List<string>();
        var endpoint = new GatewayEndpoint(runtimes, tenancy, NullLogger<GatewayEndpoint>.Instance,
            [new Recorder("a", log), new FailingClose(), new Recorder("b", log)]);
        await endpoint.HandleAsync(Post("{}"), ApiOperation.ChatCompletions);
        Assert.Equal(["run a", "run b", "close b", "close a"], log);
    }

    private sealed class FailingClose : IRequestBracket
    {
        public ValueTask<StepResult> RunAsync(GatewayRequest request) => ValueTask.FromResult(StepResult.Next);
        public ValueTask CloseAsync(GatewayRequest request) => throw new InvalidOperationException("close failed");
    }

    [Fact]
    public async Task TheAccountRecordsARequestWhoseLaterStepThrew()
    {
        var (runtimes, tenancy) = Runtime();
        var metrics = new GatewayMetrics(workspaceLabel: false, maxSeries: 100);
        var account = new AccountStep(new OctoMesh.Edge.Metering.RequestMeter(metrics, null), NullLogger<AccountStep>.Instance);
        var endpoint = new GatewayEndpoint(runtimes, tenancy, NullLogger<GatewayEndpoint>.Instance,
            [account, new Step(_ => throw new InvalidOperationException())]);
        var context = Post("{}");
        await Assert.ThrowsAsync<InvalidOperationException>(() => endpoint.HandleAsync(context, ApiOperation.ChatCompletions));
        Assert.False(string.IsNullOrEmpty(context.Response.Headers["x-request-id"]));
        using var scrape = new MemoryStream();
        await metrics.Registry.CollectAndExportAsTextAsync(scrape);
        Assert.Contains("octomesh_requests_total{", Encoding.UTF8.GetString(scrape.ToArray()));
    }

    [Fact]
    public async Task QuotasGiveBackWhatTheyHeldWhenALaterStepThrows()
    {
        // One request may hold 1,000 tokens a minute: two in a row pass only if the first gave its hold back.
        var (runtimes, tenancy) = Runtime();
        var limiter = new RateLimiter(null);
        var quotas = new QuotaStep(limiter, new BudgetLedger(null), new GatewayMetrics(false, 100), NullLogger<QuotaStep>.Instance);
        var reached = 0;
        var endpoint = new GatewayEndpoint(runtimes, tenancy, NullLogger<GatewayEndpoint>.Instance,
            [new InspectStep(NullLogger<InspectStep>.Instance), new RouteStep(), quotas, new Step(request =>
            {
                reached++;
                Assert.NotNull(request.RateHolds);
                throw new InvalidOperationException("the upstream call broke");
            })]);
        const string Body = """{"model":"m","max_tokens":800,"messages":[{"role":"user","content":"hi"}]}""";
        for (var i = 0; i < 2; i++)
        {
            await Assert.ThrowsAsync<InvalidOperationException>(() => endpoint.HandleAsync(Post(Body), ApiOperation.ChatCompletions));
        }
        Assert.Equal(2, reached);
    }
}
