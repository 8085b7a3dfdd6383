using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using OctoMesh.Edge.Hosting;
using OctoMesh.Edge.Optimizer;
using OctoMesh.Routing.Configuration;
using OctoMesh.Routing.Pricing;

namespace OctoMesh.Edge.Cli;

/// <summary><c>octomesh workload</c>, <c>octomesh eval</c> and <c>octomesh optimize</c>: measure candidate models on a workload, then route each task class to the cheapest that does it well.</summary>
internal static class OptimizerCommands
{
    public static Command Workload()
    {
        var perTask = new Option<int>("--per-task") { Description = "Items per task class.", DefaultValueFactory = _ => 100 };
        var seed = new Option<int>("--seed") { Description = "The same seed writes the same items; another, a held-out set.", DefaultValueFactory = _ => 1 };
        var fromExport = new Option<FileInfo?>("--from-export") { Description = "Sample live traffic instead: a workspace's access export (GET /admin/workspaces/W/export) of a full workspace." };
        var defaultTask = new Option<string>("--task") { Description = "With --from-export, the task of exchanges that had none.", DefaultValueFactory = _ => "general" };
        var sample = new Option<int?>("--sample") { Description = "With --from-export, at most this many exchanges, drawn at random (--seed)." };
        var output = new Option<FileInfo>("--out") { Description = "The workload file (JSON Lines).", Required = true };
        var command = new Command("workload",
            "Write a labelled workload: the simulator's six task classes (classify, extract, reverse, json, math; summarize, judged), or live traffic kept by a full workspace.")
        {
            perTask, seed, fromExport, defaultTask, sample, output,
        };
        command.SetAction(parse =>
        {
            var items = parse.GetValue(fromExport) is { } export
                ? LiveTraffic.Items(export.FullName, parse.GetValue(defaultTask)!, parse.GetValue(sample), parse.GetValue(seed))
                : WorkloadGenerator.Generate(parse.GetValue(perTask), parse.GetValue(seed));
            using var file = File.Create(parse.GetValue(output)!.FullName);
            var count = 0;
            foreach (var item in items)
            {
                using (var json = new Utf8JsonWriter(file, Wire.OpenAIError.WriterOptions))
                {
                    item.Write(json);
                }
                file.WriteByte((byte)'\n');
                count++;
            }
            Console.WriteLine($"wrote {count} items to {parse.GetValue(output)!.FullName}");
            return 0;
        });
        return command;
    }

