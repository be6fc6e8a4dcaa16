// Reductions over any set of axes (sum, mean, max, argmax, logsumexp, var) and softmax. Each output
// element is reduced by one thread in a fixed order, so results never depend on scheduling.
using System.Numerics;
using System.Numerics.Tensors;

namespace Engram.Tensors;

public sealed partial class Tensor
{
    int[] NormalizeDims(int[]? dims, string op)
    {
        if (dims is null || dims.Length == 0) { var all = new int[Rank]; for (int i = 0; i < Rank; i++) all[i] = i; return all; }
        var set = new SortedSet<int>();
        foreach (var d in dims) if (!set.Add(NormalizeDim(d, Rank, op))) throw new ShapeMismatchException($"{op}: dimension {d} repeated");
        return set.ToArray();
    }

    /// <summary>Lays out the reduced dims last: returns contiguous rows [outer, R] (detached) and the keep-dim output shape.</summary>
    (Tensor rows, int outer, int r, int[] keepShape, int[] dropShape) ReduceLayout(int[] dims)
    {
        var perm = new List<int>(); var keep = (int[])ShapeArr.Clone(); var drop = new List<int>();
        int r = 1;
        for (int i = 0; i < Rank; i++)
        {
            if (Array.IndexOf(dims, i) >= 0) { keep[i] = 1; r *= ShapeArr[i]; }
            else { perm.Add(i); drop.Add(ShapeArr[i]); }
        }
        perm.AddRange(dims);
        Tensor rows;
        using (Autograd.NoGrad()) rows = Detach().Permute(perm.ToArray()).Contiguous();
        int outer = r == 0 ? NumelOf(drop.ToArray()) : Numel / r;
        return (rows, outer, r, keep, drop.ToArray());
    }

    /// <summary>Sum over the given dims (all when none are given).</summary>
    public Tensor Sum(int[]? dims = null, bool keepDim = false)
    {
        var ds = NormalizeDims(dims, "Sum");
        var (rows, outer, r, keepShape, dropShape) = ReduceLayout(ds);
        var y = Zeros(keepDim ? keepShape : dropShape, DType);
        if (DType == DType.Float32) SumRows(rows.Span<float>(), y.Span<float>(), outer, r);
        else SumRows(rows.Span<double>(), y.Span<double>(), outer, r);
        return Autograd.Record(y, "sum", static (n, g) =>
        {
            var keepShape = (int[])n.Saved!;
            return [g.Reshape(keepShape).Expand(n.Inputs[0].ShapeArr)];
        }, this, saved: keepShape);
    }

    public Tensor Sum(int dim, bool keepDim = false) => Sum([dim], keepDim);

