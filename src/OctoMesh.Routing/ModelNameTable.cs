using System.Collections.Concurrent;
using System.Collections.Frozen;

namespace OctoMesh.Routing;

/// <summary>
/// Values by model name, as the <c>models</c> and <c>prices</c> sections write them: exact names in a frozen
/// dictionary (looked up by span, no string allocated), then <c>prefix*</c> patterns longest first, then
/// <c>*</c>. Names that took the pattern scan are remembered (up to <see cref="MaxRemembered"/>), so a dated or
/// client-chosen name scans once. A reload builds a new table.
/// </summary>
public sealed class ModelNameTable<T> where T : notnull
{
    private readonly FrozenDictionary<string, T> _exact;
    private readonly FrozenDictionary<string, T>.AlternateLookup<ReadOnlySpan<char>> _exactBySpan;
    private readonly (string Prefix, T Value)[] _prefixes;
    private readonly (bool Present, T Value) _fallback;

    /// <summary>Names remembered from the pattern scan; past this (client-chosen names without end) the scan just runs.</summary>
    public const int MaxRemembered = 4096;

    private readonly ConcurrentDictionary<string, (bool Found, T Value)> _scanned = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (bool Found, T Value)>.AlternateLookup<ReadOnlySpan<char>> _scannedBySpan;

    /// <param name="entries">Exact names, <c>prefix*</c> patterns and <c>*</c>; a later entry for the same pattern wins.</param>
    public ModelNameTable(IEnumerable<(string Pattern, T Value)> entries)
    {
        var exact = new Dictionary<string, T>(StringComparer.Ordinal);
        var prefixes = new Dictionary<string, T>(StringComparer.Ordinal);
        foreach (var (pattern, value) in entries)
        {
            if (pattern == "*")
            {
                _fallback = (true, value);
            }
            else if (pattern.EndsWith('*'))
            {
                prefixes[pattern[..^1]] = value;
            }
            else
            {
                exact[pattern] = value;
            }
        }
        _exact = exact.ToFrozenDictionary(StringComparer.Ordinal);
        _exactBySpan = _exact.GetAlternateLookup<ReadOnlySpan<char>>();
        _prefixes = prefixes.OrderByDescending(p => p.Key.Length).ThenBy(p => p.Key, StringComparer.Ordinal).Select(p => (p.Key, p.Value)).ToArray();
        _scannedBySpan = _scanned.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>The exact names.</summary>
    public IEnumerable<KeyValuePair<string, T>> Exact => _exact;

    /// <summary>The value for <paramref name="name"/>: its exact entry, else the longest matching prefix, else <c>*</c>.</summary>
    public bool TryFind(ReadOnlySpan<char> name, out T value)
    {
        if (_exactBySpan.TryGetValue(name, out value!))
        {
            return true;
        }
        if (_scannedBySpan.TryGetValue(name, out var known))
        {
            value = known.Value;
            return known.Found;
        }
        var found = Scan(name, out value);
        if (_scanned.Count < MaxRemembered)
        {
            _scannedBySpan.TryAdd(name, (found, value));
        }
        return found;
    }

    private bool Scan(ReadOnlySpan<char> name, out T value)
    {
        foreach (var (prefix, prefixValue) in _prefixes)
        {
            if (name.StartsWith(prefix, StringComparison.Ordinal))
            {
                value = prefixValue;
                return true;
            }
        }
        value = _fallback.Value;
        return _fallback.Present;
    }
}
