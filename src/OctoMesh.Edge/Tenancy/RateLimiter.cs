using System.Collections.Concurrent;
using System.Globalization;
using OctoMesh.Edge.Redis;
using StackExchange.Redis;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Tenancy;

/// <summary>What a limit's bucket says after a take: its size per minute, what is left, and when it is full again.</summary>
internal readonly record struct RateState(long Limit, long Remaining, TimeSpan Reset);

/// <summary>Tokens a request took from a limit's token bucket, given back in part once the exact count is known.</summary>
internal sealed record RateHold(RateLimitConfig Limit, long Tokens, bool Shared);

/// <summary>The outcome of taking from every limit of a request: the holds, the tightest states, or the limit that refused and when to come back.</summary>
internal sealed record RateDecision(IReadOnlyList<RateHold> Holds, RateState? Requests, RateState? Tokens,
    RateLimitConfig? Refused = null, string? RefusedDimension = null, TimeSpan RetryAfter = default);

/// <summary>
/// Requests and tokens per minute, by GCRA (the generic cell rate algorithm: a token bucket kept as one timestamp,
/// the theoretical arrival time). Each limit and dimension holds a minute's worth: a burst of the whole minute is
/// allowed, then the rate. Requests take 1; tokens take the request's most possible count (prompt bytes + max_tokens)
/// and give back the difference once the answer's usage is known. With Redis, one bucket for every replica (a Lua
/// script on Redis's own clock); when Redis fails, the replica counts on its own for that request.
/// </summary>
internal sealed class RateLimiter
{
    private const double Window = 60_000_000; // µs

    /// <summary>Takes ARGV[2] cells at ARGV[1] µs each from the bucket in KEYS[1] (a negative count gives back); {1, remaining, reset µs} or {0, retry µs}.</summary>
    private static readonly RedisScript s_take = new("""
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local interval = tonumber(ARGV[1])
        local weight = tonumber(ARGV[2])
        if ARGV[3] == 'take' and weight < 1 then weight = 1 end
        local window = 60000000
        local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
        if tat < now then tat = now end
        local new = tat + weight * interval
        if weight > 0 and new - now > window then
          return {0, tostring(math.ceil(new - now - window))}
        end
        if new < now then new = now end
        redis.call('SET', KEYS[1], string.format('%.17g', new), 'PX', 61000)
        return {1, tostring(math.floor((window - (new - now)) / interval)), tostring(math.ceil(new - now))}
        """);

