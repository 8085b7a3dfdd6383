namespace OctoMesh.Routing.Pricing;

/// <summary>
/// Prices by upstream model name: the configuration's <c>prices</c> over the dated defaults
/// (<see cref="DefaultPrices"/>), as exact names, <c>prefix*</c> patterns (longest first) and <c>*</c>.
/// Immutable, built off the hot path and swapped with the rest of the configuration.
/// </summary>
public sealed class PriceTable
{
    private readonly ModelNameTable<ModelPrice> _prices;

    /// <param name="configured">The configuration's prices; each wins over a default for the same pattern.</param>
    public PriceTable(IEnumerable<(string Pattern, ModelPrice Price)> configured)
    {
        _prices = new ModelNameTable<ModelPrice>(DefaultPrices.All.Concat(configured));
    }

    public static PriceTable Defaults { get; } = new([]);

    /// <summary>The price of <paramref name="model"/> (the name the provider bills), or false when it has none.</summary>
    public bool TryFind(ReadOnlySpan<char> model, out ModelPrice price) => _prices.TryFind(model, out price);
}
