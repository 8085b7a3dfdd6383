namespace OctoMesh.Edge.Telemetry;

/// <summary>Every log event id in one place, so they stay unique and stable for alerting.</summary>
internal static class EventIds
{
    public const int GatewayStarted = 1;
    public const int SimulatorStarted = 2;
    public const int RequestCompleted = 10;
    public const int UpstreamUnreachable = 20;
    public const int UpstreamTimeout = 21;
    public const int UpstreamStreamCut = 22;
    public const int UpstreamRefusedCredentials = 23;
    public const int UpstreamFailedOver = 24;
    public const int Hedged = 25;
    public const int UpstreamBadUsage = 26;
    public const int ClientDisconnected = 30;
    public const int BracketFailed = 31;
    public const int Reloaded = 40;
    public const int ReloadRefused = 41;
    public const int TraceCommitFailed = 50;
    public const int SoftBudgetExceeded = 60;
    public const int TenancySyncFailed = 61;
}
