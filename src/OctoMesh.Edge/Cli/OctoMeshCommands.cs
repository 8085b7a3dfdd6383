using System.CommandLine;
using System.Reflection;
using Microsoft.Extensions.Logging;
using OctoMesh.Edge.Hosting;
using OctoMesh.Edge.Simulator;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Cli;

/// <summary>The <c>octomesh</c> command line: serve, check-config, route, export, semantic-eval, sim, version.</summary>
internal static class OctoMeshCommands
{
    /// <summary>Exit code for a configuration that does not validate.</summary>
    public const int ConfigInvalid = 2;

    public static RootCommand Create()
    {
        var root = new RootCommand("OctoMesh Edge: an LLM gateway in one native binary.");
        root.Add(Serve());
        root.Add(CheckConfig());
        root.Add(Route());
        root.Add(ExportCommand.Create());
        root.Add(SemanticEval());
        root.Add(OptimizerCommands.Workload());
        root.Add(OptimizerCommands.Eval());
        root.Add(OptimizerCommands.Optimize());
        root.Add(OptimizerCommands.TrainClassifier());
        root.Add(TenancyCommands.Key());
        root.Add(TenancyCommands.Forget());
        root.Add(Sim());
        root.Add(Health());
        root.Add(Version());
        return root;
    }

    private static Option<string?> UrlsOption(string fallback) => new("--urls")
    {
        Description = $"Listen addresses, separated by ';' (default: {fallback}).",
    };

    private static Option<LogLevel> LogLevelOption() => new("--log-level")
    {
        Description = "Minimum log level: Trace, Debug, Information, Warning, Error.",
        DefaultValueFactory = _ => LogLevel.Information,
    };