    public static Command Eval()
    {
        var config = new Option<FileInfo>("--config") { Description = "The gateway configuration whose providers serve the candidates.", Required = true };
        var workload = new Option<FileInfo>("--workload") { Description = "The workload (JSON Lines).", Required = true };
        var models = new Option<string>("--models") { Description = "Candidate models, comma-separated, as clients name them.", Required = true };
        var results = new Option<FileInfo>("--results") { Description = "The result store (JSON Lines): appended to, and read to resume.", Required = true };
        var concurrency = new Option<int>("--concurrency") { Description = "Requests at once.", DefaultValueFactory = _ => 8 };
        var maxUsd = new Option<decimal?>("--max-usd") { Description = "Stop starting requests once this much is spent." };
        var report = new Option<DirectoryInfo?>("--report") { Description = "Write report.md and frontier.svg here." };
        var url = new Option<string?>("--url") { Description = "A running gateway to send through (default: one started in this process from --config)." };
        var referenceModel = new Option<string?>("--reference-model") { Description = "Open (judged) items are compared with this model's answers (default: the last candidate)." };
        var judgeModel = new Option<string?>("--judge-model") { Description = "The model that judges open items (default: the last candidate)." };
        var command = new Command("eval", "Run a workload against candidate models through the gateway, score each answer, and record quality, cost and latency.")
        {
            config, workload, models, results, concurrency, maxUsd, report, url, referenceModel, judgeModel,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (Load(parse.GetValue(config)!) is not { } gatewayConfig)
            {
                return OctoMeshCommands.ConfigInvalid;
            }
            var items = WorkloadItem.ReadAll(parse.GetValue(workload)!.FullName);
            var candidates = parse.GetValue(models)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            // Without --url, a gateway of its own: the configuration's providers and aliases, without its routes and task
            // model (each candidate is asked by name, not rerouted), and no trace log (evaluation traffic is not billing).
            await using var server = parse.GetValue(url) is null
                ? await GatewayServer.StartAsync(gatewayConfig with { Routes = [], TaskModel = null, Trace = gatewayConfig.Trace with { Enabled = false } },
                    ["http://127.0.0.1:0"], LogLevel.Warning, embedded: true, cancellationToken: cancellationToken)
                : null;
            using var http = new HttpClient { BaseAddress = new Uri((parse.GetValue(url) ?? server!.Addresses[0].ToString()).TrimEnd('/') + "/"), Timeout = TimeSpan.FromMinutes(5) };
            var routing = new CurrentRouting(gatewayConfig);
            var runner = new EvalRunner(http, new PriceTable(gatewayConfig.Prices), Environment.GetEnvironmentVariable("OCTOMESH_KEY"))
            {
                Concurrency = Math.Max(1, parse.GetValue(concurrency)),
                MaxSpendMicros = parse.GetValue(maxUsd) is { } usd ? (long)(usd * ModelPrice.MicrosPerUsd) : null,
                Progress = Console.Error,
                ReferenceModel = parse.GetValue(referenceModel) ?? candidates[^1],
                ExpectedUpstream = model => routing.Resolve(model)?.Upstream,
                JudgeModel = parse.GetValue(judgeModel) ?? candidates[^1],
            };
            var store = parse.GetValue(results)!.FullName;
            var (ran, capped) = await runner.RunAsync(items, candidates, store, cancellationToken);
            var all = EvalResult.ReadAll(store);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{ran.Count} answers this run ({ran.Count(r => r.Error is not null)} errors), ${ran.Sum(r => r.CostMicros) / 1e6:0.0000} spent; {all.Count} in {store}{(capped ? "; stopped at the spend cap" : "")}"));
            if (parse.GetValue(report) is { } directory)
            {
                WriteReport(directory, ModelScore.Of(all), null, 0.9);
            }
            return capped ? 3 : 0;
        });
        return command;
    }

    public static Command TrainClassifier()
    {
        var workload = new Option<FileInfo>("--workload") { Description = "A labelled workload (JSON Lines): each item's last user turn and task.", Required = true };
        var output = new Option<FileInfo>("--out") { Description = "The centroid file (name it in taskModel.centroids).", Required = true };
        var embedder = new Option<string>("--embedder") { Description = "hash or vectors.", DefaultValueFactory = _ => "hash" };
        var vectors = new Option<FileInfo?>("--vectors") { Description = "The word-vector file of the vectors embedder (deploy/vectors/build.sh)." };
        var minSimilarity = new Option<float>("--min-similarity") { Description = "Below this, no task is detected (measured on --heldout).", DefaultValueFactory = _ => 0.5f };
        var heldOut = new Option<FileInfo?>("--heldout") { Description = "Another labelled workload to measure the classifier on." };
        var command = new Command("train-classifier", "Learn one centroid per task class from a labelled workload: the task classifier's second stage.")
        {
            workload, output, embedder, vectors, minSimilarity, heldOut,
        };
        command.SetAction(parse =>
        {
            Cache.Semantic.ILocalEmbedder local = parse.GetValue(embedder) == "vectors"
                ? Cache.Semantic.WordVectorEmbedder.Load((parse.GetValue(vectors) ?? throw new InvalidOperationException("--embedder vectors needs --vectors")).FullName)
                : new Cache.Semantic.HashEmbedder();
            var items = WorkloadItem.ReadAll(parse.GetValue(workload)!.FullName);
            var classifier = CentroidClassifier.Train(items.Select(i => (i.Task, i.LastUserText)), local, parse.GetValue(minSimilarity));
            classifier.Save(parse.GetValue(output)!.FullName, items.Count);
            Console.WriteLine($"{classifier.Tasks.Count} centroids from {items.Count} items ({local.Name}) in {parse.GetValue(output)!.FullName}");
            if (parse.GetValue(heldOut) is { } file)
            {
                var test = WorkloadItem.ReadAll(file.FullName);
                var detected = test.Select(i => (i.Task, Found: classifier.Classify(new Routing.Table.TaskEvidence("", i.LastUserText, false)))).ToList();
                foreach (var group in detected.GroupBy(d => d.Task).OrderBy(g => g.Key, StringComparer.Ordinal))
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  {group.Key,-10} {group.Count(d => d.Found == d.Task) / (double)group.Count():P1} right, {group.Count(d => d.Found is null) / (double)group.Count():P1} none"));
                }
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"held out: {detected.Count(d => d.Found == d.Task) / (double)detected.Count:P2} of {detected.Count} items classified right"));
            }
            return 0;
        });
        return command;
    }

    public static Command Optimize()
    {
        var config = new Option<FileInfo>("--config") { Description = "The configuration to optimize (its routes are compared, and rewritten with --apply).", Required = true };
        var results = new Option<FileInfo>("--results") { Description = "The result store of octomesh eval.", Required = true };
        var entry = new Option<string>("--entry") { Description = "The model name the application sends (the routes are made for it).", Required = true };
        var floor = new Option<double>("--floor") { Description = "The least quality a task class may get (lower bound, 95%).", DefaultValueFactory = _ => 0.9 };
        var minSamples = new Option<int>("--min-samples") { Description = "Fewer answered items than this for a candidate: no evidence.", DefaultValueFactory = _ => 30 };
        var apply = new Option<bool>("--apply") { Description = "Write the routes into --config (the running gateway reloads it)." };
        var heldOut = new Option<FileInfo?>("--heldout") { Description = "Results of the same candidates on a held-out workload: measure the choices there." };
        var report = new Option<DirectoryInfo?>("--report") { Description = "Write report.md and frontier.svg here." };
        var command = new Command("optimize", "Route each task class to the cheapest candidate whose quality clears the floor; print the savings and the diff.")
        {
            config, results, entry, floor, minSamples, apply, heldOut, report,
        };
        command.SetAction(parse =>
        {
            var path = parse.GetValue(config)!.FullName;
            if (Load(parse.GetValue(config)!) is not { } gatewayConfig)
            {
                return OctoMeshCommands.ConfigInvalid;
            }
            var train = EvalResult.ReadAll(parse.GetValue(results)!.FullName);
            var choices = RouteOptimizer.Choose(train, gatewayConfig, parse.GetValue(entry)!, parse.GetValue(floor), parse.GetValue(minSamples));
            foreach (var choice in choices)
            {
                var chosen = choice.Chosen.Count == 0 ? "(kept as is)" : string.Join(" → ", choice.Chosen.Select(c => c.Model));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{choice.Task,-10} {choice.Share:P0} of items: {choice.CurrentModel ?? "?"} → {chosen}  ({choice.Reason})"));
            }
            if (RouteOptimizer.CostPerItem(choices) is var (current, optimized))
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"cost per item: {current:0.0} → {optimized:0.0} micro-dollars: projected savings {(current == 0 ? 0 : 1 - optimized / current):P1}"));
            }
            else
            {
                Console.WriteLine("no savings to project: the results hold no answers of the model each class goes to today (evaluate it too)");
            }

            // The file as the loader reads it (comments and trailing commas allowed; --apply writes it back without comments).
            var before = JsonNode.Parse(File.ReadAllText(path), documentOptions: new JsonDocumentOptions
            {
                CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true,
            })!;
            var after = OptimizeReport.Apply(before.DeepClone(), OptimizeReport.Routes(choices, gatewayConfig, parse.GetValue(entry)!, before));
            var text = OptimizeReport.ToText(after);
            var check = ConfigLoader.Load(System.Text.Encoding.UTF8.GetBytes(text), Environment.GetEnvironmentVariable);
            if (!check.Succeeded)
            {
                OctoMeshCommands.PrintErrors("the optimized configuration (nothing written)", check);
                return OctoMeshCommands.ConfigInvalid;
            }
            PrintDiff(OptimizeReport.ToText(before), text);
            if (parse.GetValue(heldOut) is { } heldOutFile)
            {
                HeldOut.Print(Console.Out, choices, EvalResult.ReadAll(heldOutFile.FullName), parse.GetValue(floor));
            }
            if (parse.GetValue(report) is { } directory)
            {
                var scores = ModelScore.Of(train);
                WriteReport(directory, scores, choices, parse.GetValue(floor));
            }
            if (parse.GetValue(apply))
            {
                Tenancy.AtomicFile.WriteText(path, text);
                Console.WriteLine($"wrote the routes into {path}");
            }
            return 0;
        });
        return command;
    }

    private static void WriteReport(DirectoryInfo directory, List<ModelScore> scores, List<TaskChoice>? choices, double floor)
    {
        directory.Create();
        File.WriteAllText(Path.Combine(directory.FullName, "report.md"),
            OptimizeReport.Markdown(scores, choices, floor) + "![cost/quality frontier](frontier.svg)\n");
        (double, double)? point = choices is null ? null
            : RouteOptimizer.CostPerItem(choices) is var (_, cost)
                ? (cost, choices.Sum(c => c.Share * (c.Chosen.Count > 0 ? c.Chosen[0].Quality : c.Current?.Quality ?? 0)))
                : null;
        File.WriteAllText(Path.Combine(directory.FullName, "frontier.svg"), OptimizeReport.FrontierSvg(scores, point));
        Console.WriteLine($"wrote {Path.Combine(directory.FullName, "report.md")} and frontier.svg");
    }

    /// <summary>The two configurations' line diff (longest common subsequence), changed lines with one line of context.</summary>
    private static void PrintDiff(string before, string after)
    {
        var diff = OptimizeReport.Diff(before.Split('\n'), after.Split('\n'));
        if (diff.All(d => d.Kind == ' '))
        {
            Console.WriteLine("the configuration already has these routes");
            return;
        }
        for (var i = 0; i < diff.Count; i++)
        {
            var near = diff.Skip(Math.Max(0, i - 1)).Take(3).Any(d => d.Kind != ' ');
            if (diff[i].Kind != ' ' || near)
            {
                Console.WriteLine($"{diff[i].Kind} {diff[i].Line.TrimEnd()}");
            }
        }
    }

    private static GatewayConfig? Load(FileInfo file)
    {
        var loaded = ConfigLoader.LoadFile(file.FullName, Environment.GetEnvironmentVariable);
        if (loaded.Succeeded)
        {
            return loaded.Config;
        }
        OctoMeshCommands.PrintErrors(file.FullName, loaded);
        return null;
    }
}
