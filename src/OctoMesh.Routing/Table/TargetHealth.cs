namespace OctoMesh.Routing.Table;

/// <summary>
/// What the gateway has seen of one target lately: a smoothed time to first token and error rate
/// (exponentially weighted), and whether it may take traffic at all. Updated from many requests at
/// once without locks: a lost update only delays the average a little.
/// </summary>
public sealed class TargetHealth
{
    /// <summary>Weight of the newest observation in the moving averages.</summary>
    public const double Alpha = 0.2;

    /// <summary>Requests a target serves before its error rate may eject it.</summary>
    public const int MinObservations = 10;

    private readonly BreakerPolicy _breaker;
    private readonly TimeProvider _time;
    private long _ttftBits;
    private long _errorBits;
    private long _observations;
    private int _consecutiveFailures;
    /// <summary>Timestamp (<see cref="TimeProvider.GetTimestamp"/>) until which the breaker holds the target open; 0 when closed.</summary>
    private long _openUntil;
    private int _inFlight;

    public TargetHealth(BreakerPolicy? breaker = null, TimeProvider? time = null)
    {
        _breaker = breaker ?? BreakerPolicy.Default;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Smoothed time to first token in milliseconds; 0 until the first observation.</summary>
    public double TimeToFirstTokenMs => BitConverter.Int64BitsToDouble(Volatile.Read(ref _ttftBits));

    /// <summary>Smoothed share of failed calls, in [0, 1].</summary>
    public double ErrorRate => BitConverter.Int64BitsToDouble(Volatile.Read(ref _errorBits));

    public long Observations => Interlocked.Read(ref _observations);

    /// <summary>False while the breaker holds the target open: it is tried only after every available one.</summary>
    public bool IsAvailable
    {
        get
        {
            var until = Interlocked.Read(ref _openUntil);
            return until == 0 || _time.GetTimestamp() >= until;
        }
    }

    /// <summary>The breaker: closed (taking traffic), open (held back) or half-open (open time over: the next try decides).</summary>
    public BreakerState State
    {
        get
        {
            var until = Interlocked.Read(ref _openUntil);
            return until == 0 ? BreakerState.Closed : _time.GetTimestamp() >= until ? BreakerState.HalfOpen : BreakerState.Open;
        }
    }

    /// <summary>Failures in a row since the last success.</summary>
    public int ConsecutiveFailures => Volatile.Read(ref _consecutiveFailures);

    /// <summary>Requests the target is serving now, for this route.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Takes a place among the target's requests, unless <paramref name="limit"/> (0: none) are already in flight. Pair with <see cref="Exit"/>.</summary>
    public bool TryEnter(int limit)
    {
        if (Interlocked.Increment(ref _inFlight) <= limit || limit == 0)
        {
            return true;
        }
        Interlocked.Decrement(ref _inFlight);
        return false;
    }

    public void Exit() => Interlocked.Decrement(ref _inFlight);

    /// <summary>Holds the target open now, for the breaker's open time.</summary>
    public void Open() =>
        Interlocked.Exchange(ref _openUntil, _time.GetTimestamp() + (long)(_breaker.OpenMs / 1000.0 * _time.TimestampFrequency));

    public void Record(double timeToFirstTokenMs, bool succeeded)
    {
        if (succeeded)
        {
            Volatile.Write(ref _consecutiveFailures, 0);
            Interlocked.Exchange(ref _openUntil, 0);
        }
        else if (Interlocked.Increment(ref _consecutiveFailures) >= _breaker.Failures)
        {
            // Also after a half-open try fails: the count is still at or above the threshold.
            Open();
        }
        var observations = Interlocked.Increment(ref _observations);
        var first = observations == 1;
        if (succeeded)
        {
            Volatile.Write(ref _ttftBits, BitConverter.DoubleToInt64Bits(first ? timeToFirstTokenMs : Smooth(TimeToFirstTokenMs, timeToFirstTokenMs)));
        }
        var errorRate = first ? (succeeded ? 0 : 1) : Smooth(ErrorRate, succeeded ? 0 : 1);
        Volatile.Write(ref _errorBits, BitConverter.DoubleToInt64Bits(errorRate));
        if (!succeeded && _breaker.ErrorRate > 0 && observations >= MinObservations && errorRate >= _breaker.ErrorRate)
        {
            // Outlier ejection: failing often, if not in a row.
            Open();
        }
    }

    /// <summary>
    /// The least-latency score: smoothed time to first token, made longer by errors (at a 50% error rate
    /// a target counts as three times as slow). Untried targets score 0, so each is tried once early.
    /// </summary>
    public double LatencyScore => Observations == 0 ? 0 : Math.Max(TimeToFirstTokenMs, 1) * (1 + 4 * ErrorRate);

    private static double Smooth(double average, double sample) => average + Alpha * (sample - average);
}

/// <summary>A target's circuit breaker; the numbers are what <c>octomesh_breaker_state</c> reports.</summary>
public enum BreakerState
{
    Closed = 0,
    HalfOpen = 1,
    Open = 2,
}
