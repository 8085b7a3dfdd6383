using System.Runtime.CompilerServices;

namespace OctoMesh.Edge.Telemetry;

/// <summary>
/// A measurement's label values as a dictionary key built without allocating: up to
/// <see cref="MaxLabels"/> string references held inline, compared by value. Labels past that are ignored.
/// </summary>
internal struct LabelKey : IEquatable<LabelKey>
{
    public const int MaxLabels = 8;

    private Values _values;
    private int _count;
    private int _hash;

    public LabelKey(ReadOnlySpan<string> values)
    {
        var hash = s_seed;
        _count = Math.Min(values.Length, MaxLabels);
        for (var i = 0; i < _count; i++)
        {
            _values[i] = values[i];
            hash = Mix(hash, values[i]);
        }
        _hash = (int)(hash ^ (hash >> 32));
    }

    /// <summary>Per process, so label values cannot be chosen to collide (a client picks model names that become labels).</summary>
    /// <remarks>From the kernel's random source through <see cref="Guid.NewGuid"/>, which needs no OpenSSL loaded at start.</remarks>
    private static readonly ulong s_seed = BitConverter.ToUInt64(Guid.NewGuid().ToByteArray());

    /// <summary>
    /// Folds a value into the hash four UTF-16 units at a time: several times faster than the framework's string hash
    /// for the short names labels carry, which matters at a dozen measurements per request.
    /// </summary>
    private static ulong Mix(ulong hash, string text)
    {
        const ulong Multiplier = 0x9E3779B97F4A7C15;
        var chars = text.AsSpan();
        var words = System.Runtime.InteropServices.MemoryMarshal.Cast<char, ulong>(chars);
        foreach (var word in words)
        {
            hash = (hash ^ word) * Multiplier;
            hash ^= hash >> 29;
        }
        foreach (var c in chars[(words.Length * 4)..])
        {
            hash = (hash ^ c) * Multiplier;
        }
        hash = (hash ^ (ulong)chars.Length) * Multiplier;
        return hash ^ (hash >> 32);
    }

    public readonly bool Equals(LabelKey other)
    {
        if (_count != other._count || _hash != other._hash)
        {
            return false;
        }
        for (var i = 0; i < _count; i++)
        {
            if (!string.Equals(_values[i], other._values[i], StringComparison.Ordinal))
            {
                return false;
            }
        }
        return true;
    }

    public override readonly bool Equals(object? obj) => obj is LabelKey other && Equals(other);

    public override readonly int GetHashCode() => _hash;

    [InlineArray(MaxLabels)]
    private struct Values
    {
        private string? _first;
    }
}
