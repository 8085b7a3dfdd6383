namespace OctoMesh.Load;

/// <summary>
/// A high-dynamic-range histogram of durations in microseconds, exact below 256 µs and within 0.8% above, up to about
/// 12 days: each power of two above is split into 128 linear sub-buckets (HdrHistogram's layout). Thread-safe
/// recording; percentiles read the counts once the run is over.
/// </summary>
public sealed class Histogram
{
    private const int Exact = 256, SubBuckets = 128, MaxShift = 33;
    private readonly long[] _counts = new long[Exact + MaxShift * SubBuckets];
    private long _count, _sum, _max;

    public long Count => Interlocked.Read(ref _count);

    public long Max => Interlocked.Read(ref _max);

    public double Mean => Count == 0 ? 0 : (double)Interlocked.Read(ref _sum) / Count;

    public void Record(long micros)
    {
        micros = Math.Clamp(micros, 0, (1L << (MaxShift + 8)) - 1);
        Interlocked.Increment(ref _counts[Index(micros)]);
        Interlocked.Increment(ref _count);
        Interlocked.Add(ref _sum, micros);
        long max;
        while (micros > (max = Interlocked.Read(ref _max)) && Interlocked.CompareExchange(ref _max, micros, max) != max)
        {
        }
    }

    /// <summary>The value below which <paramref name="percentile"/>% of the recorded values are (the bucket's upper edge, so never under).</summary>
    public long Percentile(double percentile)
    {
        var total = Count;
        if (total == 0)
        {
            return 0;
        }
        var rank = (long)Math.Ceiling(percentile / 100 * total);
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= Math.Max(1, rank))
            {
                return Math.Min(UpperEdge(i), Max);
            }
        }
        return Max;
    }

    public void Add(Histogram other)
    {
        for (var i = 0; i < _counts.Length; i++)
        {
            _counts[i] += other._counts[i];
        }
        _count += other._count;
        _sum += other._sum;
        _max = Math.Max(_max, other._max);
    }

    /// <summary>Values under 256 have a bucket each; above, a value keeps its top 8 bits (128 sub-buckets per power of two).</summary>
    private static int Index(long value)
    {
        if (value < Exact)
        {
            return (int)value;
        }
        var shift = 63 - (int)long.LeadingZeroCount(value) - 7;
        return Exact + (shift - 1) * SubBuckets + (int)(value >> shift) - SubBuckets;
    }

    private static long UpperEdge(int index)
    {
        if (index < Exact)
        {
            return index;
        }
        var shift = (index - Exact) / SubBuckets + 1;
        var mantissa = (index - Exact) % SubBuckets + SubBuckets;
        return ((long)(mantissa + 1) << shift) - 1;
    }
}
