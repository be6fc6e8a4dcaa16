// Autograd mechanics: accumulation, no-grad, detach, retain-graph, functional Grad, anomaly mode.
namespace Engram.Tensors.Tests;

public class AutogradTests
{
    [Fact]
    public void GradientsAccumulateAcrossBackwardCalls()
    {
        var w = Tensor.FromArray(new double[] { 1, 2 }, 2).RequireGrad();
        (w * w).Sum().Backward();
        (w * 3.0).Sum().Backward();
        Assert.Equal(new double[] { 2 + 3, 4 + 3 }, w.Grad!.ToDoubleArray());
    }

    [Fact]
    public void PlainBackwardAddsToAGradientThatHasAGraphOrIsAView()
    {
        // PyTorch: x.sum().backward(create_graph=True); x.sum().backward() leaves x.grad = [2, 2, 2].
        var x = Tensor.FromArray(new double[] { 1, 2, 3 }, 3).RequireGrad();
        (x * x).Sum().Backward(createGraph: true);
        Assert.True(x.Grad!.RequiresGrad);
        var first = x.Grad;
        x.Sum().Backward();
        Assert.Equal(new double[] { 2 + 1, 4 + 1, 6 + 1 }, x.Grad!.ToDoubleArray());
        Assert.Equal(new double[] { 2, 4, 6 }, first.ToDoubleArray()); // out of place: the graph's tensor is untouched
        x.Sum().Backward(); // now a plain buffer: accumulated in place
        Assert.Equal(new double[] { 4, 6, 8 }, x.Grad!.ToDoubleArray());

        // a non-contiguous gradient (set by hand as a transposed view) is added to, out of place, for vectors and matrices
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
        {
            var w = Tensor.Zeros([2, 3], dtype).RequireGrad();
            var view = Tensor.FromArray(new double[] { 1, 2, 3, 4, 5, 6 }, 3, 2).To(dtype).Transpose(0, 1);
            w.Grad = view;
            var a = Tensor.Ones([2, 4], dtype);
            var b = Tensor.Ones([4, 3], dtype);
            (w + Tensor.Matmul(a, b)).Sum().Backward(); // gradient 1 per element
            Assert.Equal(new double[] { 2, 4, 6, 3, 5, 7 }, w.Grad!.ToDoubleArray());
            Assert.Equal(new double[] { 1, 3, 5, 2, 4, 6 }, view.ToDoubleArray());
            var m = Tensor.Zeros([2, 4], dtype).RequireGrad(); // the accumulating-GEMM path of a leaf matrix
            m.Grad = Tensor.Ones([4, 2], dtype).Transpose(0, 1);
            Tensor.Matmul(m, b).Sum().Backward();
            Assert.Equal(Enumerable.Repeat(4.0, 8), m.Grad!.ToDoubleArray());
        }
        var f = Tensor.FromArray([1f, 2f], 2).RequireGrad(); // a gradient of another dtype is added to, and converted
        f.Grad = Tensor.FromArray(new double[] { 0.5, 0.25 }, 2);
        (f * 3.0).Sum().Backward();
        Assert.Equal(DType.Float32, f.Grad!.DType);
        Assert.Equal(new double[] { 3.5, 3.25 }, f.Grad.ToDoubleArray());
    }

    [Fact]
    public void MatrixLeafGradientsAccumulateStraightIntoTheirBuffers()
    {
        // Backward adds a leaf matrix's product gradient directly into its .Grad buffer (when one exists), for the
        // leaf itself and for a leaf used through its transpose; the totals must equal the functional gradients.
        var g = new Generator(1);
        var a = Tensor.Randn(g, [3, 5]).RequireGrad(); var b = Tensor.Randn(g, [5, 4]).RequireGrad();
        var w = Tensor.Randn(g, [6, 4]).RequireGrad();
        Tensor Loss()
        {
            var h = Tensor.Matmul(a, b);
            return (Tensor.Matmul(h.Tanh(), w.MT) * Tensor.Matmul(h, w.MT)).Sum() + (a * a).Sum();
        }
        var expected = Autograd.Grad([Loss()], [a, b, w]);
        Loss().Backward();                       // creates the buffers
        Tensor.ZeroGradients([a, b, w], setToNone: false);
        Loss().Backward(); Loss().Backward();    // accumulate twice into existing buffers
        var got = new[] { a.Grad!, b.Grad!, w.Grad! };
        for (int i = 0; i < 3; i++)
        {
            var e = expected[i].ToDoubleArray(); var x = got[i].ToDoubleArray();
            for (int j = 0; j < e.Length; j++)
                Assert.True(Math.Abs(2 * e[j] - x[j]) <= 1e-5 * Math.Max(1, Math.Abs(e[j])), $"input {i} element {j}: {x[j]} vs 2×{e[j]}");
        }
    }

    [Fact]
    public void AFirstGradientHasTheSameBitsAsOneAddedToAZeroedBuffer()
    {
        // A weight used several times (as a recursive model reuses its net): its gradient must not depend on whether a
        // zeroed buffer existed before backward — otherwise a resumed run drifts from an uninterrupted one.
        var g = new Generator(4);
        var w = Tensor.Randn(g, [48, 40]).RequireGrad();
        var x = Tensor.Randn(g, [37, 40]);
        Tensor Loss()
        {
            var h = x;
            for (int i = 0; i < 4; i++) h = Tensor.Matmul(h, w.MT).Narrow(1, 0, 40).Tanh() + h;
            return (h * h).Sum();
        }
        Loss().Backward();
        var fresh = w.Grad!.ToFloatArray();
        Tensor.ZeroGradients([w], setToNone: false);
        Loss().Backward();
        Assert.Equal(fresh, w.Grad!.ToFloatArray());
        Tensor.ZeroGradients([w], setToNone: true);
        Loss().Backward();
        Assert.Equal(fresh, w.Grad!.ToFloatArray());
    }

