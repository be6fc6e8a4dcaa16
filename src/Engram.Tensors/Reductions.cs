// Reductions over any set of axes (sum, mean, max, argmax, logsumexp, var) and softmax. Each output
// element is reduced by one thread in a fixed order, so results never depend on scheduling.
using System.Numerics;
using System.Numerics.Tensors;

namespace Engram.Tensors;

public sealed partial class Tensor
{
    /// <summary>The set of (normalised) dims as a bit mask; all dims when none are given; a repeated dim is an error.</summary>
    int DimsMask(ReadOnlySpan<int> dims, string op)
    {
        if (Rank > 31) throw new ShapeMismatchException($"{op}: at most 31 dimensions, got {ShapeText}");
        if (dims.Length == 0) return (int)((1L << Rank) - 1);
        int mask = 0;
        foreach (var d in dims)
        {
            int nd = NormalizeDim(d, Rank, op);
            if ((mask & 1 << nd) != 0) throw new ShapeMismatchException($"{op}: dimension {d} repeated");
            mask |= 1 << nd;
        }
        return mask;
    }

    /// <summary>Number of elements reduced into each output over the dims in mask.</summary>
    long CountOf(int mask)
    {
        long count = 1;
        for (int i = 0; i < Rank; i++) if ((mask & 1 << i) != 0) count *= ShapeArr[i];
        return count;
    }

    /// <summary>The output shape of a reduction over the dims in mask: size 1 there (keepDim) or those dims dropped; returns its
    /// rank.</summary>
    int ReducedShape(int mask, bool keepDim, Span<int> shape)
    {
        int k = 0;
        for (int i = 0; i < Rank; i++)
        {
            bool reduced = (mask & 1 << i) != 0;
            if (keepDim) shape[k++] = reduced ? 1 : ShapeArr[i];
            else if (!reduced) shape[k++] = ShapeArr[i];
        }
        return k;
    }

    /// <summary>Lays out the reduced dims (mask) last: returns contiguous rows [outer, R] (detached).</summary>
    (Tensor rows, int outer, int r) ReduceLayout(int mask)
    {
        Span<int> perm = stackalloc int[Rank];
        int k = 0, r = 1, outer = 1;
        for (int i = 0; i < Rank; i++) if ((mask & 1 << i) == 0) { perm[k++] = i; outer *= ShapeArr[i]; }
        for (int i = 0; i < Rank; i++) if ((mask & 1 << i) != 0) { perm[k++] = i; r *= ShapeArr[i]; }
        Tensor rows;
        using (Autograd.NoGrad()) rows = Detach().Permute(perm).Contiguous();
        return (rows, outer, r);
    }

    /// <summary>Sum over the given dims (all when none are given).</summary>
    public Tensor Sum(int[]? dims = null, bool keepDim = false) => Sum(dims.AsSpan(), keepDim);

    /// <summary>Sum over the given dims (all when the span is empty).</summary>
    public Tensor Sum(ReadOnlySpan<int> dims, bool keepDim = false) => SumMask(DimsMask(dims, "Sum"), keepDim);

    Tensor SumMask(int mask, bool keepDim)
    {
        ThrowIfReleased();
        // Reduced dims already last in a contiguous tensor: its storage is the [outer, r] rows (no permuted copy).
        int tail = System.Numerics.BitOperations.PopCount((uint)mask);
        bool inPlace = IsContiguous && mask == ((1 << Rank) - 1 ^ (1 << (Rank - tail)) - 1);
        var (rows, outer, r) = inPlace ? (this, 1, 1) : ReduceLayout(mask);
        if (inPlace) for (int i = 0; i < Rank; i++) { if ((mask & 1 << i) != 0) r *= ShapeArr[i]; else outer *= ShapeArr[i]; }
        Span<int> shape = stackalloc int[Rank];
        var y = Zeros(shape[..ReducedShape(mask, keepDim, shape)], DType);
        if (DType == DType.Float32) SumRows(rows.Span<float>(), y.Span<float>(), outer, r);
        else SumRows(rows.Span<double>(), y.Span<double>(), outer, r);
        return Autograd.Record(y, "sum", static (n, g) =>
        {
            var x = n.Inputs[0];
            if (!Autograd.IsEnabled && g.Numel == 1) // a total: its gradient is one value everywhere, written contiguously
            {
                var d = Empty(x.ShapeArr, g.DType);
                if (g.DType == DType.Float32) d.Span<float>().Fill((float)g.Item()); else d.Span<double>().Fill(g.Item());
                return [d];
            }
            Span<int> keepShape = stackalloc int[x.Rank];
            x.ReducedShape(n.State.I, true, keepShape);
            return [g.Reshape(keepShape).Expand(x.ShapeArr)];
        }, this, null, null, new SavedState { I = mask });
    }

