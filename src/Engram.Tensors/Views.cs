// Shape operations. Reshape (of contiguous data), permute, narrow and expand are views that share
// storage; concat copies. Each records a backward that is itself made of differentiable ops.
namespace Engram.Tensors;

public sealed partial class Tensor
{
    /// <summary>Same data, new shape; one dimension may be −1. A view when contiguous, a copy otherwise.</summary>
    public Tensor Reshape(params int[] shape)
    {
        shape = (int[])shape.Clone();
        int infer = -1, known = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] == -1) { if (infer >= 0) throw new ShapeMismatchException($"Reshape: more than one −1 in {ShapeString(shape)}"); infer = i; }
            else known *= shape[i];
        }
        if (infer >= 0)
        {
            if (known == 0 || Numel % known != 0) throw new ShapeMismatchException($"Reshape: cannot reshape {ShapeText} into {ShapeString(shape)}");
            shape[infer] = Numel / known;
        }
        if (NumelOf(shape) != Numel) throw new ShapeMismatchException($"Reshape: cannot reshape {ShapeText} ({Numel} elements) into {ShapeString(shape)}");
        var src = Contiguous();
        var y = new Tensor(src.Data, shape, ContiguousStrides(shape), src.Offset);
        return Autograd.Record(y, "reshape", static (n, g) => [g.Reshape(n.Inputs[0].ShapeArr)], src);
    }

    public Tensor View(params int[] shape) => Reshape(shape);
    public Tensor Flatten() => Reshape(-1);

    /// <summary>Merges dimensions start..end (inclusive) into one.</summary>
    public Tensor Flatten(int start, int end = -1)
    {
        int s = NormalizeDim(start, Rank, "Flatten"), e = NormalizeDim(end, Rank, "Flatten");
        var shape = new List<int>();
        for (int i = 0; i < s; i++) shape.Add(ShapeArr[i]);
        int m = 1; for (int i = s; i <= e; i++) m *= ShapeArr[i];
        shape.Add(m);
        for (int i = e + 1; i < Rank; i++) shape.Add(ShapeArr[i]);
        return Reshape(shape.ToArray());
    }

    public Tensor Permute(params int[] dims)
    {
        if (dims.Length != Rank) throw new ShapeMismatchException($"Permute: {dims.Length} dimensions given for a tensor of shape {ShapeText}");
        var shape = new int[Rank]; var strides = new int[Rank]; var used = new bool[Rank]; var inverse = new int[Rank];
        for (int i = 0; i < Rank; i++)
        {
            int d = NormalizeDim(dims[i], Rank, "Permute");
            if (used[d]) throw new ShapeMismatchException($"Permute: dimension {d} repeated in [{string.Join(", ", dims)}]");
            used[d] = true; shape[i] = ShapeArr[d]; strides[i] = StridesArr[d]; inverse[d] = i;
        }
        var y = new Tensor(Data, shape, strides, Offset);
        return Autograd.Record(y, "permute", static (n, g) => [g.Permute((int[])n.Saved!)], this, saved: inverse);
    }

    public Tensor Transpose(int dim0, int dim1)
    {
        int a = NormalizeDim(dim0, Rank, "Transpose"), b = NormalizeDim(dim1, Rank, "Transpose");
        var p = new int[Rank];
        for (int i = 0; i < Rank; i++) p[i] = i;
        (p[a], p[b]) = (p[b], p[a]);
        return Permute(p);
    }

    /// <summary>Transpose of the last two dimensions.</summary>
    public Tensor MT => Transpose(-2, -1);

    /// <summary>Elements start..start+length−1 along dim (a view).</summary>
    public Tensor Narrow(int dim, int start, int length)
    {
        int d = NormalizeDim(dim, Rank, "Narrow");
        if (start < 0 || length < 0 || start + length > ShapeArr[d])
            throw new ShapeMismatchException($"Narrow: range [{start}, {start + length}) is outside dimension {d} of shape {ShapeText}");
        var shape = (int[])ShapeArr.Clone(); shape[d] = length;
        var y = new Tensor(Data, shape, StridesArr, Offset + start * StridesArr[d]);
        return Autograd.Record(y, "narrow", static (n, g) =>
        {
            var (d, s) = ((int, int))n.Saved!;
            return [g.NarrowScatter(n.Inputs[0].ShapeArr, d, s)];
        }, this, saved: (d, start));
    }

    /// <summary>Python-style slice along one dimension: [start, end) with negative indices from the end.</summary>
    public Tensor Slice(int dim, int start, int end)
    {
        int d = NormalizeDim(dim, Rank, "Slice"), size = ShapeArr[d];
        if (start < 0) start += size;
        if (end < 0) end += size;
        start = Math.Clamp(start, 0, size); end = Math.Clamp(end, start, size);
        return Narrow(d, start, end - start);
    }

    /// <summary>Zeros of `shape` with this tensor placed at [start, start+len) along dim (the adjoint of Narrow).</summary>
    internal Tensor NarrowScatter(int[] shape, int dim, int start)
    {
        var y = Zeros(shape, DType);
        y.Narrow(dim, start, ShapeArr[dim]).AssignFrom(this);
        return Autograd.Record(y, "narrow_scatter", static (n, g) =>
        {
            var (d, s) = ((int, int))n.Saved!;
            return [g.Narrow(d, s, n.Inputs[0].ShapeArr[d])];
        }, this, saved: (dim, start));
    }

    /// <summary>Writes src's values into this (possibly strided) view. Not recorded.</summary>
    internal void AssignFrom(Tensor src)
    {
        var c = src.Contiguous();
        if (DType == DType.Float32) ScatterStrided(c.Span<float>(), (float[])Data, Offset, ShapeArr, StridesArr);
        else ScatterStrided(c.Span<double>(), (double[])Data, Offset, ShapeArr, StridesArr);
    }

    static void ScatterStrided<T>(ReadOnlySpan<T> src, T[] dst, int offset, int[] shape, int[] strides)
    {
        int rank = shape.Length, n = NumelOf(shape);
        if (n == 0) return;
        if (rank == 0) { dst[offset] = src[0]; return; }
        Span<int> idx = stackalloc int[rank];
        int inner = shape[rank - 1], innerStride = strides[rank - 1], o = offset, r = 0;
        for (int row = 0; row < n / inner; row++)
        {
            for (int j = 0, p = o; j < inner; j++, p += innerStride) dst[p] = src[r++];
            for (int d = rank - 2; d >= 0; d--)
            {
                idx[d]++; o += strides[d];
                if (idx[d] < shape[d]) break;
                o -= strides[d] * shape[d]; idx[d] = 0;
            }
        }
    }

    /// <summary>Broadcasts to a larger shape without copying (stride 0 on new or size-1 dimensions).</summary>
    public Tensor Expand(params int[] shape)
    {
        if (shape.Length < Rank) throw new ShapeMismatchException($"Expand: cannot expand {ShapeText} to fewer dimensions {ShapeString(shape)}");
        int lead = shape.Length - Rank;
        var strides = new int[shape.Length]; var outShape = new int[shape.Length];
        for (int i = 0; i < shape.Length; i++)
        {
            int want = shape[i];
            if (i < lead) { if (want < 0) throw new ShapeMismatchException($"Expand: −1 not allowed for new dimension {i}"); outShape[i] = want; strides[i] = 0; continue; }
            int have = ShapeArr[i - lead];
            if (want == -1 || want == have) { outShape[i] = have; strides[i] = StridesArr[i - lead]; }
            else if (have == 1) { outShape[i] = want; strides[i] = 0; }
            else throw new ShapeMismatchException($"Expand: cannot expand {ShapeText} to {ShapeString(shape)}");
        }
        if (outShape.AsSpan().SequenceEqual(ShapeArr)) return this;
        var y = new Tensor(Data, outShape, strides, Offset);
        return Autograd.Record(y, "expand", static (n, g) => [g.SumToShape(n.Inputs[0].ShapeArr)], this);
    }

    /// <summary>Sums a broadcast gradient back down to `shape` (inverse of broadcasting).</summary>
    public Tensor SumToShape(ReadOnlySpan<int> shape)
    {
        if (ShapeArr.AsSpan().SequenceEqual(shape)) return this;
        int lead = Rank - shape.Length;
        if (lead < 0) throw new ShapeMismatchException($"SumToShape: cannot reduce {ShapeText} to larger rank {ShapeString(shape)}");
        var dims = new List<int>();
        for (int i = 0; i < Rank; i++)
        {
            if (i < lead) dims.Add(i);
            else if (shape[i - lead] == 1 && ShapeArr[i] != 1) dims.Add(i);
            else if (shape[i - lead] != ShapeArr[i]) throw new ShapeMismatchException($"SumToShape: cannot reduce {ShapeText} to {ShapeString(shape)}");
        }
        var s = dims.Count > 0 ? Sum(dims.ToArray(), keepDim: true) : this;
        return s.Reshape(shape.ToArray());
    }

    public Tensor Unsqueeze(int dim)
    {
        int d = dim < 0 ? dim + Rank + 1 : dim;
        if (d < 0 || d > Rank) throw new ShapeMismatchException($"Unsqueeze: dimension {dim} out of range for shape {ShapeText}");
        var shape = new List<int>(ShapeArr); shape.Insert(d, 1);
        return Reshape(shape.ToArray());
    }

    /// <summary>Removes the given size-1 dimension (or all size-1 dimensions).</summary>
    public Tensor Squeeze(int? dim = null)
    {
        var shape = new List<int>();
        int dd = dim is int x ? NormalizeDim(x, Rank, "Squeeze") : -1;
        for (int i = 0; i < Rank; i++)
            if (!(ShapeArr[i] == 1 && (dd < 0 || dd == i))) shape.Add(ShapeArr[i]);
        return Reshape(shape.ToArray());
    }

    /// <summary>Joins tensors of equal shape except along dim.</summary>
    public static Tensor Concat(IReadOnlyList<Tensor> tensors, int dim)
    {
        if (tensors.Count == 0) throw new ShapeMismatchException("Concat: no tensors given");
        var first = tensors[0];
        int d = NormalizeDim(dim, first.Rank, "Concat"), total = 0;
        foreach (var t in tensors)
        {
            if (t.Rank != first.Rank || t.DType != first.DType) throw new ShapeMismatchException($"Concat: shapes {first.ShapeText} ({first.DType}) and {t.ShapeText} ({t.DType}) cannot be joined");
            for (int i = 0; i < t.Rank; i++)
                if (i != d && t.ShapeArr[i] != first.ShapeArr[i]) throw new ShapeMismatchException($"Concat: shapes {first.ShapeText} and {t.ShapeText} differ outside dimension {d}");
            total += t.ShapeArr[d];
        }
        var shape = (int[])first.ShapeArr.Clone(); shape[d] = total;
        var y = Zeros(shape, first.DType);
        var starts = new int[tensors.Count];
        int at = 0;
        for (int i = 0; i < tensors.Count; i++) { starts[i] = at; y.Narrow(d, at, tensors[i].ShapeArr[d]).AssignFrom(tensors[i]); at += tensors[i].ShapeArr[d]; }
        return Autograd.Record(y, "concat", static (n, g) =>
        {
            var (d, starts) = ((int, int[]))n.Saved!;
            var r = new Tensor?[n.Inputs.Length];
            for (int i = 0; i < r.Length; i++) r[i] = g.Narrow(d, starts[i], n.Inputs[i].ShapeArr[d]);
            return r;
        }, tensors.ToArray(), saved: (d, starts));
    }

    public static Tensor Stack(IReadOnlyList<Tensor> tensors, int dim)
    {
        if (tensors.Count == 0) throw new ShapeMismatchException("Stack: no tensors given");
        var u = new Tensor[tensors.Count];
        for (int i = 0; i < u.Length; i++)
        {
            if (!SameShape(tensors[i], tensors[0])) throw new ShapeMismatchException($"Stack: shapes {tensors[0].ShapeText} and {tensors[i].ShapeText} differ");
            u[i] = tensors[i].Unsqueeze(dim);
        }
        return Concat(u, dim);
    }

    /// <summary>Pieces of the given sizes along dim (views).</summary>
    public Tensor[] Split(int[] sizes, int dim)
    {
        int d = NormalizeDim(dim, Rank, "Split"), sum = 0;
        foreach (var s in sizes) sum += s;
        if (sum != ShapeArr[d]) throw new ShapeMismatchException($"Split: sizes [{string.Join(", ", sizes)}] do not add up to dimension {d} of shape {ShapeText}");
        var r = new Tensor[sizes.Length];
        int at = 0;
        for (int i = 0; i < sizes.Length; i++) { r[i] = Narrow(d, at, sizes[i]); at += sizes[i]; }
        return r;
    }

    /// <summary>Pieces of size `size` along dim (the last may be smaller).</summary>
    public Tensor[] Split(int size, int dim)
    {
        int d = NormalizeDim(dim, Rank, "Split");
        if (size <= 0) throw new ShapeMismatchException($"Split: piece size must be positive, got {size}");
        var sizes = new List<int>();
        for (int at = 0; at < ShapeArr[d]; at += size) sizes.Add(Math.Min(size, ShapeArr[d] - at));
        return Split(sizes.ToArray(), d);
    }

    /// <summary>`chunks` pieces along dim, as in PyTorch (ceil-sized, last may be smaller).</summary>
    public Tensor[] Chunk(int chunks, int dim)
    {
        int d = NormalizeDim(dim, Rank, "Chunk");
        if (chunks <= 0) throw new ShapeMismatchException($"Chunk: number of chunks must be positive, got {chunks}");
        return Split(Math.Max(1, (ShapeArr[d] + chunks - 1) / chunks), d);
    }
}
