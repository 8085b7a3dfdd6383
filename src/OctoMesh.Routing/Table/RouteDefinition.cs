using System.Collections.Frozen;
using System.Collections.Immutable;

namespace OctoMesh.Routing.Table;

/// <summary>How a route orders its targets for one request.</summary>
public enum RouteStrategy
{
    /// <summary>In the order given: the first healthy target, the rest as fallbacks.</summary>
    Priority,
    /// <summary>One target drawn by weight (canaries, A/B), the rest by weight as fallbacks.</summary>
    Weighted,
    /// <summary>Lowest smoothed time to first token, errors counted as slow.</summary>
    LeastLatency,
    /// <summary>The cheapest target whose quality for the request's task clears the route's floor; stronger ones as fallbacks.</summary>
    CheapestAboveQuality,
}

/// <summary>What a route matches on. Null or empty means "any".</summary>
/// <param name="Model">An exact model name, a <c>prefix*</c> pattern, or null for any.</param>
/// <param name="Headers">Request headers that must be present with these values (names case-insensitive).</param>
/// <param name="MinPromptTokens">Inclusive lower bound of the estimated prompt tokens.</param>
/// <param name="MaxPromptTokens">Inclusive upper bound of the estimated prompt tokens.</param>
public sealed record RouteMatch(
    string? Model = null,
    string? Workspace = null,
    string? Task = null,
    FrozenDictionary<string, string>? Headers = null,
    bool? Tools = null,
    bool? Images = null,
    bool? Stream = null,
    int? MinPromptTokens = null,
    int? MaxPromptTokens = null);

/// <summary>One place a route may send a request.</summary>
/// <param name="Weight">For <see cref="RouteStrategy.Weighted"/>: its share, relative to the others.</param>
/// <param name="PricePerMillionTokens">For <see cref="RouteStrategy.CheapestAboveQuality"/>: a blended USD price per 1M tokens.</param>
/// <param name="Quality">For <see cref="RouteStrategy.CheapestAboveQuality"/>: quality in [0, 1] per task; <c>*</c> for any other task.</param>
/// <param name="MaxConcurrency">Requests this target serves for the route at once; 0 for no limit. A full target is passed over.</param>
/// <param name="FirstByteMs">How long this target may take to its response headers on this route; 0 for the provider's own timeout.</param>
public sealed record RouteTarget(
    string Provider,
    string Model,
    int Weight = 1,
    double PricePerMillionTokens = 0,
    FrozenDictionary<string, double>? Quality = null,
    int MaxConcurrency = 0,
    int FirstByteMs = 0)
{
    public double QualityFor(string? task) =>
        Quality is null ? 0 : task is not null && Quality.TryGetValue(task, out var q) ? q : Quality.GetValueOrDefault("*");
}

/// <summary>
/// Tries per target before falling back: <paramref name="Attempts"/> more after the first, waiting an
/// exponential backoff with full jitter (<paramref name="BackoffMs"/> doubled per try, capped at
/// <paramref name="MaxBackoffMs"/>), or the provider's <c>retry-after</c> when it asks for longer and
/// that fits under the cap.
/// </summary>
public sealed record RetryPolicy(int Attempts = 0, int BackoffMs = 200, int MaxBackoffMs = 5000)
{
    public static RetryPolicy None { get; } = new();
}

/// <summary>
/// A target that fails <paramref name="Failures"/> times in a row is held open for
/// <paramref name="OpenMs"/>: tried only after every closed target. After that, one try decides
/// (half-open): a success closes it, a failure opens it again. With <paramref name="ErrorRate"/> above 0,
/// a target is also ejected (opened) when a failure brings its smoothed error rate to that rate, once
/// it has served <see cref="TargetHealth.MinObservations"/> requests: a target failing often, not in a row.
/// </summary>
public sealed record BreakerPolicy(int Failures = 5, int OpenMs = 30_000, double ErrorRate = 0)
{
    public static BreakerPolicy Default { get; } = new();
}

/// <summary>A named route: what it matches, how it orders its targets, and the targets.</summary>
/// <param name="QualityFloor">For <see cref="RouteStrategy.CheapestAboveQuality"/>: the least quality a target must have for the task.</param>
/// <param name="DeadlineMs">The time from the request's arrival within which some target must send its first byte, all tries and waits included.</param>
/// <param name="HedgeAfterMs">For non-streamed requests: when the first target has not answered in this time, the second is sent the request too, and the first good answer wins.</param>
/// <param name="Cache">At most how much of the cache the route's requests use.</param>
public sealed record RouteDefinition(
    string Name,
    RouteMatch Match,
    RouteStrategy Strategy,
    ImmutableArray<RouteTarget> Targets,
    double QualityFloor = 0,
    RetryPolicy? Retry = null,
    BreakerPolicy? Breaker = null,
    int? DeadlineMs = null,
    int? HedgeAfterMs = null,
    Configuration.CachePolicy Cache = Configuration.CachePolicy.Semantic)
{
    /// <summary>Candidates that a sampled share of this route's answered requests is mirrored to, off the response path; null for none.</summary>
    public ShadowPolicy? Shadow { get; init; }
}

/// <summary>
/// Shadow evaluation of a route: a share of its answered chat requests is sent again, after the client has its answer,
/// to each candidate model; a judge model compares each candidate's answer with the one the client got (both ways round),
/// and the score, cost and latency go to the result store that <c>octomesh optimize</c> reads.
/// </summary>
/// <param name="Models">Candidate model names, as clients name them (the gateway's own aliases and routes serve them).</param>
/// <param name="Share">The share of the route's requests mirrored, 0 to 1.</param>
/// <param name="MaxMicroUsdPerDay">What the mirrored requests and their judging may cost per UTC day; past it, none is sent until the next day.</param>
/// <param name="Judge">The judge model; null for the route's first target's.</param>
/// <param name="Results">The result store (JSON Lines, appended).</param>
public sealed record ShadowPolicy(ImmutableArray<string> Models, double Share, long MaxMicroUsdPerDay, string? Judge, string Results);
