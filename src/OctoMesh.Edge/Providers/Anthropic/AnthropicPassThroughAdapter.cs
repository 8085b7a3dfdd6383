using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using OctoMesh.Edge.Wire;
using OctoMesh.Routing;

namespace OctoMesh.Edge.Providers.Anthropic;

/// <summary>
/// An Anthropic client (<c>/v1/messages</c>, <c>/v1/messages/count_tokens</c>) in front of an Anthropic upstream: the fast path. The
/// body goes upstream with only the model spliced, the client's <c>anthropic-version</c> and
/// <c>anthropic-beta</c> headers pass, the provider key replaces the client's; the answer comes back
/// byte for byte while its usage is read.
/// </summary>
internal sealed class AnthropicPassThroughAdapter : IProviderAdapter
{
    public static AnthropicPassThroughAdapter Instance { get; } = new();

    public HttpRequestMessage? CreateRequest(UpstreamProvider provider, ApiOperation operation, BodyBuffer body, in InspectedRequest inspected,
        ModelTarget target, out ForwardContext context, out string? unsupported)
    {
        unsupported = null;
        context = new ForwardContext(operation, inspected.Stream, IncludeUsage: true, StripUsageChunk: false);
        var edits = new BodyEdit[2];
        var count = UpstreamBodyPlan.Build(inspected, target.UpstreamModelJson, askForUsage: false, edits, out _);
        var endpoint = operation == ApiOperation.CountTokens ? provider.CountTokensEndpoint : provider.ChatEndpoint;
        var request = provider.CreateRequest(endpoint, new SplicedContent(body.Memory, edits, count));
        if (provider.Config.ApiKey is { } key)
        {
            request.Headers.TryAddWithoutValidation("x-api-key", key);
        }
        return request;
    }

    public Task<(ProxyOutcome Outcome, TokenUsage? Usage)> SendResponseAsync(HttpResponseMessage upstream, HttpResponse client, ForwardContext context,
        CancellationToken clientAborted, CancellationToken deadline) =>
        // A token count is not a completion: it carries no usage to meter.
        ResponseCopier.RelayAsync(upstream, client, context, static _ => new UsageReadingHandler(),
            readUsage: context.Operation == ApiOperation.Messages, clientAborted, deadline);

    /// <summary>Passes every event on; reads usage from message_start and message_delta; message_stop completes, error fails.</summary>
    private sealed class UsageReadingHandler : SseStreamHandler
    {
        private int _input, _cacheWrite, _cacheRead, _output;

        public override void Handle(in SseEvent sseEvent, ReadOnlySpan<byte> data, PipeWriter client)
        {
            foreach (var segment in sseEvent.Raw)
            {
                client.Write(segment.Span);
            }
            if (data.IsEmpty)
            {
                return;
            }
            var fields = AnthropicEvent.Read(data);
            if (fields.HasInput) _input = fields.Input;
            if (fields.HasCacheWrite) _cacheWrite = fields.CacheWrite;
            if (fields.HasCacheRead) _cacheRead = fields.CacheRead;
            if (fields.HasOutput) _output = fields.Output;
            switch (fields.Type)
            {
                case AnthropicEventType.MessageStop:
                    Usage = AnthropicUsage.ToOpenAI(_input, _cacheWrite, _cacheRead, _output);
                    IsComplete = true;
                    break;
                case AnthropicEventType.Error:
                    Usage = AnthropicUsage.ToOpenAI(_input, _cacheWrite, _cacheRead, _output);
                    IsFailed = true;
                    break;
            }
        }

        public override byte[] FailureEvent(ProxyOutcome outcome) => AnthropicFailure.Event(outcome);
    }
}
