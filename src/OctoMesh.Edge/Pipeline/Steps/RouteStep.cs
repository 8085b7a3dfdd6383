using System.Collections.Immutable;
using Microsoft.AspNetCore.Http;
using OctoMesh.Edge.Wire;
using OctoMesh.Routing;
using OctoMesh.Routing.Configuration;
using OctoMesh.Routing.Table;

namespace OctoMesh.Edge.Pipeline.Steps;

/// <summary>
/// Where the request goes: the first matching route orders its targets by its strategy; without one, the model alias
/// is the one target; 404 when neither serves the model, 403 when the client's key may not use what it would reach.
/// The route and task go back in <c>x-octomesh-route</c> and <c>x-octomesh-task</c>.
/// </summary>
internal sealed class RouteStep : IRequestStep
{
    public async ValueTask<StepResult> RunAsync(GatewayRequest request)
    {
        var task = Route(request);
        if (request.Candidates == 0)
        {
            return await request.RefuseAsync(StatusCodes.Status404NotFound,
                $"The model '{request.ModelName}' does not exist on this gateway. GET /v1/models lists the models it serves.", "model", "model_not_found");
        }
        var route = request.Route;
        // Most keys are not limited: only a limited one pays for reading the model's name.
        if (request.Key is { Models.IsEmpty: false } or { Routes.IsEmpty: false } && !Allows(request.Key, request))
        {
            return await request.RefuseAsync(StatusCodes.Status403Forbidden,
                $"This API key may not use the model '{request.ModelName}'{(route is null ? "" : $" (route '{route.Name}')")}.", "model", "model_not_allowed");
        }
        request.Exchange.Route = route?.Name;
        request.Exchange.Task = task;
        if (route is not null)
        {
            request.Response.Headers["x-octomesh-route"] = route.Name;
        }
        if (task is not null)
        {
            request.Response.Headers["x-octomesh-task"] = task;
        }
        return StepResult.Next;
    }

    /// <summary>
    /// Finds the route and its targets' order, or, when no route matches, the model alias as the one target (no route);
    /// leaves <see cref="GatewayRequest.Candidates"/> 0 when nothing serves the model. Returns the request's task.
    /// </summary>
    private static string? Route(GatewayRequest request)
    {
        var runtime = request.Runtime;
        var body = request.Body;
        Span<char> name = stackalloc char[RequestInspector.MaxModelBytes];
        var model = name[..RequestInspector.CopyModel(body.Span, request.Inspected, name)];
        string? task = null;
        if (!runtime.Routes.Routes.IsEmpty)
        {
            var headers = request.Request.Headers;
            var routed = new RouteRequest(model)
            {
                Workspace = request.Workspace,
                Task = TaskOf(runtime, headers, body, request.Inspected),
                Headers = runtime.Routes.MatchesHeaders ? new RouteHeaders(headers) : null,
                HasTools = request.Inspected.HasTools,
                HasImages = runtime.Routes.MatchesImages && RequestInspector.HasImages(body.Span),
                Stream = request.Inspected.Stream,
                // A rough estimate until tokenizers arrive: about four bytes of JSON per token.
                PromptTokens = body.Length / 4,
            };
            task = routed.Task;
            if (runtime.Routes.TryRoute(routed, request.Order, out var decision))
            {
                request.Route = decision.Route;
                request.Candidates = decision.TargetCount;
                return task;
            }
        }
        if (runtime.Models.TryResolve(model, out var target))
        {
            request.AliasTarget = target;
            request.Order[0] = 0;
            request.Candidates = 1;
        }
        return task;
    }

    /// <summary>
    /// The request's task: declared by the client (the <c>x-octomesh-task</c> header, else
    /// <c>metadata.task</c> in the body), else detected by the classifier's rules, else none.
    /// </summary>
    private static string? TaskOf(GatewayRuntime runtime, IHeaderDictionary headers, BodyBuffer body, in InspectedRequest inspected)
    {
        if (headers["x-octomesh-task"] is { Count: 1 } declared)
        {
            return declared.ToString();
        }
        if (RequestInspector.Task(body.Span, inspected) is { } task)
        {
            return task;
        }
        return runtime.Classifier.IsEmpty ? null : runtime.Classifier.Classify(RequestInspector.Evidence(body.Span, inspected.HasTools));
    }

    /// <summary>
    /// Whether the key may send this request: its route must be one of the key's <c>routes</c> (when it has any); the
    /// model it asks for, and the upstream model of every target it could reach (fallbacks too), must be among its
    /// <c>models</c> (when it has any), unless the route is one the key names (then its targets are allowed as they are).
    /// So a route taken by task or header cannot lead a key to a model it may not use.
    /// </summary>
    private static bool Allows(ClientKeyConfig key, GatewayRequest request)
    {
        var route = request.Route;
        if (!key.Routes.IsEmpty && (route is null || !key.Routes.Contains(route.Name)))
        {
            return false;
        }
        if (key.Models.IsEmpty)
        {
            return true;
        }
        if (!Matches(key.Models, request.ModelName))
        {
            return false;
        }
        for (var i = 0; i < request.Candidates && key.Routes.IsEmpty; i++)
        {
            if (request.Target(i).UpstreamModel is { } upstream && !Matches(key.Models, upstream))
            {
                return false;
            }
        }
        return true;

        static bool Matches(ImmutableArray<string> allowed, ReadOnlySpan<char> name)
        {
            foreach (var pattern in allowed)
            {
                if (pattern.EndsWith('*') ? name.StartsWith(pattern.AsSpan(0, pattern.Length - 1), StringComparison.Ordinal) : name.SequenceEqual(pattern))
                {
                    return true;
                }
            }
            return false;
        }
    }

    /// <summary>Request headers as the routing table reads them.</summary>
    private sealed class RouteHeaders(IHeaderDictionary headers) : IRouteHeaders
    {
        public string? Get(string name) => headers.TryGetValue(name, out var value) ? value.ToString() : null;
    }
}
