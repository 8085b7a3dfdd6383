using System.Diagnostics;
using OctoMesh.Edge.Wire;

namespace OctoMesh.Edge.Telemetry;

/// <summary>
/// What one request did, filled in along the proxy path and accounted once at its end (metrics, trace
/// record). Holds no prompt or answer text. Timestamps are <see cref="Stopwatch"/> ticks.
/// </summary>
internal sealed class Exchange(ApiOperation operation, string requestId, long started)
{
    public ApiOperation Operation { get; } = operation;
    public string OperationName => Operation.MetricName();

    public long Started { get; } = started;
    /// <summary>When the response headers went to the client; 0 when nothing was sent.</summary>
    public long FirstByte { get; set; }
    public long Ended { get; set; }

    /// <summary>The client's <c>x-request-id</c> when sane, else a new one.</summary>
    public string RequestId { get; } = requestId;
    public bool Stream { get; set; }

    /// <summary>A request the gateway mirrored to itself for shadow evaluation: no workspace, no budget or rate limit, never mirrored again.</summary>
    public bool Shadow { get; set; }
    public string? Workspace { get; set; }
    /// <summary>The workspace as a metrics label, when the configuration asks for one.</summary>
    public string? WorkspaceLabel { get; set; }
    public string? KeyName { get; set; }

    public string? Route { get; set; }
    public string? Task { get; set; }
    /// <summary>The provider and upstream model that answered (or failed last).</summary>
    public string? Provider { get; set; }
    public string? Model { get; set; }

    public TokenUsage? Usage { get; set; }
    public ProxyOutcome Outcome { get; set; }
    /// <summary>One of <see cref="CacheOutcomes"/>: <c>none</c> when the cache is off for the request.</summary>
    public string CacheOutcome { get; set; } = CacheOutcomes.None;

    public int Retries { get; set; }
    public int Fallbacks { get; set; }
    public bool Hedged { get; set; }

    /// <summary>Time spent waiting on upstream sends (to their response headers) and retry backoffs.</summary>
    public long UpstreamTicks { get; set; }
    public double UpstreamSeconds => (double)UpstreamTicks / Stopwatch.Frequency;

    /// <summary>Time in the gateway before the answer's first byte: arrival to first byte, less <see cref="UpstreamSeconds"/>; 0 when nothing was sent.</summary>
    public double OverheadSeconds => FirstByte == 0 ? 0 : Math.Max(0, Stopwatch.GetElapsedTime(Started, FirstByte).TotalSeconds - UpstreamSeconds);

    /// <summary>Marks the response's first byte; registered with <c>HttpResponse.OnStarting</c>.</summary>
    public static Task MarkFirstByte(object state)
    {
        ((Exchange)state).FirstByte = Stopwatch.GetTimestamp();
        return System.Threading.Tasks.Task.CompletedTask;
    }
}

/// <summary>What the cache did for a request, as metrics label it; the trace stores the index.</summary>
internal static class CacheOutcomes
{
    public const string None = "none", Hit = "hit", Miss = "miss", Bypass = "bypass", HitSemantic = "hit_semantic";

    public static byte Code(string outcome) => outcome switch
    {
        Hit => 1,
        Miss => 2,
        Bypass => 3,
        HitSemantic => 4,
        _ => 0,
    };
}
