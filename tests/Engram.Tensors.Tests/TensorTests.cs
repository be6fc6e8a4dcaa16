// Tensor behaviour: views share storage, broadcasting, reductions, indexing, and errors that name the op and shapes.
namespace Engram.Tensors.Tests;

public class TensorTests
{
    static Tensor T(double[] v, params int[] shape) => Tensor.FromArray(v, shape);

    [Fact]
    public void ViewsShareStorageAndContiguousCopies()
    {
        var x = Tensor.Arange(12).Reshape(3, 4);
        var t = x.Transpose(0, 1);
        Assert.False(t.IsContiguous);
        Assert.Equal(new[] { 4, 3 }, t.Shape.ToArray());
        Assert.Equal(x[1, 2], t[2, 1]);
        x[1, 2] = 100;
        Assert.Equal(100, t[2, 1]); // a view, not a copy
        var c = t.Contiguous();
        Assert.True(c.IsContiguous);
        Assert.Equal(new double[] { 0, 4, 8, 1, 5, 9 }, c.ToDoubleArray().Take(6));
        var n = x.Narrow(1, 1, 2);
        Assert.Equal(new double[] { 1, 2, 5, 100, 9, 10 }, n.ToDoubleArray());
        var e = Tensor.FromArray(new float[] { 1, 2 }, 2, 1).Expand(2, 3);
        Assert.Equal(new double[] { 1, 1, 1, 2, 2, 2 }, e.ToDoubleArray());
        Assert.Equal(0, e.Strides[1]);
    }

    [Fact]
    public void BroadcastingFollowsNumpyRules()
    {
        var a = Tensor.Arange(3).Reshape(3, 1);
        var b = Tensor.Arange(4);
        var s = a * 10.0 + b;
        Assert.Equal(new[] { 3, 4 }, s.Shape.ToArray());
        Assert.Equal(23, s[2, 3]);
        var ex = Assert.Throws<ShapeMismatchException>(() => Tensor.Zeros(2, 3) + Tensor.Zeros(4));
        Assert.Contains("add", ex.Message); Assert.Contains("[2, 3]", ex.Message); Assert.Contains("[4]", ex.Message);
        var mm = Assert.Throws<ShapeMismatchException>(() => Tensor.Matmul(Tensor.Zeros(2, 3), Tensor.Zeros(4, 5)));
        Assert.Contains("matmul", mm.Message); Assert.Contains("[2, 3]", mm.Message); Assert.Contains("[4, 5]", mm.Message);
    }

    [Fact]
    public void ReductionsOverAnyAxes()
    {
        var x = Tensor.Arange(24).Reshape(2, 3, 4);
        Assert.Equal(276, x.Sum().Item());
        var s = x.Sum([0, 2], keepDim: true);
        Assert.Equal(new[] { 1, 3, 1 }, s.Shape.ToArray());
        Assert.Equal(new double[] { 0 + 1 + 2 + 3 + 12 + 13 + 14 + 15, 4 + 5 + 6 + 7 + 16 + 17 + 18 + 19,
            8 + 9 + 10 + 11 + 20 + 21 + 22 + 23 }, s.ToDoubleArray());
        Assert.Equal(new[] { 3, 3, 3, 3, 3, 3 }, x.Argmax(2).Select(i => i).ToArray());
        Assert.Equal(11.5, x.Mean().Item(), 5);
        Assert.Equal(50, x.Var().Item(), 4); // var of 0..23 with Bessel's correction
        var lse = T(new double[] { 1000, 1000 }, 2).LogSumExp(0).Item();
        Assert.Equal(1000 + Math.Log(2), lse, 3); // stable for large values
        var sm = T(new double[] { 1, 2, 3 }, 3).Softmax(0).ToDoubleArray();
        Assert.Equal(1, sm.Sum(), 12);
        Assert.Equal(0, Tensor.Zeros(0, 3).Sum().Item());
    }

    [Fact]
    public void IndexingOps()
    {
        var w = Tensor.Arange(6).Reshape(3, 2);
        Assert.Equal(new double[] { 4, 5, 0, 1, 4, 5 }, Tensor.Embedding(w, [2, 0, 2], 3).ToDoubleArray());
        Assert.Equal(new double[] { 1, 2, 5 }, w.Gather(1, [1, 0, 1], [3, 1]).ToDoubleArray());
        var sa = Tensor.Zeros(2, 2).ScatterAdd(0, [1, 1, 1, 0], [2, 2], Tensor.Ones(2, 2));
        Assert.Equal(new double[] { 0, 1, 2, 1 }, sa.ToDoubleArray());
        var masked = w.MaskedFill(w.Gt(2), -1);
        Assert.Equal(new double[] { 0, 1, 2, -1, -1, -1 }, masked.ToDoubleArray());
        var ex = Assert.Throws<ShapeMismatchException>(() => w.IndexSelect(0, [3]));
        Assert.Contains("IndexSelect", ex.Message);
    }

