// The fused attention op: forward and first-order backward run the tile-by-tile kernel; when the gradient
// itself must be differentiable (createGraph), the backward is written with differentiable primitives instead.
using Engram.Tensors.Kernels;

namespace Engram.Tensors;

public sealed partial class Tensor
{
    sealed record AttentionSaved(Tensor Q, Tensor K, Tensor V, Tensor O, float[] Lse, AttentionMask Mask, int Window, double Scale);

    internal static Tensor FusedAttention(Tensor q, Tensor k, Tensor v, AttentionMask mask, int window, double scale)
    {
        int tq = q.ShapeArr[^2], tk = k.ShapeArr[^2], d = q.ShapeArr[^1], dv = v.ShapeArr[^1];
        int bh = NumelOf(q.ShapeArr.AsSpan(0, q.Rank - 2));
        Tensor qc, kc, vc;
        using (Autograd.NoGrad()) { qc = q.Detach().Contiguous(); kc = k.Detach().Contiguous(); vc = v.Detach().Contiguous(); }
        var shape = (int[])q.ShapeArr.Clone(); shape[^1] = dv;
        var o = Zeros(shape);
        var lse = new float[bh * tq];
        if (bh > 0 && tq > 0 && tk > 0)
            FlashAttention.Forward(qc.Dense(), kc.Dense(), vc.Dense(), (float[])o.Data, lse, bh, tq, tk, d, dv, (float)scale, mask, window);
        return Autograd.Record(o, "attention", static (n, g) =>
        {
            var s = (AttentionSaved)n.Saved!;
            var (q, k, v) = (n.Inputs[0], n.Inputs[1], n.Inputs[2]);
            if (Autograd.IsEnabled) return AttentionGradientsComposed(q, k, v, g, s.Mask, s.Window, s.Scale);
            int tq = q.ShapeArr[^2], tk = k.ShapeArr[^2], d = q.ShapeArr[^1], dv = v.ShapeArr[^1], bh = NumelOf(q.ShapeArr.AsSpan(0, q.Rank - 2));
            var dq = ZerosLike(s.Q); var dk = ZerosLike(s.K); var dvT = ZerosLike(s.V);
            if (bh > 0 && tq > 0 && tk > 0)
                FlashAttention.Backward(s.Q.Dense(), s.K.Dense(), s.V.Dense(), s.O.Dense(), s.Lse, g.Contiguous().Dense(), (float[])dq.Data, (float[])dk.Data, (float[])dvT.Data,
                    bh, tq, tk, d, dv, (float)s.Scale, s.Mask, s.Window);
            return [dq, dk, dvT];
        }, q, k, v, saved: new AttentionSaved(qc, kc, vc, o.Detach(), lse, mask, window, scale));
    }

    /// <summary>dQ, dK, dV from differentiable primitives (used when the gradient must itself have a graph).</summary>
    static Tensor?[] AttentionGradientsComposed(Tensor q, Tensor k, Tensor v, Tensor g, AttentionMask mask, int window, double scale)
    {
        var p = Functional.AttentionProbabilities(q, k, mask, window, scale);
        var dP = Matmul(g, v.MT);
        var dS = p * (dP - (dP * p).Sum(-1, keepDim: true)) * scale;
        return [Matmul(dS, k), Matmul(dS.MT, q), Matmul(p.MT, g)];
    }

    /// <summary>The float32 storage of a contiguous tensor that starts at offset 0 (copies otherwise).</summary>
    internal float[] Dense()
    {
        if (DType != DType.Float32) throw new EngramException($"expected a float32 tensor, got {DType}");
        ThrowIfReleased();
        if (IsContiguous && Offset == 0 && ((float[])Data).Length == Numel) return (float[])Data;
        return IsContiguous ? Span<float>().ToArray() : (float[])CloneDetached().Data;
    }
}
