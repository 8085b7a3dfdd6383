using Microsoft.Extensions.Logging;
using OctoMesh.Edge.Wire;

namespace OctoMesh.Edge.Telemetry;

/// <summary>Source-generated log methods: no boxing, no formatting unless the level is on. Never a key or a prompt.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = EventIds.GatewayStarted, Level = LogLevel.Information, Message = "OctoMesh Edge listening on {Urls}")]
    public static partial void GatewayStarted(ILogger logger, string urls);

    [LoggerMessage(EventId = EventIds.SimulatorStarted, Level = LogLevel.Information, Message = "Simulator listening on {Urls}")]
    public static partial void SimulatorStarted(ILogger logger, string urls);

    [LoggerMessage(EventId = EventIds.RequestCompleted, Level = LogLevel.Debug,
        Message = "{RequestId} {Operation} {Model} via {Provider}: {Status} {Outcome} prompt={PromptTokens} completion={CompletionTokens} cost={CostMicros} µUSD in {ElapsedMs:F1} ms")]
    public static partial void RequestCompleted(ILogger logger, string requestId, ApiOperation operation, string model, string provider,
        int status, ProxyOutcome outcome, int promptTokens, int completionTokens, long costMicros, double elapsedMs);

    [LoggerMessage(EventId = EventIds.UpstreamUnreachable, Level = LogLevel.Warning, Message = "{RequestId}: provider {Provider} unreachable ({Error})")]
    public static partial void UpstreamUnreachable(ILogger logger, string requestId, string provider, string error);

    [LoggerMessage(EventId = EventIds.UpstreamTimeout, Level = LogLevel.Warning, Message = "{RequestId}: provider {Provider} timed out")]
    public static partial void UpstreamTimeout(ILogger logger, string requestId, string provider);

    [LoggerMessage(EventId = EventIds.UpstreamStreamCut, Level = LogLevel.Warning, Message = "{RequestId}: provider {Provider} stream ended early ({Outcome})")]
    public static partial void UpstreamStreamCut(ILogger logger, string requestId, string provider, ProxyOutcome outcome);

    [LoggerMessage(EventId = EventIds.UpstreamRefusedCredentials, Level = LogLevel.Warning,
        Message = "{RequestId}: provider {Provider} refused the gateway's key; check the environment variable its apiKey names")]
    public static partial void UpstreamRefusedCredentials(ILogger logger, string requestId, string provider);

    [LoggerMessage(EventId = EventIds.UpstreamFailedOver, Level = LogLevel.Information,
        Message = "{RequestId}: provider {Provider} answered {Status} before the first byte; trying the route's next target")]
    public static partial void UpstreamFailedOver(ILogger logger, string requestId, string provider, int status);

    [LoggerMessage(EventId = EventIds.SoftBudgetExceeded, Level = LogLevel.Warning,
        Message = "{RequestId}: served past the limit of soft budget {Budget}")]
    public static partial void SoftBudgetExceeded(ILogger logger, string requestId, string budget);

    [LoggerMessage(EventId = EventIds.TenancySyncFailed, Level = LogLevel.Warning,
        Message = "Kept {Record} here but could not write it to Redis; the other replicas get it at their next resync")]
    public static partial void TenancySyncFailed(ILogger logger, string record);

    [LoggerMessage(EventId = EventIds.Hedged, Level = LogLevel.Debug,
        Message = "{RequestId}: route {Route}'s first target ({Provider}) is slow; hedging with {HedgeProvider}")]
    public static partial void Hedged(ILogger logger, string requestId, string route, string provider, string hedgeProvider);

    [LoggerMessage(EventId = EventIds.ClientDisconnected, Level = LogLevel.Debug, Message = "{RequestId}: client disconnected; upstream call cancelled")]
    public static partial void ClientDisconnected(ILogger logger, string requestId);

    [LoggerMessage(EventId = EventIds.Reloaded, Level = LogLevel.Information, Message = "Reloaded {Path}: {Routes} routes, {Providers} providers")]
    public static partial void Reloaded(ILogger logger, string path, int routes, int providers);

    [LoggerMessage(EventId = EventIds.ReloadRefused, Level = LogLevel.Error, Message = "Kept the running configuration: {Path} has {Count} errors: {Errors}")]
    public static partial void ReloadRefused(ILogger logger, string path, int count, string errors);

    [LoggerMessage(EventId = EventIds.TraceCommitFailed, Level = LogLevel.Error,
        Message = "The trace log in {Directory} failed to commit ({Error}); records wait in memory up to trace.maxBacklog, then are dropped and counted")]
    public static partial void TraceCommitFailed(ILogger logger, string directory, string error);

    [LoggerMessage(EventId = EventIds.BracketFailed, Level = LogLevel.Error, Message = "{RequestId}: closing {Step} failed")]
    public static partial void BracketFailed(ILogger logger, string requestId, string step, Exception exception);

    [LoggerMessage(EventId = EventIds.UpstreamBadUsage, Level = LogLevel.Warning,
        Message = "{RequestId}: provider {Provider} reported token counts that cannot be (negative or absurd); the usage is treated as unknown")]
    public static partial void UpstreamBadUsage(ILogger logger, string requestId, string provider);
}
