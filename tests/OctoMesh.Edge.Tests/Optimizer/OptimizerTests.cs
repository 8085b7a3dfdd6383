using System.Text.Json.Nodes;
using OctoMesh.Edge.Optimizer;
using OctoMesh.Edge.Tests.Hosting;
using OctoMesh.Routing.Configuration;
using OctoMesh.Routing.Pricing;

namespace OctoMesh.Edge.Tests.Optimizer;

public sealed class OptimizerTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("octomesh-optimizer-").FullName;

    [Theory]
    [InlineData("exact", null, "Positive.", "positive", 1)]
    [InlineData("exact", null, "positive, I think", "positive", 0)]
    [InlineData("regex", "^\\s*#?48213\\s*$", " #48213 ", null, 1)]
    [InlineData("regex", "^\\s*#?48213\\s*$", "48214", null, 0)]
    [InlineData("numeric", null, "The answer is 1,234. the gateway", "1234", 1)]
    [InlineData("numeric", null, "The answer is -12.", "-12", 1)]
    [InlineData("numeric", null, "The answer is 445.", "444", 0)]
    [InlineData("numeric", null, "no number here", "444", 0)]
    public void CheckersScoreClosedAnswers(string kind, string? pattern, string answer, string? reference, double score)
    {
        var checker = new Checker(kind switch { "regex" => CheckerKind.Regex, "numeric" => CheckerKind.Numeric, _ => CheckerKind.Exact }, pattern);
        Assert.Equal(score, checker.Score(answer, reference));
        Assert.Equal(1, new Checker(CheckerKind.Numeric, Tolerance: 0.5).Score("about 3.4", "3"));
    }

    [Fact]
    public void TheJsonCheckerWantsTheSchemaAndTheReferenceValues()
    {
        var checker = new Checker(CheckerKind.Json, Schema: """{"required":["name","age"],"properties":{"name":{"type":"string"},"age":{"type":"integer"}}}""");
        const string Reference = """{"name":"Maria","age":34}""";
        Assert.Equal(1, checker.Score(""" {"age":34,"name":"Maria"} """, Reference));
        Assert.Equal(0, checker.Score("""{"name":"Maria","age":"34"}""", Reference));
        Assert.Equal(0, checker.Score("""{"name":"Maria","age":35}""", Reference));
        Assert.Equal(0, checker.Score("""{"name":"Maria"}""", null));
        Assert.Equal(0, checker.Score("Sure! {\"name\":", Reference));
        Assert.Equal(1, checker.Score("""{"name":"Ines","age":20,"extra":true}""", null));
    }

    [Theory]
    [InlineData("A", "A")]
    [InlineData(" B\n", "B")]
    [InlineData("Tie.", "tie")]
    [InlineData("**Answer B**", "B")]
    [InlineData("A tie.", null)]
    [InlineData("A: wrong. B: right", null)]
    [InlineData("Answer B is better: it names every fact.", null)]
    [InlineData("Both are fine", null)]
    [InlineData("", null)]
    public void JudgeVerdictsAreParsed(string text, string? verdict) => Assert.Equal(verdict, Checker.Verdict(text));

    [Fact]
    public void SwappingPlacesCancelsAJudgesPositionBias()
    {
        // Not worse either way; worse either way; and a judge that says "A" whatever it is shown.
        Assert.Equal(1, Checker.JudgedScore("A", "B"));
        Assert.Equal(1, Checker.JudgedScore("tie", "tie"));
        Assert.Equal(0, Checker.JudgedScore("B", "A"));
        Assert.Equal(0.5, Checker.JudgedScore("A", "A"));
    }

    [Fact]
    public void TheCodeCheckerRunsTheAnswerAgainstItsTestsInNodesSandbox()
    {
        var checker = new Checker(CheckerKind.Code, Tests: "if (add(2, 3) !== 5 || add(-1, 1) !== 0) throw new Error('wrong');", TimeoutMs: 2000);
        Assert.Equal(1, checker.Score("Here it is:\n```js\nfunction add(a, b) { return a + b; }\n```\nDone.", null));
        Assert.Equal(1, checker.Score("function add(a, b) { return b + a; }", null));
        Assert.Equal(0, checker.Score("```javascript\nfunction add(a, b) { return a - b; }\n```", null));
        Assert.Equal(0, checker.Score("not code at all", null));
        // What the permission model refuses: reading other files, starting processes.
        Assert.Equal(0, checker.Score("require('fs').readFileSync('/etc/hostname'); function add(a, b) { return a + b; }", null));
        Assert.Equal(0, checker.Score("require('child_process').execSync('true'); function add(a, b) { return a + b; }", null));
        // And what never ends is stopped.
        Assert.Equal(0, new Checker(CheckerKind.Code, Tests: "add(1, 2);", TimeoutMs: 300).Score("function add(a, b) { for (;;) {} }", null));
    }

    [Fact]
    public void WilsonsLowerBoundNeedsEvidence()
    {
        Assert.Equal(0, Wilson.LowerBound(0, 0));
        Assert.Equal(0.9008, Wilson.LowerBound(95, 100), 4);
        Assert.Equal(0.9487, Wilson.LowerBound(50, 50), 4);
        // Ten right out of ten is less evidence than 95 out of 100.
        Assert.Equal(0.7870, Wilson.LowerBound(10, 10), 4);
    }

    private static IEnumerable<EvalResult> Results(string task, string model, int trials, int right, long cost) =>
        Enumerable.Range(0, trials).Select(i => new EvalResult($"{task}-{i}", task, model, i < right ? 1 : 0, cost, 10, 10, 5));

    private static readonly GatewayConfig s_config = ConfigLoader.Load("""
        { "providers": { "sim": { "kind": "sim" } }, "models": { "*": { "provider": "sim" } } }
        """u8.ToArray(), _ => null).Config!;

    [Fact]
    public void EachClassGetsTheCheapestModelWhoseLowerBoundClearsTheFloorWithStrongerFallbacks()
    {
        var results = new List<EvalResult>();
        // easy: the cheap model is good enough; hard: only the dear one; thin: the cheap one is perfect on too few items.
        results.AddRange(Results("easy", "cheap", 100, 99, 1));
        results.AddRange(Results("easy", "mid", 100, 100, 10));
        results.AddRange(Results("easy", "dear", 100, 100, 100));
        results.AddRange(Results("hard", "cheap", 100, 60, 1));
        results.AddRange(Results("hard", "mid", 100, 88, 10));
        results.AddRange(Results("hard", "dear", 100, 99, 100));
        results.AddRange(Results("thin", "cheap", 10, 10, 1));
        results.AddRange(Results("thin", "dear", 100, 100, 100));
        results.AddRange(Results("none", "cheap", 100, 50, 1));

        var choices = RouteOptimizer.Choose(results, s_config, "dear", floor: 0.9, minSamples: 30).ToDictionary(c => c.Task);
        Assert.Equal(["cheap", "mid", "dear"], choices["easy"].Chosen.Select(c => c.Model));
        Assert.Equal(["dear"], choices["hard"].Chosen.Select(c => c.Model));
        Assert.Equal(["dear"], choices["thin"].Chosen.Select(c => c.Model));
        Assert.Empty(choices["none"].Chosen);
        Assert.Contains("no candidate", choices["none"].Reason);
        // The current routing sends everything to "dear" (the alias passes the name through).
        Assert.All(choices.Values, c => Assert.Equal("dear", c.CurrentModel));
        // "none" has no result of its current model: it is left out of the projection, the other three weigh alike.
        Assert.Equal((100.0, (1 + 100 + 100) / 3.0), RouteOptimizer.CostPerItem([.. choices.Values]));
        // A candidate that failed on more than 5% of a class's items is no evidence, whatever it answered.
        var flaky = results.Concat(Enumerable.Range(0, 10).Select(i => new EvalResult($"easy-e{i}", "easy", "cheap", 0, 0, 0, 0, 0, "upstream_timeout"))).ToList();
        Assert.Equal("mid", RouteOptimizer.Choose(flaky, s_config, "dear", 0.9, 30).Single(c => c.Task == "easy").Chosen[0].Model);
    }

    [Fact]
    public void ApplyReplacesOnlyTheOptimizedRoutesAndPutsThemFirst()
    {
        var file = JsonNode.Parse("""
            { "routes": [ { "name": "optimized-old", "targets": [] }, { "name": "mine", "targets": [] } ], "models": {} }
            """)!;
        var choices = RouteOptimizer.Choose([.. Results("math", "sim-pro", 50, 50, 5), .. Results("math", "sim-large", 50, 50, 50)], s_config, "sim-large", 0.9, 30);
        var applied = OptimizeReport.Apply(file, OptimizeReport.Routes(choices, s_config, "sim-large"));
        Assert.Equal(["optimized-math", "mine"], applied["routes"]!.AsArray().Select(r => r!["name"]!.GetValue<string>()));
        Assert.Equal("""{"model":"sim-large","task":"math"}""", applied["routes"]![0]!["match"]!.ToJsonString());
        Assert.Equal(["sim-pro", "sim-large"], applied["routes"]![0]!["targets"]!.AsArray().Select(t => t!["model"]!.GetValue<string>()));
        // The written routes are a configuration the loader takes.
        var loaded = ConfigLoader.Load(System.Text.Encoding.UTF8.GetBytes(OptimizeReport.ToText(OptimizeReport.Apply(JsonNode.Parse("""
            { "providers": { "sim": { "kind": "sim" } }, "models": { "*": { "provider": "sim" } } }
            """)!, OptimizeReport.Routes(choices, s_config, "sim-large")))), _ => null);
        Assert.True(loaded.Succeeded, string.Join("\n", loaded.Errors));
        Assert.Equal("sim-pro", new CurrentRouting(loaded.Config! with { Routes = [.. loaded.Config!.Routes.Select(r => r with { Name = "kept" })] }).For("sim-large", "math").Model);
    }

    [Fact]
    public void RoutesNameWhatTheAliasesResolveToAndKeepTheCurrentRoutesSettings()
    {
        const string File = """
            { "providers": { "sim": { "kind": "sim" } }, "models": { "fast": { "provider": "sim", "model": "sim-small" }, "*": { "provider": "sim" } },
              "routes": [ { "name": "main", "match": { "model": "big" }, "targets": [ { "provider": "sim", "model": "sim-large" } ], "deadlineMs": 9000, "cache": "off" } ] }
            """;
        var config = ConfigLoader.Load(System.Text.Encoding.UTF8.GetBytes(File), _ => null).Config!;
        var choices = RouteOptimizer.Choose([.. Results("t", "fast", 50, 50, 1), .. Results("t", "sim-large", 50, 50, 50)], config, "big", 0.9, 30);
        // The current model is the route's target; the candidate named sim-large is that model.
        Assert.Equal(("sim-large", "sim-large"), (choices[0].CurrentModel, choices[0].Current!.Model));
        var route = OptimizeReport.Routes(choices, config, "big", JsonNode.Parse(File))[0]!;
        Assert.Equal("""{"provider":"sim","model":"sim-small"}""", route["targets"]![0]!.ToJsonString());
        Assert.Equal((9000, "off"), (route["deadlineMs"]!.GetValue<int>(), route["cache"]!.GetValue<string>()));
    }

    [Fact]
    public async Task AnAnswerFromAnotherModelThanAskedOrWithoutAPriceIsNotEvidence()
    {
        await using var test = await TestGateway.StartAsync("""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}" } }, "models": { "*": { "provider": "sim" } },
              "routes": [ { "name": "elsewhere", "match": { "model": "sim-nano" }, "targets": [ { "provider": "sim", "model": "sim-large" } ] } ] }
            """);
        var runner = new EvalRunner(test.Client, PriceTable.Defaults) { ExpectedUpstream = model => model };
        var (results, _) = await runner.RunAsync([.. WorkloadGenerator.Generate(1, seed: 4).Take(1)], ["sim-nano", "unknown-model", "sim-small"],
            Path.Combine(_directory, "checked.jsonl"));
        Assert.Equal(("routed_elsewhere", "unpriced", (string?)null), (results.Single(r => r.Model == "sim-nano").Error,
            results.Single(r => r.Model == "unknown-model").Error, results.Single(r => r.Model == "sim-small").Error));
    }

    [Fact]
    public async Task OnTheSimulatedMarketTheChoicesHoldTheFloorAndReachTheOraclesSavingsOnHeldOutItems()
    {
        await using var test = await TestGateway.StartAsync();
        string[] models = ["sim-nano", "sim-small", "sim-fast", "sim-medium", "sim-pro", "sim-large"];
        var runner = new EvalRunner(test.Client, PriceTable.Defaults) { Concurrency = 4, ReferenceModel = "sim-large", JudgeModel = "sim-large" };
        var trainStore = Path.Combine(_directory, "train.jsonl");
        var (train, capped) = await runner.RunAsync([.. WorkloadGenerator.Generate(150, seed: 1)], models, trainStore);
        Assert.Equal((5400, false, 0), (train.Count, capped, train.Count(r => r.Error is not null)));
        // Resumable: a second run finds every pair done.
        Assert.Empty((await runner.RunAsync([.. WorkloadGenerator.Generate(150, seed: 1)], models, trainStore)).Results);

        var heldOutStore = Path.Combine(_directory, "heldout.jsonl");
        var (heldOut, _) = await runner.RunAsync([.. WorkloadGenerator.Generate(150, seed: 2)], models, heldOutStore);
        var choices = RouteOptimizer.Choose(train, s_config, "sim-large", floor: 0.9, minSamples: 30);
        // The choices are the oracle's: per class the cheapest model whose true quality clears 0.9.
        Assert.Equal(["sim-nano", "sim-small", "sim-medium", "sim-pro", "sim-fast", "sim-pro"], choices.Select(c => c.Chosen[0].Model));
        var outcome = HeldOut.Measure(choices, heldOut, 0.9);
        Assert.All(outcome.Quality.Values, quality => Assert.True(quality >= 0.9, $"held-out quality {quality}"));
        Assert.True(outcome.Savings >= 0.95 * outcome.OracleSavings, $"{outcome.Savings} against the oracle's {outcome.OracleSavings}");
        Assert.True(outcome.TrueOracle);
    }

    [Fact]
    public async Task TheSpendCapStopsNewRequests()
    {
        await using var test = await TestGateway.StartAsync();
        var runner = new EvalRunner(test.Client, PriceTable.Defaults) { Concurrency = 1, MaxSpendMicros = 1 };
        var (results, capped) = await runner.RunAsync([.. WorkloadGenerator.Generate(5, seed: 3)], ["sim-large"], Path.Combine(_directory, "capped.jsonl"));
        Assert.True(capped);
        Assert.Single(results);
    }

    [Fact]
    public void CentroidsLearnedFromOneWorkloadClassifyAnother()
    {
        var classifier = CentroidClassifier.Train(WorkloadGenerator.Generate(50, seed: 1).Select(i => (i.Task, i.LastUserText)), new OctoMesh.Edge.Cache.Semantic.HashEmbedder());
        var heldOut = WorkloadGenerator.Generate(50, seed: 2).ToList();
        Assert.All(heldOut, item => Assert.Equal(item.Task, classifier.Classify(new OctoMesh.Routing.Table.TaskEvidence("", item.LastUserText, false))));
        // Nothing like any class: no task.
        Assert.Null(classifier.Classify(new OctoMesh.Routing.Table.TaskEvidence("", "Write a poem about the sea", false)));
        Assert.Null(classifier.Classify(new OctoMesh.Routing.Table.TaskEvidence("", "", false)));

        // Saved and loaded as the gateway loads it: the same answers.
        var path = Path.Combine(_directory, "centroids.json");
        classifier.Save(path, 300);
        var loaded = CentroidClassifier.Load(new TaskModelConfig(path));
        Assert.All(heldOut, item => Assert.Equal(item.Task, loaded.Classify(new OctoMesh.Routing.Table.TaskEvidence("", item.LastUserText, false))));
        File.WriteAllText(path, "{}");
        Assert.Throws<InvalidDataException>(() => CentroidClassifier.Load(new TaskModelConfig(path)));
    }

    [Fact]
    public async Task TheGatewayRoutesARequestThatDeclaredNoTaskByItsNearestCentroid()
    {
        var path = Path.Combine(_directory, "centroids.json");
        CentroidClassifier.Train(WorkloadGenerator.Generate(50, seed: 1).Select(i => (i.Task, i.LastUserText)), new OctoMesh.Edge.Cache.Semantic.HashEmbedder())
            .Save(path, 300);
        await using var test = await TestGateway.StartAsync($$"""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}" } }, "models": { "*": { "provider": "sim" } },
              "taskModel": { "centroids": "{{path}}" },
              "routes": [ { "name": "optimized-math", "match": { "model": "sim-large", "task": "math" }, "targets": [ { "provider": "sim", "model": "sim-pro" } ] } ] }
            """);
        async Task<(string? Task, string Model)> Ask(string prompt)
        {
            var response = await test.Client.PostAsync("/v1/chat/completions", new StringContent(
                $$"""{"model":"sim-large","messages":[{"role":"user","content":"{{prompt}}"}]}""", System.Text.Encoding.UTF8, "application/json"));
            return (response.Headers.TryGetValues("x-octomesh-task", out var task) ? task.Single() : null, response.Headers.GetValues("x-octomesh-model").Single());
        }
        Assert.Equal(("math", "sim-pro"), await Ask("What is 31 * 17?"));
        Assert.Equal((null, "sim-large"), await Ask("Write a poem about the sea"));
    }

    [Fact]
    public async Task AShadowedRouteMirrorsSampledRequestsToItsCandidatesAndJudgesThemOffThePath()
    {
        var results = Path.Combine(_directory, "shadow.jsonl");
        var key = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("sk-team"u8));
        await using var test = await TestGateway.StartAsync($$"""
            { "providers": { "sim": { "kind": "openai-compatible", "baseUrl": "{SIM}" } }, "models": { "*": { "provider": "sim" } },
              "clientKeys": [ { "name": "team", "sha256": "{{key}}", "workspace": "team" } ],
              "budgets": [ { "name": "team", "workspace": "team", "usd": 1000 } ],
              "routes": [ { "name": "main", "match": { "model": "sim-large" }, "targets": [ { "provider": "sim", "model": "sim-large" } ],
                            "shadow": { "models": [ "sim-nano", "sim-pro" ], "share": 1, "maxUsdPerDay": 1, "results": "{{results}}" } } ] }
            """);
        var items = WorkloadGenerator.Generate(3, seed: 5).Where(i => i.Task is "summarize" or "math").ToList();
        foreach (var item in items)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
            {
                Content = new StringContent($$"""{"model":"sim-large","messages":{{item.Messages}}}""", System.Text.Encoding.UTF8, "application/json"),
            };
            request.Headers.Authorization = new("Bearer", "sk-team");
            request.Headers.Add("x-octomesh-task", item.Task);
            Assert.Equal(System.Net.HttpStatusCode.OK, (await test.Client.SendAsync(request)).StatusCode);
        }
        // Mirrored off the response path: wait for the worker.
        List<EvalResult> mirrored = [];
        for (var i = 0; i < 500 && mirrored.Count < 2 * items.Count; i++)
        {
            await Task.Delay(20);
            mirrored = EvalResult.ReadAll(results);
        }
        Assert.Equal(2 * items.Count, mirrored.Count);
        Assert.All(mirrored, r => Assert.Null(r.Error));
        Assert.All(mirrored, r => Assert.True(r.CostMicros > 0));
        Assert.Equal(["math", "summarize"], mirrored.Select(r => r.Task).Distinct().Order());
        // sim-pro is as good as sim-large on these; sim-nano is not on all of them.
        Assert.True(mirrored.Where(r => r.Model == "sim-pro").Average(r => r.Score) > mirrored.Where(r => r.Model == "sim-nano").Average(r => r.Score));

        // The team paid for its own requests only: the mirrors and their judging carry no workspace.
        Dictionary<string, int> byWorkspace = [];
        for (var i = 0; i < 500 && byWorkspace.Values.Sum() < items.Count * 7; i++)
        {
            await Task.Delay(20);
            using var reader = OctoMesh.Edge.Metering.TraceReader.Open(test.TraceDirectory);
            byWorkspace = reader.Read().Select(r => r.Record).GroupBy(r => reader.Names.NameOf(r.Workspace)).ToDictionary(g => g.Key, g => g.Count());
        }
        // Each item: the client's request, then per candidate its answer and two judge calls.
        Assert.Equal((items.Count, items.Count * 6), (byWorkspace["team"], byWorkspace[""]));
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