    internal static void SumRows<T>(ReadOnlySpan<T> x, Span<T> y, int outer, int r) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int o = 0; o < outer; o++) y[o] = r == 0 ? T.Zero : SumKernel(x.Slice(o * r, r));
    }

    public Tensor Mean(int[]? dims = null, bool keepDim = false)
    {
        var ds = NormalizeDims(dims, "Mean");
        long count = 1; foreach (var d in ds) count *= ShapeArr[d];
        return Sum(ds, keepDim) * (1.0 / count);
    }

    public Tensor Mean(int dim, bool keepDim = false) => Mean([dim], keepDim);

    /// <summary>Variance with Bessel's correction by default (correction = 1), as PyTorch.</summary>
    public Tensor Var(int[]? dims = null, bool keepDim = false, int correction = 1)
    {
        var ds = NormalizeDims(dims, "Var");
        long count = 1; foreach (var d in ds) count *= ShapeArr[d];
        var centered = this - Mean(ds, keepDim: true);
        return centered.Square().Sum(ds, keepDim) * (1.0 / Math.Max(0, count - correction));
    }

    public Tensor Var(int dim, bool keepDim = false, int correction = 1) => Var([dim], keepDim, correction);

    /// <summary>Index of the largest element along dim (first on ties; NaN counts as largest), row-major over the other dims.</summary>
    public int[] Argmax(int dim)
    {
        int d = NormalizeDim(dim, Rank, "Argmax");
        var (rows, outer, r, _, _) = ReduceLayout([d]);
        if (r == 0) throw new ShapeMismatchException($"Argmax: dimension {d} of shape {ShapeText} is empty");
        var idx = new int[outer];
        var v = rows.ToDoubleArray();
        for (int o = 0; o < outer; o++)
        {
            int best = 0; double bv = v[o * r];
            for (int j = 1; j < r && !double.IsNaN(bv); j++) { double x = v[o * r + j]; if (x > bv || double.IsNaN(x)) { bv = x; best = j; } }
            idx[o] = best;
        }
        return idx;
    }

    /// <summary>Largest value along dim; the gradient goes to the argmax.</summary>
    public Tensor Max(int dim, bool keepDim = false)
    {
        int d = NormalizeDim(dim, Rank, "Max");
        var keep = (int[])ShapeArr.Clone(); keep[d] = 1;
        var y = Gather(d, Argmax(d), keep);
        return keepDim ? y : y.Squeeze(d);
    }

    /// <summary>Largest element overall.</summary>
    public Tensor Max() => Flatten().Max(0);

    public Tensor Min(int dim, bool keepDim = false) => -(-this).Max(dim, keepDim);

    /// <summary>log Σ exp along dim, computed stably (max subtracted).</summary>
    public Tensor LogSumExp(int dim, bool keepDim = false)
    {
        int d = NormalizeDim(dim, Rank, "LogSumExp");
        var (rows, outer, r, keepShape, dropShape) = ReduceLayout([d]);
        var y = Zeros(keepDim ? keepShape : dropShape, DType);
        if (DType == DType.Float32) LogSumExpRows(rows.Span<float>(), y.Span<float>(), outer, r);
        else LogSumExpRows(rows.Span<double>(), y.Span<double>(), outer, r);
        return Autograd.Record(y, "logsumexp", static (n, g) =>
        {
            var (d, keepShape) = ((int, int[]))n.Saved!;
            return [g.Reshape(keepShape) * n.Inputs[0].Softmax(d)];
        }, this, saved: (d, keepShape));
    }

    internal static void LogSumExpRows<T>(ReadOnlySpan<T> x, Span<T> y, int outer, int r) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T[]? tmp = r > 0 ? new T[r] : null;
        for (int o = 0; o < outer; o++)
        {
            if (r == 0) { y[o] = T.NegativeInfinity; continue; }
            var row = x.Slice(o * r, r);
            T m = TensorPrimitives.Max(row);
            if (T.IsInfinity(m)) { y[o] = m; continue; }
            TensorPrimitives.Subtract(row, m, tmp);
            ExpKernel<T>(tmp, tmp);
            y[o] = m + T.CreateTruncating(PortableMath.Log(double.CreateTruncating(SumKernel<T>(tmp))));
        }
    }

    /// <summary>Softmax along dim.</summary>
    public Tensor Softmax(int dim)
    {
        int d = NormalizeDim(dim, Rank, "Softmax");
        Tensor y;
        using (Autograd.NoGrad())
        {
            var xt = Detach().Transpose(d, Rank - 1).Contiguous();
            var yt = ZerosLike(xt);
            int r = ShapeArr[d], outer = r == 0 ? 0 : Numel / r;
            if (DType == DType.Float32) SoftmaxRows(xt.Span<float>(), yt.Span<float>(), outer, r);
            else SoftmaxRows(xt.Span<double>(), yt.Span<double>(), outer, r);
            y = d == Rank - 1 ? yt : yt.Transpose(d, Rank - 1).Contiguous();
        }
        return Autograd.Record(y, "softmax", static (n, g) =>
        {
            var (d, y) = ((int, Tensor))n.Saved!;
            return [y * (g - (g * y).Sum(d, keepDim: true))];
        }, this, saved: (d, y));
    }

    internal static void SoftmaxRows<T>(ReadOnlySpan<T> x, Span<T> y, int outer, int r) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int o = 0; o < outer; o++)
        {
            var row = x.Slice(o * r, r); var dst = y.Slice(o * r, r);
            T m = TensorPrimitives.Max(row);
            TensorPrimitives.Subtract(row, m, dst);
            ExpKernel<T>(dst, dst);
            T s = SumKernel<T>(dst);
            TensorPrimitives.Multiply(dst, T.One / s, dst);
        }
    }

    /// <summary>log softmax along dim: x − logsumexp(x).</summary>
    public Tensor LogSoftmax(int dim) => this - LogSumExp(dim, keepDim: true);
}
