// The latency of a tiny step — x[1, 64] · W[64, 64] then tanh, forward and forward + backward — with and without a
// TensorScope (the unscoped step is the baseline), and the bytes each allocates (MemoryDiagnoser: a scoped warm step
// allocates none).
using BenchmarkDotNet.Attributes;
using Engram.Tensors;

namespace Engram.Benchmarks;

[MemoryDiagnoser]
public class StepBenchmarks
{
    Tensor _x = null!, _w = null!;

    [GlobalSetup]
    public void Setup()
    {
        var g = new Generator(1);
        _x = Tensor.Randn(g, [1, 64]);
        _w = Tensor.Randn(g, [64, 64], 0, 0.125).RequireGrad();
    }

    [Benchmark]
    public float Forward()
    {
        using var _ = Autograd.NoGrad();
        return Tensor.Matmul(_x, _w).Tanh().AsSpanF32()[0];
    }

    [Benchmark(Baseline = true)]
    public void ForwardBackward() => Step();

    [Benchmark]
    public void ForwardBackwardScoped()
    {
        using var scope = TensorScope.Begin();
        Step();
    }

    void Step()
    {
        Tensor.Matmul(_x, _w).Tanh().Sum().Backward();
        Tensor.ZeroGradients([_w], setToNone: false); // as a training loop's ZeroGrad(): the buffer is kept
    }
}