    private readonly ConcurrentDictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);
    private readonly RedisConnection? _redis;
    private readonly TimeProvider _time;
    private long _redisErrors;

    /// <param name="redis">The shared Redis, or null for this replica alone.</param>
    public RateLimiter(RedisConnection? redis, TimeProvider? time = null)
    {
        _redis = redis;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Redis calls that failed; those requests were counted by this replica alone.</summary>
    public long RedisErrors => Interlocked.Read(ref _redisErrors);

    /// <summary>Takes one request and <paramref name="tokens"/> tokens from each of <paramref name="limits"/>; on a refusal, what was taken is given back.</summary>
    public async ValueTask<RateDecision> AcquireAsync(IReadOnlyList<RateLimitConfig> limits, long tokens)
    {
        tokens = Math.Max(1, tokens);
        var taken = new List<(RateLimitConfig Limit, string Dimension, long PerMinute, long Cells, bool Shared)>(limits.Count * 2);
        var holds = new List<RateHold>(limits.Count);
        RateState? requests = null, tokenState = null;
        foreach (var limit in limits)
        {
            for (var tokenDimension = 0; tokenDimension < 2; tokenDimension++)
            {
                var (dimension, perMinute, cells) = tokenDimension == 0 ? ("requests", (long?)limit.RequestsPerMinute, 1L) : ("tokens", limit.TokensPerMinute, tokens);
                if (perMinute is not { } rate)
                {
                    continue;
                }
                var (allowed, state, retry, shared) = await TakeAsync(limit, dimension, rate, cells);
                if (!allowed)
                {
                    foreach (var back in taken)
                    {
                        await GiveBackAsync(back.Limit, back.Dimension, back.PerMinute, back.Cells, back.Shared);
                    }
                    return new RateDecision([], null, null, limit, dimension, retry);
                }
                taken.Add((limit, dimension, rate, cells, shared));
                if (tokenDimension == 1)
                {
                    holds.Add(new RateHold(limit, cells, shared));
                    tokenState = Tighter(tokenState, state);
                }
                else
                {
                    requests = Tighter(requests, state);
                }
            }
        }
        return new RateDecision(holds, requests, tokenState);
    }

    /// <summary>Gives back the tokens held beyond <paramref name="actualTokens"/>, the request's real count (<see cref="long.MaxValue"/>: unknown, nothing given back).</summary>
    public async ValueTask SettleAsync(IReadOnlyList<RateHold> holds, long actualTokens)
    {
        foreach (var hold in holds)
        {
            if (hold.Tokens > actualTokens)
            {
                await GiveBackAsync(hold.Limit, "tokens", hold.Limit.TokensPerMinute!.Value, hold.Tokens - actualTokens, hold.Shared);
            }
        }
    }

    private static RateState Tighter(RateState? a, RateState b) => a is { } known && known.Remaining <= b.Remaining ? known : b;

    private async ValueTask<(bool Allowed, RateState State, TimeSpan RetryAfter, bool Shared)> TakeAsync(RateLimitConfig limit, string dimension, long perMinute, long cells)
    {
        var interval = Window / perMinute;
        if (_redis is not null)
        {
            try
            {
                var reply = (RedisResult[]?)await s_take.EvaluateAsync(_redis, [$"octomesh:rate:{limit.Name}:{dimension}"],
                    [interval.ToString("R", CultureInfo.InvariantCulture), cells, "take"]);
                if (reply is [var taken, var retry] && (long)taken == 0)
                {
                    return (false, default, TimeSpan.FromMicroseconds(double.Parse((string)retry!, CultureInfo.InvariantCulture)), true);
                }
                if (reply is [_, var remaining, var reset])
                {
                    return (true, new RateState(perMinute, long.Parse((string)remaining!, CultureInfo.InvariantCulture),
                        TimeSpan.FromMicroseconds(double.Parse((string)reset!, CultureInfo.InvariantCulture))), TimeSpan.Zero, true);
                }
                throw new FormatException("unexpected reply from the rate script");
            }
            catch (Exception e) when (RedisConnection.IsFailure(e) || e is FormatException or InvalidCastException)
            {
                Interlocked.Increment(ref _redisErrors);
            }
        }
        var bucket = _buckets.GetOrAdd($"{limit.Name}\n{dimension}", static _ => new Bucket());
        var now = Now();
        lock (bucket)
        {
            var tat = Math.Max(bucket.Tat, now);
            var next = tat + cells * interval;
            if (next - now > Window)
            {
                return (false, default, TimeSpan.FromMicroseconds(next - now - Window), false);
            }
            bucket.Tat = next;
            return (true, new RateState(perMinute, (long)Math.Floor((Window - (next - now)) / interval), TimeSpan.FromMicroseconds(next - now)), TimeSpan.Zero, false);
        }
    }

    private async ValueTask GiveBackAsync(RateLimitConfig limit, string dimension, long perMinute, long cells, bool shared)
    {
        var interval = Window / perMinute;
        if (shared && _redis is not null)
        {
            try
            {
                await s_take.EvaluateAsync(_redis, [$"octomesh:rate:{limit.Name}:{dimension}"], [interval.ToString("R", CultureInfo.InvariantCulture), -cells, "give"]);
                return;
            }
            catch (Exception e) when (RedisConnection.IsFailure(e))
            {
                // Not given back: an over-count for at most a minute, never an under-count.
                Interlocked.Increment(ref _redisErrors);
                return;
            }
        }
        var bucket = _buckets.GetOrAdd($"{limit.Name}\n{dimension}", static _ => new Bucket());
        var now = Now();
        lock (bucket)
        {
            bucket.Tat = Math.Max(now, bucket.Tat - cells * interval);
        }
    }

    private double Now() => _time.GetUtcNow().ToUnixTimeMilliseconds() * 1000.0;

    private sealed class Bucket
    {
        /// <summary>The theoretical arrival time of the next cell, in Unix µs.</summary>
        public double Tat;
    }
}
