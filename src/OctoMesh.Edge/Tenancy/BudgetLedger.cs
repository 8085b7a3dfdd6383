using System.Collections.Concurrent;
using OctoMesh.Edge.Redis;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Tenancy;

/// <summary>What a request holds against one budget until it is settled: the budget, its period, the amount, and where it was counted.</summary>
/// <param name="Exceeded">A soft budget this request takes past its limit (served, counted and logged).</param>
internal sealed record Reservation(BudgetConfig Budget, string Period, long MicroUsd, bool Shared, bool Exceeded = false);

/// <summary>
/// The outcome of reserving: the reservations made, or the hard budget that refused, when it renews, and whether only
/// requests in flight stood in the way (<paramref name="InFlight"/>: the spend alone leaves room, so retrying soon may succeed).
/// </summary>
internal sealed record BudgetCheck(IReadOnlyList<Reservation> Reservations, BudgetConfig? Refused = null, DateTimeOffset Renews = default,
    bool InFlight = false);

/// <summary>
/// Keeps the spend of each budget and period, so that parallel requests cannot overshoot it. Before a request goes
/// upstream, its most possible cost is reserved, atomically with the check: spent + reserved + this ≤ limit, or (hard
/// budget) the request is refused. After the answer, the reservation is replaced by the exact cost. With Redis, the
/// counts are shared by every replica (two Lua scripts, <see cref="RedisScript"/>, each one atomic step); when Redis fails, a replica counts on
/// its own for that request (counted in <see cref="RedisErrors"/>).
/// </summary>
internal sealed class BudgetLedger
{
    /// <summary>
    /// Reserve: refuses (hard) when spent + reserved + amount would pass the limit (0, or 3 when the spend alone leaves room);
    /// else adds the amount to reserved (1, or 2 when a soft budget is passed).
    /// </summary>
    private static readonly RedisScript s_reserve = new("""
        local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
        local reserved = tonumber(redis.call('HGET', KEYS[1], 'reserved') or '0')
        local amount = tonumber(ARGV[2])
        local over = spent + reserved + amount > tonumber(ARGV[1])
        if over and ARGV[4] == '1' then
          if spent + amount <= tonumber(ARGV[1]) then
            return 3
          end
          return 0
        end
        redis.call('HINCRBY', KEYS[1], 'reserved', amount)
        redis.call('PEXPIRE', KEYS[1], ARGV[3])
        if over then
          return 2
        end
        return 1
        """);

    /// <summary>Settle: the reservation out (ARGV[1], negative), the exact cost in; reserved never below 0 (a key lost and made again).</summary>
    private static readonly RedisScript s_settle = new("""
        local reserved = redis.call('HINCRBY', KEYS[1], 'reserved', ARGV[1])
        if reserved < 0 then
          redis.call('HSET', KEYS[1], 'reserved', 0)
        end
        redis.call('HINCRBY', KEYS[1], 'spent', ARGV[2])
        redis.call('PEXPIRE', KEYS[1], ARGV[3])
        return 1
        """);

    private readonly ConcurrentDictionary<string, Account> _accounts = new(StringComparer.Ordinal);
    private readonly RedisConnection? _redis;
    private readonly TimeProvider _time;
    private long _redisErrors;