    [Fact]
    public void ConcatSplitChunkStack()
    {
        var a = Tensor.Arange(4).Reshape(2, 2); var b = Tensor.Arange(2).Reshape(2, 1);
        var c = Tensor.Concat([a, b], 1);
        Assert.Equal(new double[] { 0, 1, 0, 2, 3, 1 }, c.ToDoubleArray());
        var parts = c.Split([2, 1], 1);
        Assert.Equal(a.ToDoubleArray(), parts[0].ToDoubleArray());
        Assert.Equal(3, Tensor.Arange(7).Chunk(3, 0).Length);
        Assert.Equal(new[] { 2, 2, 2 }, Tensor.Stack([a, a], 1).Shape.ToArray());
    }

    [Fact]
    public void AttentionMasks()
    {
        var causal = Functional.AttentionBlockMask(3, 3, AttentionMask.Causal, 0, DType.Float32).ToDoubleArray();
        Assert.Equal(new double[] { 0, 1, 1, 0, 0, 1, 0, 0, 0 }, causal);
        var window = Functional.AttentionBlockMask(4, 4, AttentionMask.SlidingWindow, 2, DType.Float32).ToDoubleArray();
        Assert.Equal(new double[] { 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0 }, window);
        // A query attends only to itself when the window is 1: output equals v.
        var g = new Generator(4);
        var q = Tensor.Randn(g, [1, 5, 4]); var v = Tensor.Randn(g, [1, 5, 3]);
        var o = Functional.ScaledDotProductAttention(q, q, v, AttentionMask.SlidingWindow, window: 1);
        Assert.Equal(v.ToFloatArray(), o.ToFloatArray());
    }

    [Fact]
    public void CrossEntropyIgnoresAndStablemaxIsAProbability()
    {
        var logits = Tensor.FromArray(new double[] { 2, 0, 0, 0, 3, 0 }, 2, 3);
        var ce = Functional.CrossEntropy(logits, [0, -100]).Item();
        Assert.Equal(-Math.Log(Math.Exp(2) / (Math.Exp(2) + 2)), ce, 10);
        // stablemax: s = [3, 1, 1] for row 0 → p(0) = 3/5
        Assert.Equal(-Math.Log(3.0 / 5), Functional.StablemaxCrossEntropy(logits, [0, -100]).Item(), 10);
        var neg = Tensor.FromArray(new double[] { -1, 1 }, 1, 2); // s = [1/2, 2]
        Assert.Equal(-Math.Log(0.5 / 2.5), Functional.StablemaxCrossEntropy(neg, [0]).Item(), 10);
        Assert.Throws<ShapeMismatchException>(() => Functional.CrossEntropy(logits, [0, 3]));
    }

    [Fact]
    public void MatmulOfTwoVectorsIsTheirDotProductAsAScalar()
    {
        // PyTorch: 1-D @ 1-D is a 0-d dot product; 1-D @ 2-D and 2-D @ 1-D drop the promoted dimension.
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
        {
            var a = T([1, 2, 3], 3).To(dtype).RequireGrad(); var b = T([4, -5, 6], 3).To(dtype).RequireGrad();
            var dot = Tensor.Matmul(a, b);
            Assert.Equal(0, dot.Rank);
            Assert.Equal(1 * 4 - 2 * 5 + 3 * 6, dot.Item());
            dot.Backward();
            Assert.Equal(new double[] { 4, -5, 6 }, a.Grad!.ToDoubleArray());
            Assert.Equal(new double[] { 1, 2, 3 }, b.Grad!.ToDoubleArray());

            var m = T([1, 2, 3, 4, 5, 6], 3, 2).To(dtype).RequireGrad();
            var vm = Tensor.Matmul(a, m); // [3] @ [3, 2] → [2]
            Assert.Equal(new[] { 2 }, vm.Shape.ToArray());
            Assert.Equal(new double[] { 1 + 6 + 15, 2 + 8 + 18 }, vm.ToDoubleArray());
            a.Grad = null;
            vm.Sum().Backward();
            Assert.Equal(new double[] { 3, 7, 11 }, a.Grad!.ToDoubleArray());
            Assert.Equal(new double[] { 1, 1, 2, 2, 3, 3 }, m.Grad!.ToDoubleArray());

            var mv = Tensor.Matmul(m.MT, a); // [2, 3] @ [3] → [2]
            Assert.Equal(new[] { 2 }, mv.Shape.ToArray());
            Assert.Equal(new double[] { 22, 28 }, mv.ToDoubleArray());
            var empty = Tensor.Matmul(Tensor.Zeros([0], dtype), Tensor.Zeros([0], dtype));
            Assert.Equal(0, empty.Rank); Assert.Equal(0, empty.Item());
        }
        var ex = Assert.Throws<ShapeMismatchException>(() => Tensor.Matmul(Tensor.Zeros(3), Tensor.Zeros(4)));
        Assert.Contains("matmul", ex.Message);
    }

