using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;

namespace OctoMesh.Bench;

/// <summary>One configuration for every benchmark: allocations measured, a short but stable job.</summary>
public sealed class BenchConfig : ManualConfig
{
    public BenchConfig()
    {
        Add(DefaultConfig.Instance);
        AddJob(Job.Default.WithWarmupCount(3).WithIterationCount(10).WithId("OctoMesh"));
        AddDiagnoser(MemoryDiagnoser.Default);
        Options |= ConfigOptions.JoinSummary;
        WithOrderer(new BenchmarkDotNet.Order.DefaultOrderer(BenchmarkDotNet.Order.SummaryOrderPolicy.Declared));
        AddLogicalGroupRules(BenchmarkLogicalGroupRule.ByCategory);
    }
}
