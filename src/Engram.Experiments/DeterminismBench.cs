// `engram bench determinism`: trains a small causal Transformer block (RoPE attention, RMSNorm, SwiGLU,
// cross-entropy, AdamW) for three float32 steps and prints an FNV-1a hash of the final weights and logits.
// Run it with DOTNET_EnableAVX512=0 or DOTNET_EnableAVX2=0, or on another machine: the hash must not change —
// the property a compressor driven by an online model needs (its decoder must replay the same arithmetic).
using Engram.Nn;
using Engram.Tensors;
using Engram.Tensors.Kernels;
using Engram.Tensors.Optim;

namespace Engram.Experiments;

public static class DeterminismBench
{
    public static (string Hash, string Path) Run()
    {
        var g = new Generator(2026);
        var embed = new Embedding(64, 48, g, std: 0.5);
        var block = new TransformerBlock(48, 4, g, NormPlacement.Pre, AttentionMask.Causal);
        var head = new Linear(48, 64, false, g);
        var ps = embed.Parameters().Concat(block.Parameters()).Concat(head.Parameters()).ToList();
        var opt = new AdamW(ps, lr: 3e-3);
        var ids = Enumerable.Range(0, 2 * 70).Select(_ => g.NextInt(64)).ToArray();
        var targets = ids.Skip(1).Append(0).ToArray();
        Tensor logits = Tensor.Zeros(1);
        for (int step = 0; step < 3; step++)
        {
            using var scope = TensorScope.Begin();
            opt.ZeroGrad();
            var h = block.Forward(embed.Forward(ids, 2, 70));
            var l = head.Forward(h);
            Functional.CrossEntropy(l, targets).Backward();
            opt.Step();
            using (TensorScope.Suspend()) logits = l.CloneDetached();
        }
        ulong hash = 14695981039346656037UL;
        void Mix(float[] values) { foreach (var v in values) { hash ^= BitConverter.SingleToUInt32Bits(v); hash *= 1099511628211UL; } }
        foreach (var p in ps) Mix(p.ToFloatArray());
        Mix(logits.ToFloatArray());
        return (hash.ToString("x16"), Gemm.MicroKernel.Path);
    }
}
