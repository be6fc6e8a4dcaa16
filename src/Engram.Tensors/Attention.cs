// The fused attention op: forward and first-order backward run the tile-by-tile kernel; when the gradient
// itself must be differentiable (createGraph), the backward is written with differentiable primitives instead.
using Engram.Tensors.Kernels;

namespace Engram.Tensors;

public sealed partial class Tensor
{
    internal static Tensor FusedAttention(Tensor q, Tensor k, Tensor v, AttentionMask mask, int window, double scale)
    {
        int tq = q.ShapeArr[^2], tk = k.ShapeArr[^2], d = q.ShapeArr[^1], dv = v.ShapeArr[^1];
        int bh = NumelOf(q.ShapeArr.AsSpan(0, q.Rank - 2));
        Tensor qc, kc, vc;
        using (Autograd.NoGrad()) { qc = q.Detach().Contiguous(); kc = k.Detach().Contiguous(); vc = v.Detach().Contiguous(); }
        Span<int> shape = stackalloc int[q.Rank]; q.ShapeArr.CopyTo(shape); shape[^1] = dv;
        var o = Zeros(shape);
        var lse = TensorScope.Rent<float>(bh * tq);
        if (bh > 0 && tq > 0 && tk > 0)
            FlashAttention.Forward(qc.Dense(), kc.Dense(), vc.Dense(), (float[])o.Data, lse, bh, tq, tk, d, dv, (float)scale, mask, window);
        return Autograd.Record(o, "attention", static (n, g) =>
        {
            ref readonly var s = ref n.State; // A, B, C, D: contiguous q, k, v, output; Ref: lse; I: mask; J: window; X: scale
            var (q, k, v) = (n.Inputs[0], n.Inputs[1], n.Inputs[2]);
            var m = (AttentionMask)s.I;
            if (Autograd.IsEnabled) return AttentionGradientsComposed(q, k, v, g, m, s.J, s.X);
            int tq = q.ShapeArr[^2], tk = k.ShapeArr[^2], d = q.ShapeArr[^1], dv = v.ShapeArr[^1],
                bh = NumelOf(q.ShapeArr.AsSpan(0, q.Rank - 2));
            var dq = ZerosLike(s.A!); var dk = ZerosLike(s.B!); var dvT = ZerosLike(s.C!);
            if (bh > 0 && tq > 0 && tk > 0)
                FlashAttention.Backward(s.A!.Dense(), s.B!.Dense(), s.C!.Dense(), s.D!.Dense(), (float[])s.Ref!, g.Contiguous().Dense(),
                    (float[])dq.Data, (float[])dk.Data, (float[])dvT.Data,
                    bh, tq, tk, d, dv, (float)s.X, m, s.J);
            return [dq, dk, dvT];
        }, q, k, v, new SavedState { A = qc, B = kc, C = vc, D = o.Detach(), Ref = lse, I = (int)mask, J = window, X = scale });
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
