// Fused kernels for memory-bound chains. This file holds: RMSNorm, cross-entropy (softmax and stablemax), RoPE and
// SwiGLU (forward and backward each), and the one-pass backward of unary element-wise ops. Each computes its forward
// in one pass and its first-order backward with a dedicated kernel; when the gradient must itself be differentiable
// (createGraph), the backward differentiates the reference built from primitives (Functional.*Reference) instead, so second order
// still works. Attention's fused kernel lives in Kernels/FlashAttention.cs, AdamW's in Optim/.
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace Engram.Tensors;

public static class Fused
{
    /// <summary>Backward through the reference (recomputed with a graph): used under createGraph.</summary>
    static Tensor?[] ReferenceBackward(Func<Tensor[], Tensor> reference, Node n, Tensor g)
        => Autograd.Grad([reference(n.Inputs)], n.Inputs, [g], retainGraph: true, createGraph: true);

    static Span<T> SpanOrEmpty<T>(Tensor? t) where T : unmanaged => t is null ? default : t.Detach().Contiguous().Span<T>();

    // ------------------------------------------------------------------ RMSNorm
    // x [R, C] rows; y = x·r·w with r = 1/√(mean(x²) + eps); saves r per row.
    // dx = r·(g·w − x̂·mean(g·w·x̂)), x̂ = x·r;  dw = Σ_rows g·x̂.

    public static Tensor RmsNorm(Tensor x, Tensor? weight, double eps)
    {
        var xc = x.Detach().Contiguous();
        int C = x.Shape[^1], rows = C == 0 ? 0 : x.Numel / C;
        var y = Tensor.EmptyLike(xc);
        var r = TensorScope.Rent<double>(rows);
        if (x.DType == DType.Float32) RmsForward<float>(xc.Span<float>(), SpanOrEmpty<float>(weight), y.Span<float>(), r, rows, C, eps);
        else RmsForward<double>(xc.Span<double>(), SpanOrEmpty<double>(weight), y.Span<double>(), r, rows, C, eps);
        return Autograd.Record(y, "rms_norm", RmsNormBackward, x, weight, null, new SavedState { A = xc, Ref = r, X = eps });
    }

    static readonly BackwardFn RmsNormBackward = static (n, g) =>
    {
        if (Autograd.IsEnabled) return RmsNormReferenceBackward(n, g);
        var x = n.State.A!; var r = (double[])n.State.Ref!;
        var w = n.Inputs.Length > 1 ? n.Inputs[1] : null;
        var dx = Tensor.EmptyLike(x);
        var dw = w is null ? null : Tensor.ZerosLike(w); // accumulated over rows
        var gc = g.Contiguous();
        int C = x.Shape[^1], rows = r.Length;
        if (x.DType == DType.Float32)
            RmsBackward<float>(x.Span<float>(), SpanOrEmpty<float>(w), gc.Span<float>(), r, dx.Span<float>(),
                dw is null ? default : dw.Span<float>(), rows, C);
        else
            RmsBackward<double>(x.Span<double>(), SpanOrEmpty<double>(w), gc.Span<double>(), r, dx.Span<double>(),
                dw is null ? default : dw.Span<double>(), rows, C);
        return w is null ? [dx.Reshape(n.Inputs[0].ShapeArr)] : [dx.Reshape(n.Inputs[0].ShapeArr), dw];
    };

    static GradList RmsNormReferenceBackward(Node n, Tensor g)
    {
        double eps = n.State.X;
        return ReferenceBackward(i => Functional.RmsNormReference(i[0], i.Length > 1 ? i[1] : null, eps), n, g);
    }

