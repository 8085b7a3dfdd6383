using BenchmarkDotNet.Running;
using OctoMesh.Bench;

BenchmarkSwitcher.FromAssembly(typeof(BenchConfig).Assembly).Run(args, new BenchConfig());