    /// <param name="redis">The shared Redis, or null for this replica alone.</param>
    public BudgetLedger(RedisConnection? redis, TimeProvider? time = null)
    {
        _redis = redis;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Redis calls that failed; those requests were counted by this replica alone.</summary>
    public long RedisErrors => Interlocked.Read(ref _redisErrors);

    /// <summary>
    /// Reserves <paramref name="microUsd"/> against each of <paramref name="budgets"/>. When a hard one refuses, the ones
    /// already made are given back and <see cref="BudgetCheck.Refused"/> says which refused.
    /// </summary>
    public async ValueTask<BudgetCheck> ReserveAsync(IReadOnlyList<BudgetConfig> budgets, long microUsd)
    {
        var now = _time.GetUtcNow();
        var made = new List<Reservation>(budgets.Count);
        foreach (var budget in budgets)
        {
            var (period, renews) = budget.PeriodOf(now);
            var (granted, exceeded, shared, inFlight) = await TryReserveAsync(budget, period, renews, microUsd);
            if (!granted)
            {
                await SettleAsync(made, 0, refund: true);
                return new BudgetCheck([], budget, renews, inFlight);
            }
            made.Add(new Reservation(budget, period, microUsd, shared, exceeded));
        }
        return new BudgetCheck(made);
    }

    /// <summary>
    /// Replaces each reservation by the exact cost <paramref name="actualMicroUsd"/> (0 for a request that cost nothing;
    /// null when unknown: the reservation itself is spent).
    /// </summary>
    public ValueTask SettleAsync(IReadOnlyList<Reservation> reservations, long? actualMicroUsd) => SettleAsync(reservations, actualMicroUsd, refund: false);

    /// <summary>Spent and reserved in the current period of <paramref name="budget"/> (this replica's view; Redis's when shared).</summary>
    public async ValueTask<(long Spent, long Reserved)> ReadAsync(BudgetConfig budget)
    {
        var (period, _) = budget.PeriodOf(_time.GetUtcNow());
        if (_redis is not null)
        {
            try
            {
                var values = await _redis.WithinTimeout(_redis.Database.HashGetAsync(RedisKey(budget, period), ["spent", "reserved"]));
                return ((long)values[0], (long)values[1]);
            }
            catch (Exception e) when (RedisConnection.IsFailure(e) || e is InvalidCastException)
            {
                Interlocked.Increment(ref _redisErrors);
            }
        }
        var account = Local(budget, period);
        lock (account)
        {
            return (account.Spent, account.Reserved);
        }
    }

    private async ValueTask<(bool Granted, bool Exceeded, bool Shared, bool InFlight)> TryReserveAsync(BudgetConfig budget, string period, DateTimeOffset renews, long microUsd)
    {
        if (_redis is not null)
        {
            try
            {
                var reply = (long)await s_reserve.EvaluateAsync(_redis, [RedisKey(budget, period)],
                    [budget.MicroUsd, microUsd, KeepFor(renews), budget.Hard ? "1" : "0"]);
                return (reply is 1 or 2, reply == 2, true, reply == 3);
            }
            catch (Exception e) when (RedisConnection.IsFailure(e))
            {
                Interlocked.Increment(ref _redisErrors);
            }
        }
        var account = Local(budget, period);
        lock (account)
        {
            var over = account.Spent + account.Reserved + microUsd > budget.MicroUsd;
            if (over && budget.Hard)
            {
                return (false, false, false, account.Spent + microUsd <= budget.MicroUsd);
            }
            account.Reserved += microUsd;
            return (true, over, false, false);
        }
    }

    private async ValueTask SettleAsync(IReadOnlyList<Reservation> reservations, long? actualMicroUsd, bool refund)
    {
        foreach (var reservation in reservations)
        {
            var spent = refund ? 0 : actualMicroUsd ?? reservation.MicroUsd;
            if (reservation.MicroUsd == 0 && spent == 0)
            {
                continue;
            }
            if (reservation.Shared && _redis is not null)
            {
                try
                {
                    await s_settle.EvaluateAsync(_redis, [RedisKey(reservation.Budget, reservation.Period)],
                        [-reservation.MicroUsd, spent, KeepFor(reservation.Budget.PeriodOf(_time.GetUtcNow()).Renews)]);
                    continue;
                }
                catch (Exception e) when (RedisConnection.IsFailure(e))
                {
                    // The reservation stays in Redis until the period ends (an over-count, never an under-count);
                    // the spend is counted here at least.
                    Interlocked.Increment(ref _redisErrors);
                    var fallback = Local(reservation.Budget, reservation.Period);
                    lock (fallback)
                    {
                        fallback.Spent += spent;
                    }
                    continue;
                }
            }
            var account = Local(reservation.Budget, reservation.Period);
            lock (account)
            {
                account.Reserved -= reservation.MicroUsd;
                account.Spent += spent;
            }
        }
    }

    private Account Local(BudgetConfig budget, string period) => _accounts.GetOrAdd($"{budget.Name}\n{period}", static _ => new Account());

    private static string RedisKey(BudgetConfig budget, string period) => $"octomesh:budget:{budget.Name}:{period}";

    /// <summary>Redis keeps a period's counts a day past its end, then lets them go.</summary>
    private long KeepFor(DateTimeOffset renews) => (long)(renews - _time.GetUtcNow() + TimeSpan.FromDays(1)).TotalMilliseconds;

    private sealed class Account
    {
        public long Spent;
        public long Reserved;
    }
}