    static void RmsForward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> w, Span<T> y, double[] r, int rows, int C, double eps)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < rows; i++)
        {
            var xr = x.Slice(i * C, C); var yr = y.Slice(i * C, C);
            double ms = double.CreateTruncating(Tensor.SumOfSquaresKernel(xr)) / C;
            r[i] = 1 / Math.Sqrt(ms + eps);
            TensorPrimitives.Multiply(xr, T.CreateTruncating(r[i]), yr);
            if (!w.IsEmpty) TensorPrimitives.Multiply(yr, w, yr);
        }
    }

    static void RmsBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> w, ReadOnlySpan<T> g, double[] r, Span<T> dx, Span<T> dw, int rows, int C)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var gw = TensorScope.Rent<T>(C); var xhat = TensorScope.Rent<T>(C);
        for (int i = 0; i < rows; i++)
        {
            var xr = x.Slice(i * C, C); var gr = g.Slice(i * C, C); var dxr = dx.Slice(i * C, C);
            T ri = T.CreateTruncating(r[i]);
            TensorPrimitives.Multiply(xr, ri, xhat);
            if (w.IsEmpty) gr.CopyTo(gw); else TensorPrimitives.Multiply(gr, w, gw);
            if (!dw.IsEmpty) TensorPrimitives.FusedMultiplyAdd(gr, xhat, dw, dw);
            T mean = Tensor.DotKernel<T>(gw, xhat) / T.CreateTruncating(C);
            // dx = r·(gw − x̂·mean)
            TensorPrimitives.FusedMultiplyAdd<T>(xhat, -mean, gw, dxr);
            TensorPrimitives.Multiply(dxr, ri, dxr);
        }
    }

    // ------------------------------------------------------------------ cross-entropy
    // logits [R, C]; loss = mean over kept rows of (lse − x[t]); dlogits = (softmax − onehot)·g/count on kept rows.

    public static Tensor CrossEntropy(Tensor logits, int[] targets, int ignoreIndex)
    {
        var (rows, C, count) = Functional.CheckTargets(logits, targets, ignoreIndex, "CrossEntropy");
        var xc = logits.Detach().Contiguous();
        double total = 0;
        if (logits.DType == DType.Float32) total = CeForward<float>(xc.Span<float>(), targets, ignoreIndex, rows, C);
        else total = CeForward<double>(xc.Span<double>(), targets, ignoreIndex, rows, C);
        var loss = Tensor.Scalar(total / count, logits.DType); // every target ignored: 0/0 = NaN, zero gradients (as the reference)
        var kept = TensorScope.Rent<int>(targets.Length); // the caller may change its array before backward
        targets.CopyTo(kept, 0);
        return Autograd.Record(loss, "cross_entropy", static (n, g) =>
        {
            if (Autograd.IsEnabled) return CrossEntropyReferenceBackward(n, g);
            var x = n.State.A!; var targets = (int[])n.State.Ref!;
            var dx = Tensor.ZerosLike(x);
            int C = x.Shape[^1], rows = targets.Length;
            double scale = g.Item() / n.State.J;
            if (x.DType == DType.Float32) CeBackward<float>(x.Span<float>(), targets, n.State.I, dx.Span<float>(), rows, C, scale);
            else CeBackward<double>(x.Span<double>(), targets, n.State.I, dx.Span<double>(), rows, C, scale);
            return [dx.Reshape(n.Inputs[0].ShapeArr)];
        }, logits, null, null, new SavedState { A = xc, Ref = kept, I = ignoreIndex, J = count });
    }

    static GradList CrossEntropyReferenceBackward(Node n, Tensor g)
    {
        var targets = (int[])n.State.Ref!; int ignore = n.State.I;
        return ReferenceBackward(i => Functional.CrossEntropyReference(i[0], targets, ignore), n, g);
    }

    static double CeForward<T>(ReadOnlySpan<T> x, int[] targets, int ignore, int rows, int C) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double total = 0;
        var tmp = TensorScope.Rent<T>(C);
        for (int i = 0; i < rows; i++)
        {
            if (targets[i] == ignore) continue;
            var row = x.Slice(i * C, C);
            T m = TensorPrimitives.Max(row);
            TensorPrimitives.Subtract(row, m, tmp);
            Tensor.ExpKernel<T>(tmp, tmp);
            double lse = double.CreateTruncating(m) + PortableMath.Log(double.CreateTruncating(Tensor.SumKernel<T>(tmp)));
            total += lse - double.CreateTruncating(row[targets[i]]);
        }
        return total;
    }

    static void CeBackward<T>(ReadOnlySpan<T> x, int[] targets, int ignore, Span<T> dx, int rows, int C, double scale)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < rows; i++)
        {
            if (targets[i] == ignore) continue;
            var row = x.Slice(i * C, C); var d = dx.Slice(i * C, C);
            T m = TensorPrimitives.Max(row);
            TensorPrimitives.Subtract(row, m, d);
            Tensor.ExpKernel<T>(d, d);
            T sum = Tensor.SumKernel<T>(d);
            TensorPrimitives.Multiply(d, T.CreateTruncating(scale) / sum, d);
            d[targets[i]] -= T.CreateTruncating(scale);
        }
    }

    // ------------------------------------------------------------------ rotary embeddings
    // x [..., T, D], tables [T, D]: y = x·cos + R(x)·sin with R([x₁, x₂]) = [−x₂, x₁];
    // dx = g·cos + Rᵀ(g·sin) with Rᵀ([u₁, u₂]) = [u₂, −u₁]. The tables are constants (no gradient).

    public static Tensor Rotary(Tensor x, Tensor cos, Tensor sin)
    {
        var xc = x.Detach().Contiguous();
        var c = cos.Detach().To(x.DType).Contiguous(); var s = sin.Detach().To(x.DType).Contiguous();
        var y = Tensor.EmptyLike(xc);
        if (x.DType == DType.Float32)
            RotaryKernel<float>(xc.Span<float>(), c.Span<float>(), s.Span<float>(), y.Span<float>(), c.Numel, x.Shape[^1], inverse: false);
        else
            RotaryKernel<double>(xc.Span<double>(), c.Span<double>(), s.Span<double>(), y.Span<double>(), c.Numel, x.Shape[^1],
                inverse: false);
        return Autograd.Record(y, "rotary", static (n, g) =>
        {
            if (Autograd.IsEnabled) return RotaryReferenceBackward(n, g);
            var c = n.State.A!; var s = n.State.B!;
            var gc = g.Contiguous(); var dx = Tensor.EmptyLike(gc);
            if (g.DType == DType.Float32)
                RotaryKernel<float>(gc.Span<float>(), c.Span<float>(), s.Span<float>(), dx.Span<float>(), c.Numel, g.Shape[^1],
                    inverse: true);
            else
                RotaryKernel<double>(gc.Span<double>(), c.Span<double>(), s.Span<double>(), dx.Span<double>(), c.Numel, g.Shape[^1],
                    inverse: true);
            return [dx];
        }, x, null, null, new SavedState { A = c, B = s });
    }

    static GradList RotaryReferenceBackward(Node n, Tensor g)
    {
        var c = n.State.A!; var s = n.State.B!;
        return ReferenceBackward(i => Functional.ApplyRotaryReference(i[0], c, s), n, g);
    }

    /// <summary>y = x·cos + R(x)·sin (or, inverse, the adjoint x·cos + Rᵀ(x·sin)) over rows of D, tables cycling every T·D
    /// elements.</summary>
    static void RotaryKernel<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> cos, ReadOnlySpan<T> sin, Span<T> y, int table, int D, bool inverse)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int half = D / 2;
        for (int start = 0; start < x.Length; start += table)
            for (int row = 0; row < table; row += D)
            {
                var xr = x.Slice(start + row, D); var yr = y.Slice(start + row, D);
                var c = cos.Slice(row, D); var s = sin.Slice(row, D);
                for (int i = 0; i < half; i++)
                {
                    T x1 = xr[i], x2 = xr[i + half];
                    if (!inverse)
                    {
                        yr[i] = x1 * c[i] - x2 * s[i];
                        yr[i + half] = x2 * c[i + half] + x1 * s[i + half];
                    }
                    else
                    {
                        yr[i] = x1 * c[i] + x2 * s[i + half];
                        yr[i + half] = x2 * c[i + half] - x1 * s[i];
                    }
                }
            }
    }

    // ------------------------------------------------------------------ SwiGLU
    // y = silu(a)·b;  da = g·b·σ(a)·(1 + a·(1 − σ(a))),  db = g·silu(a).

    public static Tensor SwiGlu(Tensor gate, Tensor up)
    {
        var a = gate.Detach().Contiguous(); var b = up.Detach().Contiguous();
        var y = Tensor.EmptyLike(a);
        if (a.DType == DType.Float32) SwiGluForward<float>(a.Span<float>(), b.Span<float>(), y.Span<float>());
        else SwiGluForward<double>(a.Span<double>(), b.Span<double>(), y.Span<double>());
        return Autograd.Record(y, "swiglu", static (n, g) =>
        {
            if (Autograd.IsEnabled) return ReferenceBackward(static i => Functional.SwiGluReference(i[0], i[1]), n, g);
            var a = n.State.A!; var b = n.State.B!;
            var da = Tensor.EmptyLike(a); var db = Tensor.EmptyLike(b); var gc = g.Contiguous();
            if (a.DType == DType.Float32)
                SwiGluBackward<float>(a.Span<float>(), b.Span<float>(), gc.Span<float>(), da.Span<float>(), db.Span<float>());
            else
                SwiGluBackward<double>(a.Span<double>(), b.Span<double>(), gc.Span<double>(), da.Span<double>(), db.Span<double>());
            return [da, db];
        }, gate, up, null, new SavedState { A = a, B = b });
    }

    static void SwiGluForward<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (a.IsEmpty) return;
        Tensor.SigmoidKernel(a, y);
        TensorPrimitives.Multiply(y, a, y);
        TensorPrimitives.Multiply(y, b, y);
    }

    static void SwiGluBackward<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> g, Span<T> da, Span<T> db)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (a.IsEmpty) return;
        Tensor.SigmoidKernel(a, da);                     // σ
        for (int i = 0; i < a.Length; i++)
        {
            T s = da[i], silu = a[i] * s;
            db[i] = g[i] * silu;
            da[i] = g[i] * b[i] * s * (T.One + a[i] * (T.One - s));
        }
    }
}
