using System.Collections.Concurrent;

namespace OctoMesh.Edge.Telemetry;

/// <summary>
/// A prometheus-net metric's labelled children, found by their label values without allocating (prometheus-net's own
/// <c>WithLabels</c> takes a lock and hashes on every call), and at most <c>maxSeries</c> of them: label sets past that
/// are counted together under <see cref="Overflow"/> values, so client-chosen model names cannot grow memory without bound.
/// </summary>
internal sealed class BoundedSeries<TChild>(Func<string[], TChild> create, int maxSeries) where TChild : class
{
    /// <summary>The value of every label in the one series that takes measurements past the limit.</summary>
    public const string Overflow = "_other_";

    private readonly ConcurrentDictionary<LabelKey, TChild> _children = new();

    public TChild this[params ReadOnlySpan<string> values]
    {
        get
        {
            var key = new LabelKey(values);
            return _children.TryGetValue(key, out var child) ? child : Add(key, values);
        }
    }

    private TChild Add(LabelKey key, ReadOnlySpan<string> values)
    {
        var labels = values.ToArray();
        if (_children.Count >= maxSeries)
        {
            Array.Fill(labels, Overflow);
            key = new LabelKey(labels);
        }
        return _children.GetOrAdd(key, static (_, arg) => arg.create(arg.labels), (create, labels));
    }
}
