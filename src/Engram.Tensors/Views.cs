// Shape operations. Reshape (of contiguous data), permute, narrow and expand are views that share
// storage; concat copies. Each records a backward that is itself made of differentiable ops.
namespace Engram.Tensors;

public sealed partial class Tensor
{
    /// <summary>Same data, new shape; one dimension may be −1. A view when contiguous, a copy otherwise.</summary>
    public Tensor Reshape(params ReadOnlySpan<int> newShape)
    {
        Span<int> shape = newShape.Length <= 16 ? stackalloc int[newShape.Length] : new int[newShape.Length];
        newShape.CopyTo(shape);
        int infer = -1, known = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] == -1)
            {
                if (infer >= 0) throw new ShapeMismatchException($"Reshape: more than one −1 in {ShapeString(shape)}");
                infer = i;
            }
            else known *= shape[i];
        }
        if (infer >= 0)
        {
            if (known == 0 || Numel % known != 0)
                throw new ShapeMismatchException($"Reshape: cannot reshape {ShapeText} into {ShapeString(shape)}");
            shape[infer] = Numel / known;
        }
        if (NumelOf(shape) != Numel)
            throw new ShapeMismatchException($"Reshape: cannot reshape {ShapeText} ({Numel} elements) into {ShapeString(shape)}");
        var src = Contiguous();
        var y = Create(src.Data, shape);
        y._offset = src.Offset;
        return Autograd.Record(y, "reshape", static (n, g) => [g.Reshape(n.Inputs[0].ShapeArr)], src);
    }

    public Tensor View(params ReadOnlySpan<int> shape) => Reshape(shape);
    public Tensor Flatten() => Reshape(-1);

    /// <summary>Merges dimensions start..end (inclusive) into one.</summary>
    public Tensor Flatten(int start, int end = -1)
    {
        int s = NormalizeDim(start, Rank, "Flatten"), e = NormalizeDim(end, Rank, "Flatten");
        Span<int> shape = stackalloc int[Rank - (e - s)];
        int k = 0;
        for (int i = 0; i < s; i++) shape[k++] = ShapeArr[i];
        int m = 1; for (int i = s; i <= e; i++) m *= ShapeArr[i];
        shape[k++] = m;
        for (int i = e + 1; i < Rank; i++) shape[k++] = ShapeArr[i];
        return Reshape(shape);
    }

    public Tensor Permute(params ReadOnlySpan<int> dims)
    {
        if (dims.Length != Rank)
            throw new ShapeMismatchException($"Permute: {dims.Length} dimensions given for a tensor of shape {ShapeText}");
        if (Rank > MaxPermuteRank) throw new ShapeMismatchException($"Permute: at most {MaxPermuteRank} dimensions, got {ShapeText}");
        Span<int> shape = stackalloc int[Rank]; Span<int> strides = stackalloc int[Rank];
        int used = 0; long inverse = 0;
        for (int i = 0; i < Rank; i++)
        {
            int d = NormalizeDim(dims[i], Rank, "Permute");
            if ((used & 1 << d) != 0)
                throw new ShapeMismatchException($"Permute: dimension {d} repeated in [{string.Join(", ", dims.ToArray())}]");
            used |= 1 << d; shape[i] = ShapeArr[d]; strides[i] = StridesArr[d]; inverse |= (long)i << 4 * d;
        }
        var y = Create(Data, shape, strides, Offset);
        // The inverse permutation is packed four bits a dimension into one long (no array kept per node).
        return Autograd.Record(y, "permute", static (n, g) =>
        {
            Span<int> inv = stackalloc int[g.Rank];
            UnpackPermutation(n.State.I, n.State.X, inv);
            return [g.Permute(inv)];
        }, this, null, null, new SavedState { I = Rank, X = BitConverter.Int64BitsToDouble(inverse) });
    }

    const int MaxPermuteRank = 16;

    static void UnpackPermutation(int rank, double packed, Span<int> p)
    {
        long bits = BitConverter.DoubleToInt64Bits(packed);
        for (int i = 0; i < rank; i++) p[i] = (int)(bits >> 4 * i & 15);
    }

    /// <summary>Whether this tensor is the plain transpose of a 2-D leaf (Linear's weight.MT): returns that leaf.</summary>
    internal Tensor? TransposeOfMatrix()
    {
        if (GradFn is not { Op: "permute" } node || Rank != 2 || node.State.I != 2) return null;
        Span<int> p = stackalloc int[2];
        UnpackPermutation(2, node.State.X, p);
        return p[0] == 1 ? node.Inputs[0] : null;
    }

    public Tensor Transpose(int dim0, int dim1)
    {
        int a = NormalizeDim(dim0, Rank, "Transpose"), b = NormalizeDim(dim1, Rank, "Transpose");
        Span<int> p = stackalloc int[Rank];
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
        Span<int> shape = stackalloc int[Rank]; ShapeArr.CopyTo(shape); shape[d] = length;
        var y = Create(Data, shape, StridesArr, Offset + start * StridesArr[d]);
        return Autograd.Record(y, "narrow", static (n, g) => [g.NarrowScatter(n.Inputs[0].ShapeArr, n.State.I, n.State.J)],
            this, null, null, new SavedState { I = d, J = start });
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
    internal Tensor NarrowScatter(ReadOnlySpan<int> shape, int dim, int start)
    {
        var y = Zeros(shape, DType);
        y.Narrow(dim, start, ShapeArr[dim]).AssignFrom(this);
        return Autograd.Record(y, "narrow_scatter", static (n, g) => [g.Narrow(n.State.I, n.State.J, n.Inputs[0].ShapeArr[n.State.I])],
            this, null, null, new SavedState { I = dim, J = start });
    }

    /// <summary>Writes src's values into this (possibly strided) view. Not recorded.</summary>
    internal void AssignFrom(Tensor src)
    {
        var c = src.Contiguous();
        if (DType == DType.Float32) ScatterStrided(c.Span<float>(), (float[])Data, Offset, ShapeArr, StridesArr);
        else ScatterStrided(c.Span<double>(), (double[])Data, Offset, ShapeArr, StridesArr);
    }

    static void ScatterStrided<T>(ReadOnlySpan<T> src, T[] dst, int offset, ReadOnlySpan<int> shape, ReadOnlySpan<int> strides)
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
    public Tensor Expand(params ReadOnlySpan<int> shape)
    {
        if (shape.Length < Rank)
            throw new ShapeMismatchException($"Expand: cannot expand {ShapeText} to fewer dimensions {ShapeString(shape)}");
        int lead = shape.Length - Rank;
        Span<int> strides = stackalloc int[shape.Length]; Span<int> outShape = stackalloc int[shape.Length];
        for (int i = 0; i < shape.Length; i++)
        {
            int want = shape[i];
            if (i < lead)
            {
                if (want < 0) throw new ShapeMismatchException($"Expand: −1 not allowed for new dimension {i}");
                outShape[i] = want;
                strides[i] = 0;
                continue;
            }
            int have = ShapeArr[i - lead];
            if (want == -1 || want == have) { outShape[i] = have; strides[i] = StridesArr[i - lead]; }
            else if (have == 1) { outShape[i] = want; strides[i] = 0; }
            else throw new ShapeMismatchException($"Expand: cannot expand {ShapeText} to {ShapeString(shape)}");
        }
        if (outShape.SequenceEqual(ShapeArr)) return this;
        var y = Create(Data, outShape, strides, Offset);
        return Autograd.Record(y, "expand", static (n, g) => [g.SumToShape(n.Inputs[0].ShapeArr)], this);
    }

    /// <summary>Sums a broadcast gradient back down to `shape` (inverse of broadcasting).</summary>
    public Tensor SumToShape(ReadOnlySpan<int> shape)
    {
        if (ShapeArr.AsSpan().SequenceEqual(shape)) return this;
        int lead = Rank - shape.Length;
        if (lead < 0) throw new ShapeMismatchException($"SumToShape: cannot reduce {ShapeText} to larger rank {ShapeString(shape)}");
        Span<int> dims = stackalloc int[Rank];
        int count = 0;
        for (int i = 0; i < Rank; i++)
        {
            if (i < lead) dims[count++] = i;
            else if (shape[i - lead] == 1 && ShapeArr[i] != 1) dims[count++] = i;
            else if (shape[i - lead] != ShapeArr[i])
                throw new ShapeMismatchException($"SumToShape: cannot reduce {ShapeText} to {ShapeString(shape)}");
        }
        var s = count > 0 ? Sum(dims[..count], keepDim: true) : this;
        return s.Reshape(shape);
    }

    public Tensor Unsqueeze(int dim)
    {
        int d = dim < 0 ? dim + Rank + 1 : dim;
        if (d < 0 || d > Rank) throw new ShapeMismatchException($"Unsqueeze: dimension {dim} out of range for shape {ShapeText}");
        Span<int> shape = stackalloc int[Rank + 1];
        for (int i = 0, k = 0; i <= Rank; i++) shape[i] = i == d ? 1 : ShapeArr[k++];
        return Reshape(shape);
    }

    /// <summary>Removes the given size-1 dimension (or all size-1 dimensions).</summary>
    public Tensor Squeeze(int? dim = null)
    {
        Span<int> shape = stackalloc int[Rank];
        int k = 0;
        int dd = dim is int x ? NormalizeDim(x, Rank, "Squeeze") : -1;
        for (int i = 0; i < Rank; i++)
            if (!(ShapeArr[i] == 1 && (dd < 0 || dd == i))) shape[k++] = ShapeArr[i];
        return Reshape(shape[..k]);
    }

    /// <summary>Joins tensors of equal shape except along dim.</summary>
    public static Tensor Concat(IReadOnlyList<Tensor> tensors, int dim)
    {
        if (tensors.Count == 0) throw new ShapeMismatchException("Concat: no tensors given");
        var first = tensors[0];
        int d = NormalizeDim(dim, first.Rank, "Concat"), total = 0;
        foreach (var t in tensors)
        {
            if (t.Rank != first.Rank || t.DType != first.DType)
                throw new ShapeMismatchException($"Concat: shapes {first.ShapeText} ({first.DType}) and {t.ShapeText} ({t.DType}) " +
                    "cannot be joined");
            for (int i = 0; i < t.Rank; i++)
                if (i != d && t.ShapeArr[i] != first.ShapeArr[i])
                    throw new ShapeMismatchException($"Concat: shapes {first.ShapeText} and {t.ShapeText} differ outside dimension {d}");
            total += t.ShapeArr[d];
        }
        Span<int> shape = stackalloc int[first.Rank]; first.ShapeArr.CopyTo(shape); shape[d] = total;
        var y = Zeros(shape, first.DType);
        var starts = new int[tensors.Count];
        int at = 0;
        for (int i = 0; i < tensors.Count; i++)
        {
            starts[i] = at;
            y.Narrow(d, at, tensors[i].ShapeArr[d]).AssignFrom(tensors[i]);
            at += tensors[i].ShapeArr[d];
        }
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
            if (!SameShape(tensors[i], tensors[0]))
                throw new ShapeMismatchException($"Stack: shapes {tensors[0].ShapeText} and {tensors[i].ShapeText} differ");
            u[i] = tensors[i].Unsqueeze(dim);
        }
        return Concat(u, dim);
    }

    /// <summary>Pieces of the given sizes along dim (views).</summary>
    public Tensor[] Split(int[] sizes, int dim)
    {
        int d = NormalizeDim(dim, Rank, "Split"), sum = 0;
        foreach (var s in sizes) sum += s;
        if (sum != ShapeArr[d])
            throw new ShapeMismatchException($"Split: sizes [{string.Join(", ", sizes)}] do not add up to dimension {d} of " +
                $"shape {ShapeText}");
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
