namespace OctoMesh.Routing.Configuration;

/// <summary>The period a budget counts over; it renews at its start (UTC).</summary>
public enum BudgetPeriod
{
    Day,
    Month,
}

/// <summary>
/// A spending limit for one client key or one workspace (<c>budgets</c> in the configuration). Hard: a request that
/// could take the spend past <see cref="MicroUsd"/> is refused with 429. Soft: it is counted and logged, and served.
/// </summary>
/// <param name="Name">The budget's name, in errors and metrics.</param>
/// <param name="Workspace">The workspace it limits, or null.</param>
/// <param name="Key">The client key (by name) it limits, or null; exactly one of the two is set.</param>
/// <param name="MicroUsd">The limit per period, in micro-dollars.</param>
public sealed record BudgetConfig(string Name, string? Workspace, string? Key, long MicroUsd, BudgetPeriod Period, bool Hard)
{
    /// <summary>Whether a request of <paramref name="workspace"/> made with key <paramref name="key"/> counts against this budget.</summary>
    public bool Applies(string? workspace, string? key) => Workspace is not null ? Workspace == workspace : Key == key;

    /// <summary>The period <paramref name="now"/> falls in, as a name (<c>2026-11-22</c>, <c>2026-11</c>), and when the next one starts.</summary>
    public (string Name, DateTimeOffset Renews) PeriodOf(DateTimeOffset now)
    {
        var utc = now.UtcDateTime;
        return Period == BudgetPeriod.Day
            ? (utc.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), new DateTimeOffset(utc.Date.AddDays(1), TimeSpan.Zero))
            : (utc.ToString("yyyy-MM", System.Globalization.CultureInfo.InvariantCulture), new DateTimeOffset(new DateTime(utc.Year, utc.Month, 1, 0, 0, 0, DateTimeKind.Utc).AddMonths(1), TimeSpan.Zero));
    }
}

/// <summary>
/// A rate limit (<c>rateLimits</c> in the configuration): requests and/or tokens per minute for the requests it
/// selects: those of <see cref="Workspace"/>, made with <see cref="Key"/>, for <see cref="Model"/> (each null: any). A
/// limit selecting nothing counts every request. The gateway's own count is a GCRA (a token bucket holding a
/// minute's worth), per replica or shared through Redis.
/// </summary>
public sealed record RateLimitConfig(string Name, string? Workspace, string? Key, string? Model, int? RequestsPerMinute, long? TokensPerMinute)
{
    public bool Applies(string? workspace, string? key, string model) =>
        (Workspace is null || Workspace == workspace) && (Key is null || Key == key) && (Model is null || Model == model);
}

/// <summary>
/// The <c>redis</c> section: the one Redis that replicas share for the response cache's second level, budgets, rate
/// limits and the workspace and key store.
/// </summary>
/// <param name="Connection">A StackExchange.Redis configuration string: one or more <c>host:port</c>, then options such as
/// <c>ssl=true</c> or <c>serviceName=…</c> (Sentinel); a Cluster is recognised by itself.</param>
/// <param name="Auth">The ACL user and the password (from the environment), when Redis asks for them.</param>
/// <param name="CaFile">A PEM file with the CA that signed Redis's TLS certificate, when the system does not trust it.</param>
/// <param name="TimeoutMs">How long a call waits before the gateway goes on without Redis (this replica's own count, the
/// in-process cache).</param>
public sealed record RedisConfig(string Connection, RedisCredentials? Auth = null, string? CaFile = null, int TimeoutMs = 100);
