// The fused attention kernel against its reference (Functional.AttentionReference): outputs and all three gradients, every mask,
// lengths that do not fill a tile, fewer queries than keys; and the createGraph fallback.
using Engram.Tensors.Kernels;

namespace Engram.Tensors.Tests;

[Trait("Category", "Kernels")]
public class AttentionTests
{
    static (double[] O, double[][] Grads) Run(bool fused, int b, int h, int tq, int tk, int d, int dv, AttentionMask mask, int window,
        ulong seed)
    {
        var g = new Generator(seed);
        var q = Tensor.Randn(g, [b, h, tq, d]).RequireGrad();
        var k = Tensor.Randn(g, [b, h, tk, d]).RequireGrad();
        var v = Tensor.Randn(g, [b, h, tk, dv]).RequireGrad();
        var w = Tensor.Randn(g, [b, h, tq, dv]);
        bool saved = Functional.UseFused;
        Functional.UseFused = fused;
        try
        {
            var o = Functional.ScaledDotProductAttention(q, k, v, mask, window);
            Assert.Equal(fused ? "attention" : "matmul", o.Op);
            (o * w).Sum().Backward();
            return (o.ToDoubleArray(), [q.Grad!.ToDoubleArray(), k.Grad!.ToDoubleArray(), v.Grad!.ToDoubleArray()]);
        }
        finally { Functional.UseFused = saved; }
    }

    static void Close(double[] expected, double[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = Math.Max(1, expected.Max(Math.Abs));
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 2e-5 * scale, $"{what}[{i}]: reference {expected[i]}, fused {actual[i]}");
    }

    public static TheoryData<int, int, int, int, AttentionMask, int> Shapes() => new()
    {
        { 1, 1, 8, 4, AttentionMask.None, 0 },
        { 2, 3, 70, 16, AttentionMask.None, 0 },
        { 2, 3, 70, 16, AttentionMask.Causal, 0 },
        { 1, 2, 130, 8, AttentionMask.Causal, 0 },
        { 1, 2, 150, 8, AttentionMask.SlidingWindow, 1 },
        { 1, 2, 150, 8, AttentionMask.SlidingWindow, 5 },
        { 1, 2, 150, 8, AttentionMask.SlidingWindow, 64 },
        { 1, 2, 200, 12, AttentionMask.SlidingWindow, 100 },
        { 1, 1, 81, 64, AttentionMask.None, 0 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void FusedMatchesReference(int b, int h, int t, int d, AttentionMask mask, int window)
    {
        var reference = Run(false, b, h, t, t, d, d + 1, mask, window, 1);
        var fused = Run(true, b, h, t, t, d, d + 1, mask, window, 1);
        Close(reference.O, fused.O, "output");
        for (int i = 0; i < 3; i++) Close(reference.Grads[i], fused.Grads[i], "dq dk dv".Split(' ')[i]);
    }

    [Theory]
    [InlineData(AttentionMask.None, 0)]
    [InlineData(AttentionMask.Causal, 0)]
    [InlineData(AttentionMask.SlidingWindow, 7)]
    public void FewerQueriesThanKeysAlignToTheEnd(AttentionMask mask, int window)
    {
        var reference = Run(false, 1, 2, 37, 100, 8, 8, mask, window, 2);
        var fused = Run(true, 1, 2, 37, 100, 8, 8, mask, window, 2);
        Close(reference.O, fused.O, "output");
        for (int i = 0; i < 3; i++) Close(reference.Grads[i], fused.Grads[i], "grad");
    }

    [Fact]
    public void MoreQueriesThanKeysWithAMaskIsAnError()
    {
        var q = Tensor.Zeros(1, 5, 4); var k = Tensor.Zeros(1, 3, 4);
        var ex = Assert.Throws<ShapeMismatchException>(() => Functional.ScaledDotProductAttention(q, k, k, AttentionMask.Causal));
        Assert.Contains("at least as many keys", ex.Message);
    }

    [Fact]
    public void CreateGraphFallsBackToDifferentiableGradients()
    {
        var g = new Generator(3);
        var q = Tensor.Randn(g, [1, 9, 4]).RequireGrad(); var k = Tensor.Randn(g, [1, 9, 4]).RequireGrad();
        var v = Tensor.Randn(g, [1, 9, 4]).RequireGrad();
        Tensor SecondOrder(bool fused)
        {
            Functional.UseFused = fused;
            try
            {
                var o = Functional.ScaledDotProductAttention(q, k, v, AttentionMask.Causal);
                var gq = Autograd.Grad([(o * o).Sum()], [q], createGraph: true)[0];
                Assert.True(gq.RequiresGrad);
                return Autograd.Grad([gq.Square().Sum()], [k])[0];
            }
            finally { Functional.UseFused = true; }
        }
        Close(SecondOrder(false).ToDoubleArray(), SecondOrder(true).ToDoubleArray(), "d/dk of |dq|²");
    }

    [Fact]
    public void ThreadCountDoesNotChangeResults()
    {
        int saved = Engine.MaxThreads;
        try
        {
            Engine.MaxThreads = 1; var one = Run(true, 2, 4, 300, 300, 32, 32, AttentionMask.Causal, 0, 5);
            Engine.MaxThreads = 2; var two = Run(true, 2, 4, 300, 300, 32, 32, AttentionMask.Causal, 0, 5);
            Assert.Equal(one.O, two.O);
            for (int i = 0; i < 3; i++) Assert.Equal(one.Grads[i], two.Grads[i]);
        }
        finally { Engine.MaxThreads = saved; }
    }

    [Fact]
    public void VisibleKeysFollowTheMaskRules()
    {
        Assert.Equal((0, 9), FlashAttention.VisibleKeys(3, 10, 10, AttentionMask.None, 0));
        Assert.Equal((0, 3), FlashAttention.VisibleKeys(3, 10, 10, AttentionMask.Causal, 0));
        Assert.Equal((2, 3), FlashAttention.VisibleKeys(3, 10, 10, AttentionMask.SlidingWindow, 2));
        Assert.Equal((0, 5), FlashAttention.VisibleKeys(0, 5, 10, AttentionMask.Causal, 0)); // aligned to the end
    }
}
