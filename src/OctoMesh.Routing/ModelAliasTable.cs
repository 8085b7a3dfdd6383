using System.Collections.Immutable;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Routing;

/// <summary>
/// The compiled <c>models</c> section: where each model name a client sends goes (exact aliases, then
/// <c>prefix*</c> patterns longest first, then <c>*</c>). Immutable; a reload compiles a new table.
/// </summary>
public sealed class ModelAliasTable
{
    private readonly ModelNameTable<ModelTarget> _targets;

    private ModelAliasTable(ImmutableArray<string> providers, ModelNameTable<ModelTarget> targets)
    {
        Providers = providers;
        _targets = targets;
    }

    /// <summary>Provider names, indexed by <see cref="ModelTarget.ProviderIndex"/>.</summary>
    public ImmutableArray<string> Providers { get; }

    /// <summary>The exact aliases, for <c>GET /v1/models</c>.</summary>
    public IEnumerable<KeyValuePair<string, ModelTarget>> Aliases => _targets.Exact;

    public static ModelAliasTable Compile(GatewayConfig config)
    {
        var providers = config.Providers.Keys.Order(StringComparer.Ordinal).ToImmutableArray();
        return new ModelAliasTable(providers, new ModelNameTable<ModelTarget>(
            config.Models.Select(m => (m.Pattern, ModelTarget.Create(providers.IndexOf(m.Provider), m.UpstreamModel)))));
    }

    /// <summary>Finds where <paramref name="model"/> goes; false when no alias, pattern or <c>*</c> matches.</summary>
    public bool TryResolve(ReadOnlySpan<char> model, out ModelTarget target) => _targets.TryFind(model, out target);
}