    private static Command Serve()
    {
        var config = new Option<FileInfo?>("--config") { Description = "JSON configuration file (docs/configuration.md). Without it, serves the embedded default." };
        var urls = UrlsOption("the config's urls, else http://127.0.0.1:8080");
        var logLevel = LogLevelOption();
        var command = new Command("serve", "Run the gateway.") { config, urls, logLevel };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var file = parse.GetValue(config);
            GatewayConfig gatewayConfig;
            if (file is null)
            {
                gatewayConfig = EmbeddedDefaults.Create(Environment.GetEnvironmentVariable);
            }
            else
            {
                var loaded = ConfigLoader.LoadFile(file.FullName, Environment.GetEnvironmentVariable);
                if (!loaded.Succeeded)
                {
                    PrintErrors(file.FullName, loaded);
                    return ConfigInvalid;
                }
                gatewayConfig = loaded.Config!;
            }

            var listen = parse.GetValue(urls)?.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            GatewayServer server;
            try
            {
                server = await GatewayServer.StartAsync(gatewayConfig, listen, parse.GetValue(logLevel), configPath: file?.FullName,
                    cancellationToken: cancellationToken);
            }
            catch (ConfigFileException e)
            {
                Console.Error.WriteLine($"{file?.FullName}: 1 error:");
                Console.Error.WriteLine($"  {new ConfigError(e.ConfigPath, e.Message, "fix or restore the file")}");
                return ConfigInvalid;
            }
            await using var running = server;
            Banner.Print(Console.Out, server, gatewayConfig, isEmbeddedDefault: file is null);
            await server.WaitForShutdownAsync(CancellationToken.None);
            return 0;
        });
        return command;
    }

    private static Command CheckConfig()
    {
        var file = new Argument<FileInfo>("file") { Description = "The configuration file to validate." };
        var command = new Command("check-config", "Validate a configuration file; print every error with its path and fix (exit 2 on any).") { file };
        command.SetAction(parse =>
        {
            var path = parse.GetValue(file)!.FullName;
            var loaded = ConfigLoader.LoadFile(path, Environment.GetEnvironmentVariable);
            if (!loaded.Succeeded)
            {
                PrintErrors(path, loaded);
                return ConfigInvalid;
            }
            var config = loaded.Config!;
            Console.Out.WriteLine($"{path}: valid ({config.Providers.Count} providers, {config.Models.Length} models, {config.ClientKeys.Length} client keys).");
            return 0;
        });
        return command;
    }

    private static Command Route()
    {
        var explain = new Option<FileInfo>("--explain") { Description = "A chat-completions request body (JSON file) to route.", Required = true };
        var config = new Option<FileInfo>("--config") { Description = "The configuration file.", Required = true };
        var task = new Option<string?>("--task") { Description = "The task the request declares (as x-octomesh-task would)." };
        var workspace = new Option<string?>("--workspace") { Description = "The workspace of the client key." };
        var headers = new Option<string[]>("--header") { Description = "A request header, 'name: value'; may repeat.", AllowMultipleArgumentsPerToken = false };
        var command = new Command("route", "Show which route and targets a request gets, and why.") { explain, config, task, workspace, headers };
        command.SetAction(parse =>
        {
            var path = parse.GetValue(config)!.FullName;
            var loaded = ConfigLoader.LoadFile(path, Environment.GetEnvironmentVariable);
            if (!loaded.Succeeded)
            {
                PrintErrors(path, loaded);
                return ConfigInvalid;
            }
            var given = (parse.GetValue(headers) ?? [])
                .Select(h => h.Split(':', 2))
                .Where(p => p.Length == 2)
                .ToDictionary(p => p[0].Trim(), p => p[1].Trim(), StringComparer.OrdinalIgnoreCase);
            return RouteExplainer.Explain(Console.Out, loaded.Config!, File.ReadAllBytes(parse.GetValue(explain)!.FullName),
                parse.GetValue(task), parse.GetValue(workspace), given);
        });
        return command;
    }

    private static Command SemanticEval()
    {
        var pairs = new Argument<FileInfo>("pairs") { Description = "Labelled pairs: 'hit|miss<TAB>kind<TAB>first prompt<TAB>second prompt' per line." };
        var embedder = new Option<string>("--embedder") { Description = "hash or vectors.", DefaultValueFactory = _ => "hash" };
        var vectors = new Option<FileInfo?>("--vectors") { Description = "The word-vector file of the vectors embedder (deploy/vectors/build.sh)." };
        var config = new Option<FileInfo?>("--config") { Description = "Measure the embedder and threshold of this configuration's cache.semantic instead (any embedder, provider too)." };
        var mistakes = new Option<bool>("--mistakes") { Description = "Also list the pairs the default threshold gets wrong, with their similarity and guard signatures." };
        var noGuards = new Option<bool>("--no-guards") { Description = "Measure the embedding alone, without the guards (to see what they do)." };
        var command = new Command("semantic-eval", "Measure the semantic cache's precision, recall and false-hit rate per threshold on labelled pairs.")
        {
            pairs, embedder, vectors, config, mistakes, noGuards,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            Cache.Semantic.SemanticCache semantic;
            if (parse.GetValue(config) is { } file)
            {
                var loaded = ConfigLoader.LoadFile(file.FullName, Environment.GetEnvironmentVariable);
                if (!loaded.Succeeded)
                {
                    PrintErrors(file.FullName, loaded);
                    return ConfigInvalid;
                }
                if (loaded.Config!.Cache.Semantic is not { } section)
                {
                    Console.Error.WriteLine($"{file.FullName} has no cache.semantic section");
                    return 1;
                }
                semantic = Cache.Semantic.Embedders.Create(section, loaded.Config.Providers);
            }
            else
            {
                var name = parse.GetValue(embedder)!;
                if (name is not ("hash" or "vectors") || name == "vectors" && parse.GetValue(vectors) is null)
                {
                    Console.Error.WriteLine("--embedder is hash, or vectors with --vectors FILE (or give --config)");
                    return 1;
                }
                semantic = Cache.Semantic.Embedders.Create(new SemanticCacheConfig(name, Vectors: parse.GetValue(vectors)?.FullName));
            }
            var labelled = Cache.Semantic.PrecisionReport.Load(parse.GetValue(pairs)!.FullName);
            var results = await Cache.Semantic.PrecisionReport.EvaluateAsync(semantic.Embedder, labelled, Cache.Semantic.PrecisionReport.Thresholds(),
                guards: !parse.GetValue(noGuards));
            Console.Out.WriteLine($"Embedder {semantic.Embedder.Name}{(parse.GetValue(noGuards) ? ", without the guards" : "")}; threshold {semantic.Threshold:0.00} in bold.");
            Console.Out.WriteLine();
            Cache.Semantic.PrecisionReport.WriteTable(Console.Out, results, semantic.Threshold);
            if (parse.GetValue(mistakes))
            {
                Console.Out.WriteLine();
                await Cache.Semantic.PrecisionReport.WriteMistakesAsync(Console.Out, semantic.Embedder, labelled, semantic.Threshold);
            }
            return 0;
        });
        return command;
    }

    private static Command Sim()
    {
        var urls = UrlsOption("http://127.0.0.1:8090");
        var logLevel = LogLevelOption();
        var h2c = new Option<bool>("--h2c") { Description = "Speak HTTP/2 only, with prior knowledge over plain http." };
        var certificate = new Option<FileInfo>("--tls-cert") { Description = "PEM certificate for https:// URLs (with --tls-key)." };
        var key = new Option<FileInfo>("--tls-key") { Description = "PEM private key of --tls-cert." };
        var command = new Command("sim", "Run the provider simulator (OpenAI wire format) on its own.") { urls, logLevel, h2c, certificate, key };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var tls = (parse.GetValue(certificate), parse.GetValue(key)) switch
            {
                ({ } cert, { } pem) => new SimulatorTls(cert.FullName, pem.FullName),
                (null, null) => null,
                _ => throw new ArgumentException("--tls-cert and --tls-key go together."),
            };
            await using var simulator = await SimulatorServer.StartAsync(parse.GetValue(urls) ?? "http://127.0.0.1:8090", embedded: false,
                parse.GetValue(logLevel), parse.GetValue(h2c), tls, cancellationToken);
            Console.Out.WriteLine($"OctoMesh simulator listening on {simulator.Address} (OpenAI API root: {simulator.OpenAIBaseUrl})");
            await simulator.WaitForShutdownAsync(CancellationToken.None);
            return 0;
        });
        return command;
    }

    /// <summary>
    /// <c>octomesh health</c>: the container's health check (a minimal image has no curl): exit 0 when the gateway at
    /// <c>--url</c> answers <c>/readyz</c> with 200, 1 otherwise (stopping, trace log failing, or no answer).
    /// </summary>
    private static Command Health()
    {
        var url = new Option<string>("--url") { Description = "The gateway.", DefaultValueFactory = _ => "http://127.0.0.1:8080" };
        var command = new Command("health", "Exit 0 when the gateway is ready (GET /readyz answers 200); for container health checks.") { url };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(3) };
            try
            {
                using var response = await http.GetAsync(new Uri(new Uri(parse.GetValue(url)!.TrimEnd('/') + "/"), "readyz"), cancellationToken);
                Console.WriteLine($"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken)}");
                return response.IsSuccessStatusCode ? 0 : 1;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or UriFormatException)
            {
                Console.Error.WriteLine($"no answer from {parse.GetValue(url)}: {e.Message}");
                return 1;
            }
        });
        return command;
    }

    private static Command Version()
    {
        var command = new Command("version", "Print the version.");
        command.SetAction(_ =>
        {
            Console.Out.WriteLine($"octomesh {VersionText}");
            return 0;
        });
        return command;
    }

    public static string VersionText => Telemetry.GatewayTracing.Version;

    internal static void PrintErrors(string path, ConfigLoadResult loaded)
    {
        Console.Error.WriteLine($"{path}: {loaded.Errors.Length} error{(loaded.Errors.Length == 1 ? "" : "s")}:");
        foreach (var error in loaded.Errors)
        {
            Console.Error.WriteLine($"  {error}");
        }
    }
}
