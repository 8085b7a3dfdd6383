using HdrHistogram;

namespace OctoMesh.Load;

/// <summary>
/// Durations in microseconds, from 1 µs to an hour at three significant digits, on HdrHistogram's concurrent
/// histogram (recording is thread-safe). Values past an hour are counted as an hour.
/// </summary>
public sealed class Histogram
{
    private const long Highest = 3_600_000_000;
    private readonly LongConcurrentHistogram _values = new(1, Highest, 3);

    public long Count => _values.TotalCount;

    /// <summary>The largest value recorded, to the histogram's precision (never under it, at most 0.1% over).</summary>
    public long Max => _values.TotalCount == 0 ? 0 : _values.GetMaxValue();

    public void Record(long micros) => _values.RecordValue(Math.Clamp(micros, 0, Highest));

    /// <summary>The value at or below which <paramref name="percentile"/>% of the recorded values are (never under the true value).</summary>
    public long Percentile(double percentile) => _values.TotalCount == 0 ? 0 : _values.GetValueAtPercentile(percentile);
}
