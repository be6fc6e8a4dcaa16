// GEMM: the packed, blocked kernel against its naive reference, Gemm.Reference (the baseline) at square sizes; the ratio column is the
// speed-up. Both give the same bits (tests/Engram.Tensors.Tests/KernelTests.cs).
using BenchmarkDotNet.Attributes;
using Engram.Tensors;
using Engram.Tensors.Kernels;

namespace Engram.Benchmarks;

[MemoryDiagnoser]
public class GemmBenchmarks
{
    [Params(64, 256)]
    public int N { get; set; }

    float[] _a = [], _b = [], _c = [];

    [GlobalSetup]
    public void Setup()
    {
        var g = new Generator(1);
        _a = Tensor.Randn(g, [N, N]).ToFloatArray();
        _b = Tensor.Randn(g, [N, N]).ToFloatArray();
        _c = new float[N * N];
    }

    [Benchmark(Baseline = true)]
    public void Reference()
        => Gemm.Reference(N, N, N, new MatrixView<float>(_a, 0, N, 1), new MatrixView<float>(_b, 0, N, 1), _c, N, false);

    [Benchmark]
    public void Blocked() => Gemm.Run(N, N, N, new MatrixView<float>(_a, 0, N, 1), new MatrixView<float>(_b, 0, N, 1), _c, N, false);
}
