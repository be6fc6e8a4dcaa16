// `engram bench engine --full`: tall-skinny GEMMs of our models' shapes, attention forward+backward at
// T = 81, 900, 4096 (fused kernel against its reference in the same run), and one training step
// (forward, backward, AdamW) of a 2-block, hidden-512 Transformer on 16 × 81 tokens, fused against the references
// (reported as impl "composed").
using System.Diagnostics;
using Engram.Nn;
using Engram.Tensors;
using Engram.Tensors.Kernels;
using Engram.Tensors.Optim;

namespace Engram.Experiments;

public static class ModelBench
{
    public static List<BenchFigure> Measure(bool quick, Action<string>? progress)
    {
        var figures = new List<BenchFigure>();
        foreach (var (m, k, n) in new[] { (4096, 512, 512), (81, 512, 1536), (1296, 512, 1536) })
        {
            progress?.Invoke($"gemm {m}x{k}x{n}");
            figures.Add(new("gemm_gflops", null, Timing.GemmGflops(m, k, n, quick ? 0 : 0.5, quick ? 1 : 5), "GFLOP/s",
                [("m", m), ("k", k), ("n", n)]));
        }
        foreach (int t in quick ? new[] { 81 } : new[] { 81, 900, 4096 })
            foreach (bool fused in new[] { true, false })
            {
                if (!fused && t > 900) continue; // the reference needs 8·T² floats per tensor: 0.5 GB each at T = 4096
                progress?.Invoke($"attention T={t} {(fused ? "fused" : "composed")}");
                figures.Add(new("attention_fwd_bwd_ms", null, AttentionMs(t, fused, quick), "ms",
                    [("t", t), ("heads", 8), ("head_dim", 64), ("impl", fused ? "fused" : "composed")]));
            }
        progress?.Invoke("adamw update");
        var (vec, scalar) = AdamMs(quick);
        figures.Add(new("adamw_update_ms", null, vec, "ms", [("params", "6.8M"), ("impl", "vector")]));
        figures.Add(new("adamw_update_ms", null, scalar, "ms", [("params", "6.8M"), ("impl", "scalar")]));
        progress?.Invoke("transformer step allocation");
        figures.Add(new("transformer_step_alloc_bytes", null, BlockStepAllocatedBytes(512, quick ? 2 : 16, 81, 2, postNorm: true), "B/step",
            [("blocks", 2), ("hidden", 512), ("tokens", quick ? "2x81" : "16x81")]));
        foreach (bool fused in new[] { true, false })
        {
            progress?.Invoke($"transformer step {(fused ? "fused" : "composed")}");
            // quick (a smoke test) uses 2 sequences instead of 16
            figures.Add(new("transformer_step_ms", null, TransformerStepMs(fused, quick), "ms",
                [("blocks", 2), ("hidden", 512), ("tokens", quick ? "2x81" : "16x81"), ("impl", fused ? "fused" : "composed")]));
        }
        return figures;
    }

    static double AttentionMs(int t, bool fused, bool quick)
    {
        var g = new Generator(2);
        var q = Tensor.Randn(g, [1, 8, t, 64]).RequireGrad(); var k = Tensor.Randn(g, [1, 8, t, 64]).RequireGrad();
        var v = Tensor.Randn(g, [1, 8, t, 64]).RequireGrad();
        var w = Tensor.Randn(g, [1, 8, t, 64]);
        void Step()
        {
            Timing.WithFused(fused, () =>
            {
                using var scope = TensorScope.Begin();
                (Functional.ScaledDotProductAttention(q, k, v, AttentionMask.Causal) * w).Sum().Backward();
            });
            q.Grad = k.Grad = v.Grad = null;
        }
        Step();
        return Timing.Best(Step, quick ? 0 : t >= 4096 ? 3 : 1, quick ? 1 : t >= 4096 ? 2 : 5) * 1e3;
    }

