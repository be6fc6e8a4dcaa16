// Finite-difference gradient checks in float64: loss = Σ(f(inputs) ⊙ W) with fixed random W, so errors that
// are symmetric cannot cancel; central differences; compared by relative error.
using Engram.Tensors;

namespace Engram.Tensors.Tests;

public static class GradCheck
{
    public const double Eps = 1e-6;

    static Tensor Weights(Tensor like, ulong seed) => Tensor.Randn(new Generator(seed), like.Shape, dtype: DType.Float64);

    static double Loss(Func<Tensor[], Tensor> f, Tensor[] inputs, Tensor w)
    {
        using (Autograd.NoGrad()) return (f(inputs) * w).Sum().Item();
    }

    /// <summary>Largest relative error between analytic and numeric gradients over all inputs.</summary>
    public static double MaxError(Func<Tensor[], Tensor> f, params Tensor[] inputs)
    {
        foreach (var x in inputs) x.RequiresGrad = true;
        var y = f(inputs);
        var w = Weights(y, 99);
        var analytic = Autograd.Grad([(y * w).Sum()], inputs);
        double worst = 0;
        for (int i = 0; i < inputs.Length; i++)
        {
            var numeric = Numeric(x => Loss(f, x, w), inputs, i);
            worst = Math.Max(worst, RelativeError(analytic[i].ToDoubleArray(), numeric));
        }
        return worst;
    }

    /// <summary>Numeric gradient of a scalar function with respect to input i (central differences).</summary>
    public static double[] Numeric(Func<Tensor[], double> scalar, Tensor[] inputs, int i)
    {
        var x = inputs[i];
        var data = (double[])x.Data;
        var result = new double[x.Numel];
        for (int j = 0; j < result.Length; j++)
        {
            int at = x.Offset + j;
            double keep = data[at];
            data[at] = keep + Eps; double plus = scalar(inputs);
            data[at] = keep - Eps; double minus = scalar(inputs);
            data[at] = keep;
            result[j] = (plus - minus) / (2 * Eps);
        }
        return result;
    }

    public static double RelativeError(double[] a, double[] b)
    {
        Assert.Equal(a.Length, b.Length);
        double diff = 0, scale = 1e-3;
        for (int i = 0; i < a.Length; i++)
        {
            diff = Math.Max(diff, Math.Abs(a[i] - b[i]));
            scale = Math.Max(scale, Math.Max(Math.Abs(a[i]), Math.Abs(b[i])));
        }
        return diff / scale;
    }

    /// <summary>Second order: h(x) = Σ(∂L/∂x ⊙ V); its gradient from double backward vs finite differences of first-order
    /// gradients.</summary>
    public static double MaxSecondOrderError(Func<Tensor[], Tensor> f, params Tensor[] inputs)
    {
        foreach (var x in inputs) x.RequiresGrad = true;
        var y = f(inputs);
        var w = Weights(y, 7);
        var g = Autograd.Grad([(y * w).Sum()], inputs, createGraph: true);
        var vs = inputs.Select((x, k) => Weights(x, 100 + (ulong)k)).ToArray();
        Tensor h = (g[0] * vs[0]).Sum();
        for (int k = 1; k < g.Length; k++) h = h + (g[k] * vs[k]).Sum();
        Assert.True(h.RequiresGrad, "the first-order gradient must itself be differentiable (createGraph)");
        var analytic = Autograd.Grad([h], inputs);

        double H(Tensor[] xs)
        {
            var yy = f(xs);
            var gg = Autograd.Grad([(yy * w).Sum()], xs);
            double s = 0;
            for (int k = 0; k < gg.Length; k++)
            {
                var a = gg[k].ToDoubleArray();
                var v = vs[k].ToDoubleArray();
                for (int j = 0; j < a.Length; j++) s += a[j] * v[j];
            }
            return s;
        }
        double worst = 0;
        for (int i = 0; i < inputs.Length; i++)
            worst = Math.Max(worst, RelativeError(analytic[i].ToDoubleArray(), Numeric(H, inputs, i)));
        return worst;
    }

    static int _seed = 1;
    public static Tensor R(params int[] shape)
        => Tensor.Randn(new Generator((ulong)Interlocked.Increment(ref _seed)), shape, dtype: DType.Float64);
    /// <summary>Values bounded away from zero: |x| in [0.5, 1.5] with random signs.</summary>
    public static Tensor AwayFromZero(params int[] shape)
    {
        var g = new Generator((ulong)Interlocked.Increment(ref _seed));
        var t = Tensor.Zeros(shape, DType.Float64);
        for (int i = 0; i < t.Numel; i++) t.SetFlat(i, (g.NextDouble() + 0.5) * (g.NextDouble() < 0.5 ? -1 : 1));
        return t;
    }
    public static Tensor Positive(params int[] shape) => AwayFromZero(shape).Abs().Detach();
}
