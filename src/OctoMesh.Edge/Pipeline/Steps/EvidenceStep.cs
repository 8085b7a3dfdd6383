using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using OctoMesh.Edge.Cache;
using OctoMesh.Edge.Cache.Semantic;
using OctoMesh.Edge.Optimizer;
using OctoMesh.Edge.Privacy;
using OctoMesh.Edge.Telemetry;
using OctoMesh.Edge.Tenancy;
using OctoMesh.Edge.Wire;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Pipeline.Steps;

/// <summary>
/// Exchanges kept as evidence, as one bracket. Before: a <c>full</c> workspace's exchanges are kept for evaluation, and
/// a sampled share of a shadowed route's is mirrored to its candidates, so the answer is copied as it goes (by the
/// cache's capture when there is one). After: a whole, successful answer goes to the content vault (if the workspace
/// still chooses <c>full</c> now the answer is complete) and to the shadow evaluator.
/// </summary>
internal sealed class EvidenceStep(ContentVault vault, ShadowEvaluator shadow, TenancyStore tenancy, GatewayRuntimeHolder runtimes) : IRequestBracket
{
    public ValueTask<StepResult> RunAsync(GatewayRequest request)
    {
        var route = request.Route;
        var operation = request.Operation;
        request.Mirror = route?.Definition.Shadow is { } policy && !request.Exchange.Shadow && operation == ApiOperation.ChatCompletions
            && shadow.Sample(route.Name, policy) ? policy : null;
        if ((request.Content == ContentPolicy.Full || request.Mirror is not null) && request.CacheSession is null
            && operation is ApiOperation.ChatCompletions or ApiOperation.Messages)
        {
            request.Evidence = new CapturingBodyFeature(request.Http.Features.GetRequiredFeature<IHttpResponseBodyFeature>(), CacheStep.MaxCachedAnswerBytes);
            request.Http.Features.Set<IHttpResponseBodyFeature>(request.Evidence);
        }
        return ValueTask.FromResult(StepResult.Next);
    }

    public ValueTask CloseAsync(GatewayRequest request)
    {
        var evidence = request.Evidence;
        if (evidence is not null)
        {
            request.Http.Features.Set(evidence.Inner);
        }
        var exchange = request.Exchange;
        var full = request.Content == ContentPolicy.Full;
        if ((!full && request.Mirror is null) || request.Response.StatusCode != StatusCodes.Status200OK || exchange.Outcome != ProxyOutcome.Completed
            || (request.CacheSession?.Capture ?? evidence)?.Captured is not { } captured)
        {
            return ValueTask.CompletedTask;
        }
        var answer = WholeAnswer(request, captured);
        var workspace = request.Workspace;
        // Kept only if the workspace still chooses it now the answer is complete (a policy changed meanwhile wins).
        if (full && tenancy.View(runtimes.Current.Config).ContentOf(workspace!) == ContentPolicy.Full)
        {
            var api = request.Operation == ApiOperation.Messages ? "messages" : "chat_completions";
            vault.Keep(workspace!, request.ContentGeneration, new KeptExchange(DateTimeOffset.UtcNow, exchange.RequestId, api, request.Route?.Name,
                exchange.Provider, exchange.Model, System.Text.Encoding.UTF8.GetString(request.Body.Span), System.Text.Encoding.UTF8.GetString(answer), exchange.Task));
        }
        if (request.Mirror is { } mirror && ShadowEvaluator.AnswerText(answer) is { } text)
        {
            var route = request.Route!;
            // The judge by default is the model the client asked for, by the same name (the route serves it).
            var question = LastUserTurn.TryFind(request.Body.Span, out var turn, out _) ? turn : "";
            shadow.Offer(route.Name, mirror, mirror.Judge ?? request.ModelName, exchange.RequestId, exchange.Task ?? route.Name,
                System.Text.Encoding.UTF8.GetString(request.Body.Span), question, text, request.Runtime.Prices);
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// The answer as one body: a stream as the JSON it adds up to (so a secret split across deltas is whole for redaction,
    /// and a judge reads plain text), else as sent.
    /// </summary>
    private static byte[] WholeAnswer(GatewayRequest request, byte[] answer)
    {
        var contentType = request.Response.ContentType ?? AnswerShapes.Json;
        var exchange = request.Exchange;
        return contentType.StartsWith(AnswerShapes.EventStream, StringComparison.OrdinalIgnoreCase)
            && AnswerShapes.TryReshape(new CachedAnswer(answer, contentType, true, exchange.Provider!, exchange.Model!, request.Workspace ?? ""),
                request.Operation, stream: false, includeUsage: false, out var whole, out _)
            ? whole : answer;
    }
}
