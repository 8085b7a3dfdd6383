using System.Globalization;
using OctoMesh.Edge.Wire;
using OctoMesh.Routing;
using OctoMesh.Routing.Configuration;
using OctoMesh.Routing.Table;

namespace OctoMesh.Edge.Cli;

/// <summary>
/// <c>octomesh route --explain</c>: which route and targets a request would get, and why each route
/// before it did not match. Uses the same inspector and tables as the gateway, without any network.
/// </summary>
internal static class RouteExplainer
{
    /// <summary>Writes the explanation; returns 0 when something serves the request, 1 when nothing does, 2 for a malformed request.</summary>
    public static int Explain(TextWriter output, GatewayConfig config, byte[] body, string? task, string? workspace, IReadOnlyDictionary<string, string> headers)
    {
        var error = RequestInspector.Inspect(body, ApiOperation.ChatCompletions, out var inspected);
        if (error != InspectError.None)
        {
            output.WriteLine($"The request is not one the gateway accepts: {RequestInspector.Describe(error, inspected)}");
            return 2;
        }
        var model = RequestInspector.ModelName(body, inspected);
        var request = new RouteRequest(model)
        {
            Workspace = workspace,
            Task = task ?? RequestInspector.Task(body, inspected)
                ?? new TaskClassifier(config.Tasks, config.TaskModel is { } taskModel ? Optimizer.CentroidClassifier.Load(taskModel) : null)
                    .Classify(RequestInspector.Evidence(body, inspected.HasTools)),
            Headers = new Headers(headers),
            HasTools = inspected.HasTools,
            HasImages = RequestInspector.HasImages(body),
            Stream = inspected.Stream,
            PromptTokens = body.Length / 4,
        };
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"request: model '{model}', task {Quoted(request.Task)}, workspace {Quoted(workspace)}, tools {YesNo(request.HasTools)}, images {YesNo(request.HasImages)}, stream {YesNo(request.Stream)}, about {request.PromptTokens} prompt tokens"));

        var table = RoutingTable.Compile(config.Routes);
        foreach (var route in table.CandidatesFor(model))
        {
            if (route.Mismatch(request) is { } reason)
            {
                output.WriteLine($"  skipped route '{route.Name}': {reason}");
                continue;
            }
            Span<int> order = stackalloc int[RoutingTable.MaxTargets];
            table.TryRoute(request, order, out var decision);
            output.WriteLine($"route '{route.Name}' ({StrategyName(route.Definition.Strategy)}); targets in the order tried:");
            for (var i = 0; i < decision.TargetCount; i++)
            {
                var target = route.Definition.Targets[order[i]];
                output.WriteLine($"  {i + 1}. provider '{target.Provider}', model '{target.Model}'");
            }
            return 0;
        }

        var aliases = ModelAliasTable.Compile(config);
        if (aliases.TryResolve(model, out var alias))
        {
            output.WriteLine($"no route matches; the model alias sends it to provider '{aliases.Providers[alias.ProviderIndex]}', model '{alias.UpstreamModel ?? model}'");
            return 0;
        }
        output.WriteLine($"nothing serves model '{model}': clients get 404 model_not_found");
        return 1;
    }

    private static string Quoted(string? value) => value is null ? "none" : $"'{value}'";

    private static string YesNo(bool value) => value ? "yes" : "no";

    private static string StrategyName(RouteStrategy strategy) => strategy switch
    {
        RouteStrategy.Weighted => "weighted: the first is drawn by weight",
        RouteStrategy.LeastLatency => "least-latency: this process has no latency history, so in written order",
        RouteStrategy.CheapestAboveQuality => "cheapest-above-quality",
        _ => "priority",
    };

    private sealed class Headers(IReadOnlyDictionary<string, string> values) : IRouteHeaders
    {
        public string? Get(string name) => values.FirstOrDefault(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)).Value;
    }
}
