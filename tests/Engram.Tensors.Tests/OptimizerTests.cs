// Optimizers against their formulas written out by hand, state save/restore, clipping and schedules.
using Engram.Tensors.Optim;

namespace Engram.Tensors.Tests;

public class OptimizerTests
{
    static Tensor Param(params double[] v) => Tensor.FromArray(v, v.Length).RequireGrad();
    static void SetGrad(Tensor p, params double[] g) => p.Grad = Tensor.FromArray(g, g.Length);

    [Fact]
    public void SgdMomentumNesterovAndWeightDecay()
    {
        var p = Param(1.0);
        var opt = new Sgd([p], lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.5);
        SetGrad(p, 2.0); opt.Step();
        // d = 2 + 0.5·1 = 2.5; buf = 2.5; nesterov d = 2.5 + 0.9·2.5 = 4.75; p = 1 − 0.475
        Assert.Equal(0.525, p.Item(), 12);
        SetGrad(p, 2.0); opt.Step();
        double d = 2 + 0.5 * 0.525, buf = 0.9 * 2.5 + d, step = d + 0.9 * buf;
        Assert.Equal(0.525 - 0.1 * step, p.Item(), 12);
    }

    [Fact]
    public void AdamWMatchesTheFormula()
    {
        var p = Param(1.0, -2.0);
        var opt = new AdamW([p], lr: 0.01, weightDecay: 0.1);
        double[] x = [1.0, -2.0], m = [0, 0], v = [0, 0];
        for (int t = 1; t <= 3; t++)
        {
            double[] g = [0.5 * t, -1.0 / t];
            SetGrad(p, g); opt.Step();
            for (int i = 0; i < 2; i++)
            {
                x[i] *= 1 - 0.01 * 0.1;
                m[i] = 0.9 * m[i] + 0.1 * g[i]; v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
                double mh = m[i] / (1 - Math.Pow(0.9, t)), vh = v[i] / (1 - Math.Pow(0.999, t));
                x[i] -= 0.01 * mh / (Math.Sqrt(vh) + 1e-8);
            }
            Assert.Equal(x[0], p.ToDoubleArray()[0], 12); Assert.Equal(x[1], p.ToDoubleArray()[1], 12);
        }
    }

    [Fact]
    public void AdamWithL2DiffersFromDecoupled()
    {
        var a = Param(1.0); var b = Param(1.0);
        var l2 = new Adam([a], lr: 0.1, weightDecay: 0.5); var dec = new AdamW([b], lr: 0.1, weightDecay: 0.5);
        for (int i = 0; i < 3; i++) { SetGrad(a, 0.1); SetGrad(b, 0.1); l2.Step(); dec.Step(); }
        Assert.NotEqual(a.Item(), b.Item());
    }

    [Fact]
    public void AdamAtan2IsScaleInvariant()
    {
        // Multiplying every gradient by a constant leaves atan2(m̂, √v̂) unchanged.
        var a = Param(0.3, -0.7); var b = Param(0.3, -0.7);
        var oa = new AdamAtan2([a], lr: 0.01, weightDecay: 0.1); var ob = new AdamAtan2([b], lr: 0.01, weightDecay: 0.1);
        for (int t = 1; t <= 4; t++)
        {
            SetGrad(a, 0.2 * t, -0.1); SetGrad(b, 2000 * t, -1000);
            oa.Step(); ob.Step();
        }
        Assert.Equal(a.ToDoubleArray()[0], b.ToDoubleArray()[0], 12);
        Assert.Equal(a.ToDoubleArray()[1], b.ToDoubleArray()[1], 12);
        // First step by hand: m̂ = g, v̂ = g² → atan2(g, |g|) = ±π/4.
        var c = Param(1.0); var oc = new AdamAtan2([c], lr: 0.1, weightDecay: 0);
        SetGrad(c, 3.0); oc.Step();
        Assert.Equal(1.0 - 0.1 * Math.PI / 4, c.Item(), 6);
    }