    public Tensor Sum(int dim, bool keepDim = false) => Sum([dim], keepDim);

    internal static void SumRows<T>(ReadOnlySpan<T> x, Span<T> y, int outer, int r) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int o = 0; o < outer; o++) y[o] = r == 0 ? T.Zero : SumKernel(x.Slice(o * r, r));
    }

    public Tensor Mean(int[]? dims = null, bool keepDim = false) => MeanMask(DimsMask(dims, "Mean"), keepDim);

    Tensor MeanMask(int mask, bool keepDim) => SumMask(mask, keepDim) * (1.0 / CountOf(mask));

    public Tensor Mean(int dim, bool keepDim = false) => Mean([dim], keepDim);

    /// <summary>Variance with Bessel's correction by default (correction = 1), as PyTorch.</summary>
    public Tensor Var(int[]? dims = null, bool keepDim = false, int correction = 1)
    {
        int mask = DimsMask(dims, "Var");
        var centered = this - MeanMask(mask, keepDim: true);
        return centered.Square().SumMask(mask, keepDim) * (1.0 / Math.Max(0, CountOf(mask) - correction));
    }

    public Tensor Var(int dim, bool keepDim = false, int correction = 1) => Var([dim], keepDim, correction);

    /// <summary>Index of the largest element along dim (first on ties; NaN counts as largest), row-major over the other dims.</summary>
    public int[] Argmax(int dim)
    {
        int d = NormalizeDim(dim, Rank, "Argmax");
        var (rows, outer, r) = ReduceLayout(1 << d);
        if (r == 0) throw new ShapeMismatchException($"Argmax: dimension {d} of shape {ShapeText} is empty");
        var idx = new int[outer];
        var v = rows.ToDoubleArray();
        for (int o = 0; o < outer; o++)
        {
            int best = 0; double bv = v[o * r];
            for (int j = 1; j < r && !double.IsNaN(bv); j++)
            {
                double x = v[o * r + j];
                if (x > bv || double.IsNaN(x)) { bv = x; best = j; }
            }
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
        var (rows, outer, r) = ReduceLayout(1 << d);
        Span<int> shape = stackalloc int[Rank];
        var y = Zeros(shape[..ReducedShape(1 << d, keepDim, shape)], DType);
        if (DType == DType.Float32) LogSumExpRows(rows.Span<float>(), y.Span<float>(), outer, r);
        else LogSumExpRows(rows.Span<double>(), y.Span<double>(), outer, r);
        return Autograd.Record(y, "logsumexp", static (n, g) =>
        {
            var x = n.Inputs[0];
            Span<int> keepShape = stackalloc int[x.Rank];
            x.ReducedShape(1 << n.State.I, true, keepShape);
            return [g.Reshape(keepShape) * x.Softmax(n.State.I)];
        }, this, null, null, new SavedState { I = d });
    }

    internal static void LogSumExpRows<T>(ReadOnlySpan<T> x, Span<T> y, int outer, int r) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T[]? tmp = r > 0 ? TensorScope.Rent<T>(r) : null;
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
            var y = n.State.A!;
            return [y * (g - (g * y).Sum(n.State.I, keepDim: true))];
        }, this, null, null, new SavedState { A = y, I = d });
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
