using System.Collections.Frozen;
using System.Collections.Immutable;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Routing;

/// <summary>
/// The compiled <c>models</c> section: exact aliases in a frozen dictionary (looked up by span, no
/// string allocated), then <c>prefix*</c> patterns longest first, then <c>*</c>. Immutable; a reload
/// compiles a new table.
/// </summary>
public sealed class ModelAliasTable
{
    private readonly FrozenDictionary<string, ModelTarget> _exact;
    private readonly FrozenDictionary<string, ModelTarget>.AlternateLookup<ReadOnlySpan<char>> _exactBySpan;
    private readonly (string Prefix, ModelTarget Target)[] _prefixes;
    private readonly ModelTarget? _fallback;

    private ModelAliasTable(ImmutableArray<string> providers, FrozenDictionary<string, ModelTarget> exact,
        (string, ModelTarget)[] prefixes, ModelTarget? fallback)
    {
        Providers = providers;
        _exact = exact;
        _exactBySpan = exact.GetAlternateLookup<ReadOnlySpan<char>>();
        _prefixes = prefixes;
        _fallback = fallback;
    }

    /// <summary>Provider names, indexed by <see cref="ModelTarget.ProviderIndex"/>.</summary>
    public ImmutableArray<string> Providers { get; }

    /// <summary>The exact aliases, for <c>GET /v1/models</c>.</summary>
    public IEnumerable<KeyValuePair<string, ModelTarget>> Aliases => _exact;

    public static ModelAliasTable Compile(GatewayConfig config)
    {
        var providers = config.Providers.Keys.Order(StringComparer.Ordinal).ToImmutableArray();
        ModelTarget Target(ModelConfig m) => ModelTarget.Create(providers.IndexOf(m.Provider), m.UpstreamModel);

        var exact = new Dictionary<string, ModelTarget>(StringComparer.Ordinal);
        var prefixes = new List<(string, ModelTarget)>();
        ModelTarget? fallback = null;
        foreach (var model in config.Models)
        {
            if (model.Pattern == "*")
            {
                fallback = Target(model);
            }
            else if (model.IsPattern)
            {
                prefixes.Add((model.Pattern[..^1], Target(model)));
            }
            else
            {
                exact[model.Pattern] = Target(model);
            }
        }
        var ordered = prefixes.OrderByDescending(p => p.Item1.Length).ToArray();
        return new ModelAliasTable(providers, exact.ToFrozenDictionary(StringComparer.Ordinal), ordered, fallback);
    }

    /// <summary>Finds where <paramref name="model"/> goes; false when no alias, pattern or <c>*</c> matches.</summary>
    public bool TryResolve(ReadOnlySpan<char> model, out ModelTarget target)
    {
        if (_exactBySpan.TryGetValue(model, out target!))
        {
            return true;
        }
        foreach (var (prefix, prefixTarget) in _prefixes)
        {
            if (model.StartsWith(prefix, StringComparison.Ordinal))
            {
                target = prefixTarget;
                return true;
            }
        }
        target = _fallback!;
        return _fallback is not null;
    }
}