    [Fact]
    public void NoGradRecordsNothingAndDetachCuts()
    {
        var w = Tensor.Ones(3).RequireGrad();
        Tensor y;
        using (Autograd.NoGrad()) y = w * 2.0;
        Assert.False(y.RequiresGrad); Assert.Null(y.Op);
        Assert.True(Autograd.IsEnabled);
        var z = (w * 2.0).Detach();
        Assert.False(z.RequiresGrad);
        var mixed = (w * z).Sum();
        mixed.Backward();
        Assert.Equal(new double[] { 2, 2, 2 }, w.Grad!.ToDoubleArray());
    }

    [Fact]
    public void SecondBackwardNeedsRetainGraph()
    {
        var w = Tensor.Ones(2).RequireGrad();
        var loss = (w.Exp()).Sum();
        loss.Backward();
        var ex = Assert.Throws<EngramException>(() => loss.Backward());
        Assert.Contains("retainGraph", ex.Message);
        var w2 = Tensor.Ones(2).RequireGrad();
        var l2 = (w2.Exp()).Sum();
        l2.Backward(retainGraph: true); l2.Backward();
        Assert.Equal(2 * Math.E, w2.Grad!.ToDoubleArray()[0], 5);
    }

    [Fact]
    public void FunctionalGradOfGradient()
    {
        // f(x) = x³ → f' = 3x², f'' = 6x
        var x = Tensor.FromArray(new double[] { 2 }, 1).RequireGrad();
        var y = x.Pow(3).Sum();
        var g = Autograd.Grad(y, x, createGraph: true);
        Assert.Equal(12, g.Item(), 10);
        var gg = Autograd.Grad(g.Sum(), x);
        Assert.Equal(12, gg.Item(), 10);
        Assert.Null(x.Grad); // functional Grad leaves .Grad alone
    }

    [Fact]
    public void GradOfUnreachableInputIsZero()
    {
        var a = Tensor.Ones(2).RequireGrad(); var b = Tensor.Ones(3).RequireGrad();
        var r = Autograd.Grad([(a * 2.0).Sum()], [a, b]);
        Assert.Equal(new double[] { 0, 0, 0 }, r[1].ToDoubleArray());
        Assert.Throws<EngramException>(() => Autograd.Grad([(a * 2.0).Sum()], [a, b], allowUnused: false));
    }

    [Fact]
    public void AnomalyModeNamesTheFirstBadOperation()
    {
        var x = Tensor.FromArray(new double[] { -1, 1 }, 2).RequireGrad();
        Autograd.DetectAnomaly = true;
        try
        {
            var ex = Assert.Throws<AnomalyException>(() => x.Log().Sqrt());
            Assert.Contains("'log'", ex.Message);
            var z = Tensor.FromArray(new double[] { 0, 1 }, 2).RequireGrad();
            var y = z.Sqrt(); // forward is finite (0 and 1)
            var bex = Assert.Throws<AnomalyException>(() => y.Sum().Backward());
            Assert.Contains("backward of 'sqrt'", bex.Message);
        }
        finally { Autograd.DetectAnomaly = false; }
        _ = x.Log(); // off again: no throw
    }

    [Fact]
    public void BackwardOfNonScalarNeedsAGradient()
    {
        var x = Tensor.Ones(3).RequireGrad();
        Assert.Throws<ShapeMismatchException>(() => (x * 2.0).Backward());
        (x * 2.0).Backward(Tensor.FromArray(new float[] { 1, 2, 3 }, 3));
        Assert.Equal(new double[] { 2, 4, 6 }, x.Grad!.ToDoubleArray());
    }

    [Fact]
    public void DTypeConversionPassesGradientBack()
    {
        var x = Tensor.FromArray(new float[] { 1, 2 }, 2).RequireGrad();
        var y = x.To(DType.Float64).Square().Sum();
        y.Backward();
        Assert.Equal(DType.Float32, x.Grad!.DType);
        Assert.Equal(new double[] { 2, 4 }, x.Grad.ToDoubleArray());
    }

    [Fact]
    public void AFailedBackwardLeavesNoPendingGradientBehind()
    {
        var w = Tensor.FromArray([1.0f, 2.0f], 2).RequireGrad();
        var bad = Autograd.Record(w.Detach() * 1.0, "bad", static (n, g) => throw new InvalidOperationException("bad backward"), w);
        var loss = (w * 3.0).Sum() + bad.Sum(); // w gets 3 from the product before the bad node's backward throws
        Assert.Throws<InvalidOperationException>(() => loss.Backward());
        Assert.Null(w.Grad);
        (w * 5.0).Sum().Backward();
        Assert.Equal(new double[] { 5, 5 }, w.Grad!.ToDoubleArray());
        // and a leaf reached by two paths in one run gets the sum, once
        w.Grad = null;
        ((w * 2.0).Sum() + (w * w).Sum()).Backward();
        Assert.Equal(new double[] { 4, 6 }, w.Grad!.ToDoubleArray());
    }
}
