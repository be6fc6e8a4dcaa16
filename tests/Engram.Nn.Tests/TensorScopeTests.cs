// TensorScope: a training step inside a scope gives bit-identical results and, once warm, allocates no managed
// memory at all (a property measured with the GC's per-thread allocation counter, not a timing); leaf gradients
// and optimizer state outlive the scope; a tensor used after its scope ended is a clear error; recycled objects
// never stand in for a tensor that is still referenced as a gradient.
using Engram.Tensors;
using Engram.Tensors.Optim;

namespace Engram.Nn.Tests;

public class TensorScopeTests(Xunit.Abstractions.ITestOutputHelper output)
{
    sealed class Net : Module
    {
        readonly TransformerBlock _block;
        public Net(Generator g, int hidden)
            => _block = RegisterModule("block", new TransformerBlock(hidden, 4, g, NormPlacement.Pre, AttentionMask.Causal));
        public Tensor Forward(Tensor x) => _block.Forward(x);
    }

    /// <summary>Trains a small Transformer block (forward, cross-entropy, backward, gradient clipping, AdamW) and records
    /// the bytes the calling thread allocated in each step.</summary>
    static (float[][] Weights, long[] AllocatedPerStep) Train(bool scoped, int steps, int threads, int hidden = 64, int tokens = 32)
    {
        var g = new Generator(8);
        var net = new Net(g, hidden);
        var opt = new AdamW(net.Parameters(), lr: 1e-3);
        var x = Tensor.Randn(g, [4, tokens, hidden]);
        var targets = Enumerable.Range(0, 4 * tokens).Select(i => i % hidden).ToArray();
        var allocated = new long[steps];
        int saved = Engine.MaxThreads;
        bool recycling = TensorScope.RecycleObjects;
        Engine.MaxThreads = threads; // the worker team's threads allocate nothing either, but only this thread is counted
        TensorScope.RecycleObjects = true; // whatever ENGRAM_RECYCLE_OBJECTS says
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
                    Optimizer.ClipGradNorm(opt.Parameters, 1.0);
                    opt.Step();
                }
                allocated[s] = GC.GetAllocatedBytesForCurrentThread() - before;
            }
        }
        finally { Engine.MaxThreads = saved; TensorScope.RecycleObjects = recycling; }
        return (net.Parameters().Select(p => p.ToFloatArray()).ToArray(), allocated);
    }

    [Fact]
    public void ScopedTrainingIsIdenticalToUnscoped()
    {
        var plain = Train(false, 5, 1); var scoped = Train(true, 5, 1);
        for (int i = 0; i < plain.Weights.Length; i++)
            Assert.True(plain.Weights[i].AsSpan().SequenceEqual(scoped.Weights[i]), $"parameter {i} differs with a scope");
        output.WriteLine($"bytes allocated by the 5th step: {plain.AllocatedPerStep[^1]} without a scope, " +
            $"{scoped.AllocatedPerStep[^1]} with one");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void ASteadyStateTrainingStepAllocatesNothing(int threads)
    {
        // hidden 128 × 256 tokens: large enough that the products and the attention run on the worker team with 2 threads
        var (_, allocated) = Train(true, 8, threads, hidden: 128, tokens: 64);
        output.WriteLine($"bytes allocated per step ({threads} threads): {string.Join(", ", allocated)}");
        Assert.True(allocated[0] > 0, "the first step fills the pools, so it must allocate (is the counter working?)");
        for (int s = 3; s < allocated.Length; s++)
            Assert.True(allocated[s] == 0, $"step {s + 1} allocated {allocated[s]} bytes after warm-up");
    }

    [Fact]
    public void AnUnscopedStepDoesAllocate()
    {
        // the counter sees what the scope saves: the same step without one allocates its tensors every time
        var (_, allocated) = Train(false, 4, 1);
        Assert.True(allocated[^1] > 100_000, $"an unscoped step allocated only {allocated[^1]} bytes");
    }

    [Fact]
    public void AScopeRecyclesTensorObjectsAndTheirShapes()
    {
        bool recycling = TensorScope.RecycleObjects;
        TensorScope.RecycleObjects = true;
        try { RecyclesObjects(); }
        finally { TensorScope.RecycleObjects = recycling; }
    }

    static void RecyclesObjects()
    {
        Tensor first;
        using (TensorScope.Begin()) first = Tensor.Zeros(3, 4) + 1.0;
        Tensor second;
        using (TensorScope.Begin()) second = Tensor.Zeros(5) * 2.0;
        using (TensorScope.Begin())
        {
            var made = Enumerable.Range(0, 8).Select(_ => Tensor.Ones(2, 2)).ToList();
            Assert.Contains(made, t => ReferenceEquals(t, first)); // objects of the same rank come back from the pool…
            foreach (var t in made) Assert.Equal(new[] { 2, 2 }, t.Shape.ToArray()); // …with their own shape, not the old one
        }
    }

    [Fact]
    public void AGradientWithAGraphIsNeverRecycled()
    {
        var w = Tensor.FromArray([1.0f, 2.0f, 3.0f], 3).RequireGrad();
        Tensor grad;
        using (TensorScope.Begin())
        {
            (w * w).Sum().Backward(createGraph: true); // w.Grad is a scoped tensor with a graph
            grad = w.Grad!;
        }
        using (TensorScope.Begin())
            for (int i = 0; i < 50; i++)
                Assert.False(ReferenceEquals(grad, Tensor.Zeros(3) + 1.0), "a tensor held as .Grad was handed out again");
        Assert.Throws<EngramException>(() => grad.Item());
        w.Grad = null;
    }

    [Fact]
    public void WithoutRecyclingEveryLateUseIsReported()
    {
        bool saved = TensorScope.RecycleObjects;
        TensorScope.RecycleObjects = false;
        try
        {
            Tensor escaped;
            using (TensorScope.Begin()) escaped = Tensor.Ones(40) * 2.0;
            using (TensorScope.Begin()) for (int i = 0; i < 20; i++) _ = Tensor.Ones(40) * 3.0;
            var ex = Assert.Throws<EngramException>(() => escaped.Sum());
            Assert.Contains("after the TensorScope", ex.Message);
        }
        finally { TensorScope.RecycleObjects = saved; }
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
