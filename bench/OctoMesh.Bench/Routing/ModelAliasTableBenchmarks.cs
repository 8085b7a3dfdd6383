using System.Collections.Immutable;
using BenchmarkDotNet.Attributes;
using OctoMesh.Routing;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Bench.Routing;

/// <summary>Step 3 today: a model name to its provider through 1,000 aliases and 50 prefix patterns.</summary>
public class ModelAliasTableBenchmarks
{
    private ModelAliasTable _table = null!;

    [GlobalSetup]
    public void Setup()
    {
        var models = Enumerable.Range(0, 1000).Select(i => new ModelConfig($"alias-{i}", "p", $"upstream-{i}"))
            .Concat(Enumerable.Range(0, 50).Select(i => new ModelConfig($"family{i}-*", "p", null)))
            .Append(new ModelConfig("*", "p", null));
        _table = ModelAliasTable.Compile(new GatewayConfig
        {
            Providers = ImmutableDictionary<string, ProviderConfig>.Empty.Add("p",
                new ProviderConfig("p", ProviderKind.Sim, null, null, UpstreamHttpVersion.Http11, TimeoutsConfig.Default)),
            Models = [.. models],
        });
    }

    [Benchmark(Baseline = true)]
    public bool ExactAlias() => _table.TryResolve("alias-517", out _);

    [Benchmark]
    public bool PrefixPattern() => _table.TryResolve("family42-large", out _);

    [Benchmark]
    public bool FallbackStar() => _table.TryResolve("unknown-model", out _);
}
