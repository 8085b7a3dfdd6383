using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace OctoMesh.Edge.Telemetry;

/// <summary>
/// Serves one <see cref="Meter"/>'s instruments in the Prometheus text format 0.0.4, where
/// prometheus-net would plug in (it is not in the registry). A <see cref="MeterListener"/> aggregates
/// measurements as they are recorded: counters and up-down counters as sums, histograms into their
/// explicit buckets (the instrument's advice), gauges and observable instruments as their last value,
/// the observable ones read at each scrape. Names follow OpenTelemetry's Prometheus mapping: dots
/// become underscores, the unit is appended (<c>s</c> as <c>_seconds</c>; units in braces dropped) and
/// counters end in <c>_total</c>.
/// </summary>
internal sealed class PrometheusExporter : IDisposable
{
    /// <summary>Content type of the text format.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly Meter _meter;
    private readonly int _maxSeries;
    private readonly MeterListener _listener = new();
    private readonly List<MetricFamily> _families = [];
    private readonly Lock _scrape = new();

    /// <param name="maxSeries">Series per metric; measurements with further label sets are counted under <see cref="MetricFamily.Overflow"/> values.</param>
    public PrometheusExporter(Meter meter, int maxSeries)
    {
        _meter = meter;
        _maxSeries = maxSeries;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, _meter))
            {
                var family = MetricFamily.For(instrument, _maxSeries);
                lock (_families)
                {
                    _families.Add(family);
                }
                listener.EnableMeasurementEvents(instrument, family);
            }
        };
        _listener.SetMeasurementEventCallback<long>(static (_, value, tags, state) => ((MetricFamily)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<int>(static (_, value, tags, state) => ((MetricFamily)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<double>(static (_, value, tags, state) => ((MetricFamily)state!).Record(value, tags));
        _listener.Start();
    }

    /// <summary>Every metric in the text format, observable instruments read now.</summary>
    public string Scrape()
    {
        lock (_scrape)
        {
            MetricFamily[] families;
            lock (_families)
            {
                families = [.. _families];
            }
            foreach (var family in families)
            {
                // An observed series that is not observed again (a route removed by a reload) must disappear.
                family.ClearIfObserved();
            }
            _listener.RecordObservableInstruments();
            var text = new StringBuilder(16 * 1024);
            foreach (var family in families.OrderBy(f => f.Name, StringComparer.Ordinal))
            {
                family.WriteTo(text);
            }
            return text.ToString();
        }
    }

    public void Dispose() => _listener.Dispose();
}

/// <summary>Prometheus' metric types, as the exporter maps instruments to them.</summary>
internal enum MetricKind
{
    Counter,
    Gauge,
    Histogram,
}

/// <summary>One instrument's series, by label values.</summary>
internal sealed class MetricFamily
{
    /// <summary>The label value of every label in the one series that takes measurements past the series limit.</summary>
    public const string Overflow = "_other_";

    private readonly System.Collections.Concurrent.ConcurrentDictionary<LabelKey, MetricSeries> _series = new();
    private readonly int _maxSeries;
    private readonly bool _observed;
    private readonly bool _sums;

    private MetricFamily(string name, string help, MetricKind kind, bool observed, bool sums, double[] bounds, int maxSeries)
    {
        Name = name;
        Help = help;
        Kind = kind;
        Bounds = bounds;
        _observed = observed;
        _sums = sums;
        _maxSeries = maxSeries;
    }

    public string Name { get; }
    public string Help { get; }
    public MetricKind Kind { get; }
    /// <summary>Histogram bucket upper bounds, ascending (+Inf implied).</summary>
    public double[] Bounds { get; }

    public static MetricFamily For(Instrument instrument, int maxSeries)
    {
        var (kind, observed, sums) = instrument switch
        {
            Counter<long> or Counter<int> or Counter<double> => (MetricKind.Counter, false, true),
            ObservableCounter<long> or ObservableCounter<int> or ObservableCounter<double> => (MetricKind.Counter, true, false),
            UpDownCounter<long> or UpDownCounter<int> or UpDownCounter<double> => (MetricKind.Gauge, false, true),
            Histogram<long> or Histogram<int> or Histogram<double> => (MetricKind.Histogram, false, false),
            _ => (MetricKind.Gauge, instrument.IsObservable, false), // Gauge, ObservableGauge, ObservableUpDownCounter
        };
        var bounds = instrument switch
        {
            Histogram<double> h => h.Advice?.HistogramBucketBoundaries?.ToArray(),
            Histogram<long> h => h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray(),
            _ => null,
        } ?? [];
        return new MetricFamily(PrometheusName(instrument.Name, instrument.Unit, kind), instrument.Description ?? instrument.Name,
            kind, observed, sums, bounds, maxSeries);
    }

    /// <summary>OpenTelemetry's Prometheus name: dots to underscores, then the unit, then <c>_total</c> for a counter.</summary>
    internal static string PrometheusName(string name, string? unit, MetricKind kind)
    {
        var prometheus = Sanitize(name);
        var suffix = unit switch
        {
            null or "" or "1" => null,
            "s" => "seconds",
            "ms" => "milliseconds",
            "By" => "bytes",
            _ when unit.StartsWith('{') => null,
            _ => Sanitize(unit),
        };
        if (suffix is not null && !prometheus.EndsWith("_" + suffix, StringComparison.Ordinal))
        {
            prometheus += "_" + suffix;
        }
        return kind == MetricKind.Counter && !prometheus.EndsWith("_total", StringComparison.Ordinal) ? prometheus + "_total" : prometheus;
    }

    /// <summary>A metric or label name: letters, digits and underscores, not starting with a digit.</summary>
    internal static string Sanitize(string name)
    {
        var chars = name.Select(c => char.IsAsciiLetterOrDigit(c) || c == '_' ? c : '_').ToArray();
        return char.IsAsciiDigit(chars[0]) ? "_" + new string(chars) : new string(chars);
    }

    public void Record(long value, ReadOnlySpan<KeyValuePair<string, object?>> tags) => Record(new MetricValue(value), tags);

    public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags) => Record(new MetricValue(value), tags);

    private void Record(MetricValue value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var series = Find(tags);
        if (Kind == MetricKind.Histogram)
        {
            series.Observe(value.AsDouble, Bounds);
        }
        else if (_sums)
        {
            series.Add(value);
        }
        else
        {
            series.Set(value);
        }
    }

    private MetricSeries Find(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var key = new LabelKey(tags);
        return _series.TryGetValue(key, out var series) ? series : Add(key, tags);
    }

    private MetricSeries Add(LabelKey key, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var names = new string[tags.Length];
        var values = new string[tags.Length];
        var overflow = _series.Count >= _maxSeries;
        for (var i = 0; i < tags.Length; i++)
        {
            names[i] = Sanitize(tags[i].Key);
            values[i] = overflow ? Overflow : LabelKey.Text(tags[i].Value);
        }
        if (overflow)
        {
            key = LabelKey.Of(values);
        }
        return _series.GetOrAdd(key, static (_, arg) => new MetricSeries(arg.names, arg.values, arg.bounds), (names, values, bounds: Bounds.Length));
    }

    public void ClearIfObserved()
    {
        if (_observed)
        {
            _series.Clear();
        }
    }

    public void WriteTo(StringBuilder text)
    {
        var type = Kind switch { MetricKind.Counter => "counter", MetricKind.Gauge => "gauge", _ => "histogram" };
        text.Append("# HELP ").Append(Name).Append(' ').Append(Help.Replace("\\", "\\\\").Replace("\n", "\\n")).Append('\n');
        text.Append("# TYPE ").Append(Name).Append(' ').Append(type).Append('\n');
        foreach (var series in _series.Values)
        {
            if (Kind != MetricKind.Histogram)
            {
                text.Append(Name);
                series.WriteLabels(text, null);
                text.Append(' ').Append(series.ValueText()).Append('\n');
                continue;
            }
            var (buckets, count, sum) = series.Snapshot();
            long cumulative = 0;
            for (var i = 0; i <= Bounds.Length; i++)
            {
                cumulative += buckets[i];
                text.Append(Name).Append("_bucket");
                series.WriteLabels(text, i < Bounds.Length ? Number(Bounds[i]) : "+Inf");
                text.Append(' ').Append(cumulative.ToString(CultureInfo.InvariantCulture)).Append('\n');
            }
            text.Append(Name).Append("_sum");
            series.WriteLabels(text, null);
            text.Append(' ').Append(Number(sum)).Append('\n');
            text.Append(Name).Append("_count");
            series.WriteLabels(text, null);
            text.Append(' ').Append(count.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }
    }

    internal static string Number(double value) =>
        double.IsPositiveInfinity(value) ? "+Inf" : double.IsNegativeInfinity(value) ? "-Inf" : value.ToString("R", CultureInfo.InvariantCulture);
}

/// <summary>
/// One label set's value: a sum or last value (as a whole number while only whole numbers were recorded), or
/// histogram buckets. Updated from many threads with interlocked operations only.
/// </summary>
internal sealed class MetricSeries(string[] names, string[] values, int bounds)
{
    private long _whole;
    private long _fractionBits;
    private int _isFractional;
    private readonly long[] _buckets = new long[bounds + 1];

    public void Add(MetricValue value)
    {
        if (value.IsWhole)
        {
            Interlocked.Add(ref _whole, value.Whole);
        }
        else
        {
            Volatile.Write(ref _isFractional, 1);
            AddDouble(ref _fractionBits, value.Fraction);
        }
    }

    public void Set(MetricValue value)
    {
        Interlocked.Exchange(ref _whole, value.Whole);
        Interlocked.Exchange(ref _fractionBits, BitConverter.DoubleToInt64Bits(value.Fraction));
        Volatile.Write(ref _isFractional, value.IsWhole ? 0 : 1);
    }

    /// <summary>Counts <paramref name="value"/> in the first bucket whose upper bound is at least it (Prometheus' <c>le</c>).</summary>
    public void Observe(double value, double[] bounds)
    {
        // A dozen bounds or so: a straight scan beats a binary search here.
        var index = 0;
        while (index < bounds.Length && value > bounds[index])
        {
            index++;
        }
        Interlocked.Increment(ref _buckets[index]);
        AddDouble(ref _fractionBits, value);
    }

    /// <summary>
    /// Buckets (not cumulative), count and sum, read while others record: the count is the buckets' total, so
    /// that <c>_count</c> equals the <c>+Inf</c> bucket as Prometheus expects; the sum may lag by a measurement in flight.
    /// </summary>
    public (long[] Buckets, long Count, double Sum) Snapshot()
    {
        var buckets = new long[_buckets.Length];
        for (var i = 0; i < buckets.Length; i++)
        {
            buckets[i] = Interlocked.Read(ref _buckets[i]);
        }
        return (buckets, buckets.Sum(), BitConverter.Int64BitsToDouble(Interlocked.Read(ref _fractionBits)));
    }

    public string ValueText() => Volatile.Read(ref _isFractional) == 1
        ? MetricFamily.Number(BitConverter.Int64BitsToDouble(Interlocked.Read(ref _fractionBits)) + Interlocked.Read(ref _whole))
        : Interlocked.Read(ref _whole).ToString(CultureInfo.InvariantCulture);

    public void WriteLabels(StringBuilder text, string? le)
    {
        if (names.Length == 0 && le is null)
        {
            return;
        }
        text.Append('{');
        for (var i = 0; i < names.Length; i++)
        {
            text.Append(i == 0 ? "" : ",").Append(names[i]).Append("=\"");
            foreach (var c in values[i])
            {
                _ = c switch
                {
                    '\\' => text.Append("\\\\"),
                    '"' => text.Append("\\\""),
                    '\n' => text.Append("\\n"),
                    _ => text.Append(c),
                };
            }
            text.Append('"');
        }
        if (le is not null)
        {
            text.Append(names.Length == 0 ? "" : ",").Append("le=\"").Append(le).Append('"');
        }
        text.Append('}');
    }

    private static void AddDouble(ref long bits, double value)
    {
        long seen, next;
        do
        {
            seen = Interlocked.Read(ref bits);
            next = BitConverter.DoubleToInt64Bits(BitConverter.Int64BitsToDouble(seen) + value);
        }
        while (Interlocked.CompareExchange(ref bits, next, seen) != seen);
    }
}

/// <summary>A measurement as recorded: a whole number (kept exact, as cost in micro-dollars must be) or a fraction.</summary>
internal readonly struct MetricValue
{
    public MetricValue(long whole) => (Whole, IsWhole) = (whole, true);

    public MetricValue(double fraction) => Fraction = fraction;

    public long Whole { get; }
    public double Fraction { get; }
    public bool IsWhole { get; }
    public double AsDouble => IsWhole ? Whole : Fraction;
}