    /// <summary>One AdamW update over 6.8M float32 parameters (the 2-block model's size): the vector kernel and its scalar
    /// reference.</summary>
    static (double Vector, double Scalar) AdamMs(bool quick)
    {
        int n = quick ? 1 << 16 : 8 * 1024 * 832;
        var g = new Generator(4);
        float[] R() { var r = new float[n]; for (int i = 0; i < n; i++) r[i] = (float)g.NextNormal(); return r; }
        var p = R(); var grad = R(); var m = R(); var v = R();
        for (int i = 0; i < n; i++) v[i] = Math.Abs(v[i]);
        double window = quick ? 0 : 1;
        // 1 − β₁, β₂, 1 − β₂, weight decay, step size, √(bias correction 2), ε, decay factor
        double vec = Timing.Best(() => AdamKernel.Update(p, grad, m, v, 0.1f, 0.999f, 0.001f, 0.01f, 1e-3f, 0.5f, 1e-8f, 0.99999f, true),
            window, quick ? 1 : 5);
        double sca = Timing.Best(() => AdamKernel.UpdateReference<float>(p, grad, m, v, 0.1f, 0.999f, 0.001f, 0.01f, 1e-3f, 0.5f, 1e-8f,
            0.99999f, true), window, quick ? 1 : 5);
        return (vec * 1e3, sca * 1e3);
    }

    sealed class TinyTransformer : Module
    {
        readonly ModuleList<TransformerBlock> _blocks;
        public TinyTransformer(Generator g, int hidden = 512, int blocks = 2, bool postNorm = true) =>
            _blocks = RegisterModule("layers", new ModuleList<TransformerBlock>(Enumerable.Range(0, blocks).Select(_ => postNorm
                ? new TransformerBlock(hidden, 8, g, NormPlacement.Post, AttentionMask.None, normGain: false)
                : new TransformerBlock(hidden, 4, g, NormPlacement.Pre, AttentionMask.Causal))));
        public Tensor Forward(Tensor x) { foreach (var b in _blocks) x = b.Forward(x); return x; }
    }

    /// <summary>Managed bytes the calling thread allocates in one training step (forward, cross-entropy, backward, gradient
    /// clipping, AdamW) inside a TensorScope, averaged over 3 steps after 4 warm-up steps. Pre-norm causal blocks unless
    /// postNorm.</summary>
    public static double BlockStepAllocatedBytes(int hidden, int batch, int tokens, int blocks, bool postNorm = false)
    {
        var g = new Generator(3);
        var model = new TinyTransformer(g, hidden, blocks, postNorm);
        var opt = new AdamW(model.Parameters(), lr: 1e-4);
        var x = Tensor.Randn(g, [batch, tokens, hidden]);
        var targets = Enumerable.Range(0, batch * tokens).Select(_ => g.NextInt(hidden)).ToArray();
        void Step()
        {
            using var scope = TensorScope.Begin();
            opt.ZeroGrad();
            Functional.CrossEntropy(model.Forward(x), targets).Backward();
            Optimizer.ClipGradNorm(opt.Parameters, 1.0);
            opt.Step();
        }
        for (int i = 0; i < 4; i++) Step();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 3; i++) Step();
        return (GC.GetAllocatedBytesForCurrentThread() - before) / 3.0;
    }

    static double TransformerStepMs(bool fused, bool quick)
    {
        var g = new Generator(3);
        var model = new TinyTransformer(g);
        var opt = new AdamW(model.Parameters(), lr: 1e-4);
        int batch = quick ? 2 : 16;
        var x = Tensor.Randn(g, [batch, 81, 512]);
        var targets = Enumerable.Range(0, batch * 81).Select(_ => g.NextInt(512)).ToArray();
        void Step() => Timing.WithFused(fused, () =>
        {
            using var scope = TensorScope.Begin();
            opt.ZeroGrad();
            Functional.CrossEntropy(model.Forward(x), targets).Backward();
            opt.Step();
        });
        Step();
        return Timing.Best(Step, quick ? 0 : 4, quick ? 1 : 3) * 1e3;
    }
}
