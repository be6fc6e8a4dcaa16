// Micro-benchmarks of the engine (BenchmarkDotNet): GEMM against its reference, the latency of a tiny step, the
// allocation of a scoped training step. Run: dotnet run -c Release --project bench/Engram.Benchmarks -- --filter '*'
using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(Engram.Benchmarks.GemmBenchmarks).Assembly).Run(args);