    [Fact]
    public void Float32OptimizersTrackFloat64WithOneMinusBetaRoundedOnce()
    {
        // 1 − β (and SGD's 1 − dampening) is computed in double and rounded to float32 once, as PyTorch does with its
        // Python-float betas: 1f − 0.999f is off by 1.3e-5 relative, an error every float32 second moment would carry.
        Func<IEnumerable<Tensor>, Optimizer>[] makers =
        [
            ps => new Adam(ps, lr: 0.01, beta1: 0.99, beta2: 0.999),
            ps => new AdamW(ps, lr: 0.01, beta1: 0.9, beta2: 0.999, weightDecay: 0.1),
            ps => new AdamAtan2(ps, lr: 0.01, beta1: 0.99, beta2: 0.999, weightDecay: 0.1),
            ps => new Sgd(ps, lr: 0.01, momentum: 0.01, dampening: 0.999),
        ];
        const int n = 21; // vector blocks and a scalar tail
        foreach (var make in makers)
        {
            var p32 = Tensor.Zeros([n], DType.Float32).RequireGrad(); var p64 = Tensor.Zeros([n], DType.Float64).RequireGrad();
            var o32 = make([p32]); var o64 = make([p64]);
            for (int t = 1; t <= 6; t++)
            {
                var g = new double[n];
                for (int k = 0; k < n; k++) g[k] = (k + 1) * 0.25 * (1 + 0.125 * t); // positive, exact in float32
                p32.Grad = Tensor.FromArray(g, n).To(DType.Float32); p64.Grad = Tensor.FromArray(g, n);
                o32.Step(); o64.Step();
            }
            var s32 = o32.StateTensors(); var s64 = o64.StateTensors();
            var compared = new List<(string, double[], double[])> { ("param", p32.ToDoubleArray(), p64.ToDoubleArray()) };
            foreach (var (key, t64) in s64) compared.Add((key, s32[key].ToDoubleArray(), t64.ToDoubleArray()));
            foreach (var (what, a, b) in compared)
                for (int k = 0; k < n; k++)
                    Assert.True(Math.Abs(a[k] - b[k]) <= 1e-6 * Math.Abs(b[k]),
                        $"{o32.GetType().Name} {what}[{k}]: float32 {a[k]} vs float64 {b[k]}");
        }
    }

    [Fact]
    public void StateRoundTripContinuesIdentically()
    {
        var p1 = Param(1.0, 2.0); var o1 = new AdamW([p1], lr: 0.05);
        SetGrad(p1, 0.3, -0.2); o1.Step();
        var p2 = Tensor.FromArray(p1.ToDoubleArray(), 2).RequireGrad(); var o2 = new AdamW([p2], lr: 0.05);
        o2.LoadState(o1.StateTensors(), o1.Hyperparameters());
        Assert.Equal(1, o2.StepCount);
        SetGrad(p1, 0.1, 0.1); SetGrad(p2, 0.1, 0.1); o1.Step(); o2.Step();
        Assert.Equal(p1.ToDoubleArray(), p2.ToDoubleArray());
        Assert.Throws<InvalidFileException>(() => new Sgd([p2], 0.1).LoadState(o1.StateTensors(), o1.Hyperparameters()));
    }

    [Fact]
    public void ClipGradNormScalesToTheBound()
    {
        var a = Param(0, 0); var b = Param(0);
        SetGrad(a, 3, 0); SetGrad(b, 4);
        double norm = Optimizer.ClipGradNorm([a, b], 1.0);
        Assert.Equal(5, norm, 12);
        Assert.Equal(0.6, a.Grad!.ToDoubleArray()[0], 5); Assert.Equal(0.8, b.Grad!.Item(), 5);
        Assert.Equal(1.0, Optimizer.ClipGradNorm([a, b], 10), 5); // under the bound: unchanged
    }

    [Fact]
    public void SchedulesWarmUpThenHoldOrDecay()
    {
        var c = new WarmupConstant(1.0, 4);
        Assert.Equal(new[] { 0.25, 0.5, 0.75, 1, 1 }, Enumerable.Range(0, 5).Select(s => c.At(s)));
        var cos = new WarmupCosine(1.0, 2, 12, 0.1);
        Assert.Equal(0.5, cos.At(0)); Assert.Equal(1.0, cos.At(2), 12);
        Assert.Equal(0.55, cos.At(7), 12); Assert.Equal(0.1, cos.At(12)); Assert.Equal(0.1, cos.At(50));
        var p = Param(0.0); var opt = new Sgd([p], lr: 123) { Schedule = c };
        SetGrad(p, 1); opt.Step();
        Assert.Equal(0.25, opt.LearningRate);
    }
}

[Trait("Category", "Kernels")]
public class AdamKernelTests
{
    [Fact]
    public void VectorUpdateEqualsScalarUpdateBitForBit()
    {
        var g = new Generator(44);
        float[] R(int n) { var r = new float[n]; for (int i = 0; i < n; i++) r[i] = (float)g.NextNormal(); return r; }
        foreach (bool decoupled in new[] { true, false })
            for (int n = 0; n <= 300; n++)
            {
                var p1 = R(n); var grad = R(n); var m1 = R(n); var v1 = R(n).Select(Math.Abs).ToArray();
                var p2 = (float[])p1.Clone(); var m2 = (float[])m1.Clone(); var v2 = (float[])v1.Clone();
                AdamKernel.Update(p1, grad, m1, v1, 0.1f, 0.999f, 0.001f, 0.1f, 0.01f, 0.3f, 1e-8f, 0.999f, decoupled);
                AdamKernel.UpdateReference<float>(p2, grad, m2, v2, 0.1f, 0.999f, 0.001f, 0.1f, 0.01f, 0.3f, 1e-8f, 0.999f, decoupled);
                Assert.True(p1.AsSpan().SequenceEqual(p2) && m1.AsSpan().SequenceEqual(m2) && v1.AsSpan().SequenceEqual(v2),
                    $"n={n} decoupled={decoupled}");
            }
    }
}