    [Fact]
    public void ClampWithMinAboveMaxGivesMaxEverywhereLikePyTorch()
    {
        // torch.clamp(x, min=3, max=1) is min(max(x, 3), 1) = 1 everywhere, with a zero gradient.
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
        {
            var x = T([0, 2, 5, -7], 4).To(dtype).RequireGrad();
            var y = x.Clamp(3, 1);
            Assert.Equal(new double[] { 1, 1, 1, 1 }, y.ToDoubleArray());
            y.Sum().Backward();
            Assert.Equal(new double[] { 0, 0, 0, 0 }, x.Grad!.ToDoubleArray());
        }
        // the ordinary case keeps its values, NaN and the sign of zero
        var z = T([-0.0, double.NaN, -2, 0.5, 9], 5).Clamp(-1, 2).ToDoubleArray();
        Assert.True(double.IsNegative(z[0]) && z[0] == 0); Assert.True(double.IsNaN(z[1]));
        Assert.Equal(new double[] { -1, 0.5, 2 }, z[2..]);
    }

    [Fact]
    public void CrossEntropyWithEveryTargetIgnoredIsNaNWithZeroGradientsOnBothPaths()
    {
        // Both paths agree: the mean over no rows is NaN (as PyTorch), and no row contributes any gradient.
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
            foreach (bool fused in new[] { true, false })
            {
                bool saved = Functional.UseFused;
                Functional.UseFused = fused;
                try
                {
                    var x = T([1, 2, 3, 4, 5, 6], 2, 3).To(dtype).RequireGrad();
                    var loss = Functional.CrossEntropy(x, [-100, -100]);
                    Assert.True(double.IsNaN(loss.Item()), $"fused={fused} {dtype}: loss {loss.Item()}");
                    loss.Backward(retainGraph: true);
                    Assert.Equal(new double[6], x.Grad!.ToDoubleArray());
                    var g2 = Autograd.Grad(loss, x, createGraph: true); // the differentiable backward too
                    Assert.Equal(new double[6], g2.ToDoubleArray());
                    var sm = Functional.StablemaxCrossEntropy(x, [7, 7], ignoreIndex: 7);
                    Assert.True(double.IsNaN(sm.Item()));
                    Assert.Equal(new double[6], Autograd.Grad(sm, x).ToDoubleArray());
                }
                finally { Functional.UseFused = saved; }
            }
    }

    [Fact]
    public void Float64ReductionsSoftmaxAndAttentionDoNotDependOnMemoryAlignment()
    {
        // The same values at every start offset within an array (so at every alignment of the SIMD loads) must
        // give the same bits: float64 sums, dot products, softmax, log-softmax, RMSNorm and the attention reference.
        const int n = 300;
        var g = new Generator(3);
        var values = new double[n];
        for (int i = 0; i < n; i++) values[i] = g.NextNormal() * Math.Exp(g.NextDouble() * 8 - 4);
        string? first = null;
        for (int offset = 0; offset < 16; offset++)
        {
            var storage = new double[n + 16];
            values.CopyTo(storage, offset);
            var x = Tensor.FromArray(storage, n + 16).Narrow(0, offset, n);
            var row = x.Reshape(1, n);
            var q = x.Narrow(0, 0, 240).Reshape(1, 60, 4);
            var att = Functional.ScaledDotProductAttention(q, q, q, AttentionMask.Causal);
            double[] parts = [x.Sum().Item(), (x * x).Sum().Item(), x.Var().Item(), row.LogSumExp(1).Item(),
                .. row.Softmax(-1).ToDoubleArray(), .. row.LogSoftmax(-1).ToDoubleArray(), .. Functional.RmsNorm(row).ToDoubleArray(),
                .. att.ToDoubleArray()];
            var bits = string.Join(",", parts.Select(BitConverter.DoubleToInt64Bits));
            first ??= bits;
            Assert.True(first == bits, $"start offset {offset} gives different bits");
        }
    }

    [Fact]
    public void RotaryRotatesPairsByPositionAngle()
    {
        var (cos, sin) = Functional.RotaryTables(2, 2, theta: 10000, dtype: DType.Float64);
        var x = Tensor.FromArray(new double[] { 1, 0, 1, 0 }, 2, 2);
        var r = Functional.ApplyRotary(x, cos, sin).ToDoubleArray();
        Assert.Equal(new[] { 1.0, 0 }, r.Take(2));
        Assert.Equal(Math.Cos(1), r[2], 12); Assert.Equal(Math.Sin(1), r[3], 12);
    }

    [Fact]
    public void DropoutKeepsExpectationAndIsSeeded()
    {
        var x = Tensor.Ones(10000);
        var y = Functional.Dropout(x, 0.25, true, new Generator(1)).ToDoubleArray();
        Assert.InRange(y.Average(), 0.95, 1.05);
        Assert.All(y, v => Assert.True(v == 0 || Math.Abs(v - 4.0 / 3) < 1e-6));
        Assert.Equal(y, Functional.Dropout(x, 0.25, true, new Generator(1)).ToDoubleArray());
        Assert.Same(x, Functional.Dropout(x, 0.25, false, new Generator(1)));
    }
}
