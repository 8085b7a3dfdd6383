using System.Collections.Concurrent;

namespace OctoMesh.Routing.Pricing;

/// <summary>
/// Prices by upstream model name: the configuration's <c>prices</c> over the dated defaults
/// (<see cref="DefaultPrices"/>), as exact names, <c>prefix*</c> patterns (longest first) and <c>*</c>.
/// Immutable, built off the hot path and swapped with the rest of the configuration.
/// </summary>
public sealed class PriceTable
{
    /// <summary>Model names whose lookup is remembered; past this (client-chosen names without end) lookups just run.</summary>
    private const int MaxRemembered = 4096;

    private readonly ModelNameTable<ModelPrice> _prices;
    /// <summary>Each model name priced so far and its price (null: none), so a dated name skips the pattern scan next time.</summary>
    private readonly ConcurrentDictionary<string, ModelPrice?> _resolved = new(StringComparer.Ordinal);

    /// <param name="configured">The configuration's prices; each wins over a default for the same pattern.</param>
    public PriceTable(IEnumerable<(string Pattern, ModelPrice Price)> configured)
    {
        _prices = new ModelNameTable<ModelPrice>(DefaultPrices.All.Concat(configured));
    }

    public static PriceTable Defaults { get; } = new([]);

    /// <summary>The price of <paramref name="model"/> (the name the provider bills), or false when it has none.</summary>
    public bool TryFind(string model, out ModelPrice price)
    {
        if (_resolved.TryGetValue(model, out var known))
        {
            price = known.GetValueOrDefault();
            return known.HasValue;
        }
        var found = _prices.TryFind(model, out price);
        if (_resolved.Count < MaxRemembered)
        {
            _resolved.TryAdd(model, found ? price : null);
        }
        return found;
    }
}
