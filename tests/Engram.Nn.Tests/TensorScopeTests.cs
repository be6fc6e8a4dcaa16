// TensorScope: a training step inside a scope gives bit-identical results, reuses storage instead of allocating
// it (a property measured with the GC's allocation counter, not a timing), keeps leaf gradients and optimizer
// state alive, and refuses use of a tensor after its scope ended.
using Engram.Tensors;
using Engram.Tensors.Optim;

namespace Engram.Nn.Tests;

public class TensorScopeTests(Xunit.Abstractions.ITestOutputHelper output)
{
    sealed class Net : Module
    {
        readonly TransformerBlock _block;
        public Net(Generator g) => _block = RegisterModule("block", new TransformerBlock(64, 4, g, NormPlacement.Pre, AttentionMask.Causal));
        public Tensor Forward(Tensor x) => _block.Forward(x);
    }

    static (float[][] Weights, long[] AllocatedPerStep) Train(bool scoped, int steps)
    {
        var g = new Generator(8);
        var net = new Net(g);
        var opt = new AdamW(net.Parameters(), lr: 1e-3);
        var x = Tensor.Randn(g, [4, 32, 64]);
        var targets = Enumerable.Range(0, 4 * 32).Select(i => i % 64).ToArray();
        var allocated = new long[steps];
        int saved = Engine.MaxThreads;
        Engine.MaxThreads = 1; // GetAllocatedBytesForCurrentThread then sees every allocation of the step
        try
        {
            for (int s = 0; s < steps; s++)
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                using (scoped ? TensorScope.Begin() : null)
                {
                    opt.ZeroGrad();
                    var loss = Functional.CrossEntropy(net.Forward(x), targets);
                    loss.Backward();
                    Optimizer.ClipGradNorm(net.Parameters(), 1.0);
                    opt.Step();
                }
                allocated[s] = GC.GetAllocatedBytesForCurrentThread() - before;
            }
        }
        finally { Engine.MaxThreads = saved; }
        return (net.Parameters().Select(p => p.ToFloatArray()).ToArray(), allocated);
    }

    [Fact]
    public void ScopedTrainingIsIdenticalAndRecyclesStorage()
    {
        var plain = Train(false, 5); var scoped = Train(true, 5);
        for (int i = 0; i < plain.Weights.Length; i++) Assert.True(plain.Weights[i].AsSpan().SequenceEqual(scoped.Weights[i]), $"parameter {i} differs with a scope");
        long plainSteady = plain.AllocatedPerStep[^1], scopedSteady = scoped.AllocatedPerStep[^1];
        output.WriteLine($"bytes allocated by the 5th step: {plainSteady} without a scope, {scopedSteady} with one");
        Assert.True(scopedSteady * 20 < plainSteady, $"a scoped step allocated {scopedSteady} bytes, an unscoped one {plainSteady}: storage is not being reused");
    }

    [Fact]
    public void UsingATensorAfterItsScopeIsAClearError()
    {
        Tensor escaped;
        using (TensorScope.Begin()) escaped = Tensor.Ones(2000) * 2.0;
        var ex = Assert.Throws<EngramException>(() => escaped.Sum());
        Assert.Contains("after the TensorScope", ex.Message);
        Assert.Throws<EngramException>(() => escaped.Item());
        Tensor kept;
        using (TensorScope.Begin())
        using (TensorScope.Suspend()) kept = Tensor.Ones(2000) * 2.0;
        Assert.Equal(4000, kept.Sum().Item());
    }

    [Fact]
    public void LeafGradientsAndOptimizerStateOutliveTheScope()
    {
        var w = Tensor.Ones(3000).RequireGrad();
        var opt = new Adam([w], lr: 0.1);
        using (TensorScope.Begin()) { (w * w).Sum().Backward(); opt.Step(); }
        Assert.Equal(2, w.Grad!.ToDoubleArray()[0]);
        using (TensorScope.Begin()) { (w * 3.0).Sum().Backward(); opt.Step(); } // accumulates into the same buffer
        Assert.Equal(5, w.Grad!.ToDoubleArray()[0]);
        Assert.Equal(2, opt.StepCount);
    }
}
