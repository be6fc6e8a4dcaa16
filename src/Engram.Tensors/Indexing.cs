// Integer indexing: index_select / index_add, gather / scatter_add, embedding lookup. Indices are
// plain int arrays (row-major, with an explicit shape where it matters); each op's backward is its adjoint.
namespace Engram.Tensors;

public sealed partial class Tensor
{
    static void CheckIndex(int value, int size, string op, int dim)
    {
        if ((uint)value >= (uint)size)
            throw new ShapeMismatchException($"{op}: index {value} is out of range for dimension {dim} of size {size}");
    }

    /// <summary>Rows (slices along dim) picked by index, in order: out.shape[dim] = index.Length.</summary>
    public Tensor IndexSelect(int dim, int[] index)
    {
        int d = NormalizeDim(dim, Rank, "IndexSelect");
        foreach (var i in index) CheckIndex(i, ShapeArr[d], "IndexSelect", d);
        var shape = (int[])ShapeArr.Clone(); shape[d] = index.Length;
        var y = Zeros(shape, DType);
        var src = Detach();
        if (d == 0 && src.IsContiguous)
        {
            int row = Numel / Math.Max(1, ShapeArr[0]);
            for (int i = 0; i < index.Length; i++)
                if (DType == DType.Float32) Array.Copy((float[])Data, Offset + index[i] * row, (float[])y.Data, i * row, row);
                else Array.Copy((double[])Data, Offset + index[i] * row, (double[])y.Data, i * row, row);
        }
        else
            for (int i = 0; i < index.Length; i++) y.Narrow(d, i, 1).AssignFrom(src.Narrow(d, index[i], 1));
        return Autograd.Record(y, "index_select", static (n, g) =>
        {
            var (d, index) = ((int, int[]))n.Saved!;
            return [ZerosLike(n.Inputs[0]).IndexAdd(d, index, g)];
        }, this, saved: (d, index));
    }

    /// <summary>this + (src's slices added at the positions index names along dim); repeated indices accumulate in order.</summary>
    public Tensor IndexAdd(int dim, int[] index, Tensor src)
    {
        int d = NormalizeDim(dim, Rank, "IndexAdd");
        CheckDType(this, src, "IndexAdd");
        var want = (int[])ShapeArr.Clone(); want[d] = index.Length;
        if (!src.ShapeArr.AsSpan().SequenceEqual(want))
            throw new ShapeMismatchException($"IndexAdd: source shape {src.ShapeText}, expected {ShapeString(want)} for {index.Length} " +
                $"indices into {ShapeText}");
        foreach (var i in index) CheckIndex(i, ShapeArr[d], "IndexAdd", d);
        var y = CloneDetached();
        using (Autograd.NoGrad())
        {
            var s = src.Detach();
            for (int i = 0; i < index.Length; i++)
            {
                var target = y.Narrow(d, index[i], 1);
                target.AssignFrom(target + s.Narrow(d, i, 1));
            }
        }
        return Autograd.Record(y, "index_add", static (n, g) =>
        {
            var (d, index) = ((int, int[]))n.Saved!;
            return [g, g.IndexSelect(d, index)];
        }, this, src, saved: (d, index));
    }

    /// <summary>out[p] = this[p with coordinate dim replaced by index[p]]; index has shape indexShape (equal to this shape outside
    /// dim).</summary>
    public Tensor Gather(int dim, int[] index, int[] indexShape)
    {
        int d = NormalizeDim(dim, Rank, "Gather");
        CheckIndexShape(index, indexShape, d, "Gather");
        var y = Zeros(indexShape, DType);
        var map = GatherMap(d, index, indexShape, "Gather");
        if (DType == DType.Float32)
        {
            var s = (float[])Data;
            var o = y.Span<float>();
            for (int i = 0; i < map.Length; i++) o[i] = s[map[i]];
        }
        else
        {
            var s = (double[])Data;
            var o = y.Span<double>();
            for (int i = 0; i < map.Length; i++) o[i] = s[map[i]];
        }
        return Autograd.Record(y, "gather", static (n, g) =>
        {
            var (d, index, shape) = ((int, int[], int[]))n.Saved!;
            return [ZerosLike(n.Inputs[0]).ScatterAdd(d, index, shape, g)];
        }, this, saved: (d, index, (int[])indexShape.Clone()));
    }

    /// <summary>this + src scattered: out[p with dim replaced by index[p]] += src[p], in row-major order of p.</summary>
    public Tensor ScatterAdd(int dim, int[] index, int[] indexShape, Tensor src)
    {
        int d = NormalizeDim(dim, Rank, "ScatterAdd");
        CheckDType(this, src, "ScatterAdd");
        CheckIndexShape(index, indexShape, d, "ScatterAdd");
        if (!src.ShapeArr.AsSpan().SequenceEqual(indexShape))
            throw new ShapeMismatchException($"ScatterAdd: source shape {src.ShapeText} differs from index shape " +
                $"{ShapeString(indexShape)}");
        var y = CloneDetached();
        var map = y.GatherMap(d, index, indexShape, "ScatterAdd");
        var sc = src.Detach().Contiguous();
        if (DType == DType.Float32)
        {
            var t = (float[])y.Data;
            var s = sc.Span<float>();
            for (int i = 0; i < map.Length; i++) t[map[i]] += s[i];
        }
        else
        {
            var t = (double[])y.Data;
            var s = sc.Span<double>();
            for (int i = 0; i < map.Length; i++) t[map[i]] += s[i];
        }
        return Autograd.Record(y, "scatter_add", static (n, g) =>
        {
            var (d, index, shape) = ((int, int[], int[]))n.Saved!;
            return [g, g.Gather(d, index, shape)];
        }, this, src, saved: (d, index, (int[])indexShape.Clone()));
    }

    void CheckIndexShape(int[] index, int[] indexShape, int d, string op)
    {
        if (indexShape.Length != Rank)
            throw new ShapeMismatchException($"{op}: index shape {ShapeString(indexShape)} must have the rank of {ShapeText}");
        if (NumelOf(indexShape) != index.Length)
            throw new ShapeMismatchException($"{op}: {index.Length} indices do not fill index shape {ShapeString(indexShape)}");
        for (int i = 0; i < Rank; i++)
            if (i != d && indexShape[i] != ShapeArr[i])
                throw new ShapeMismatchException($"{op}: index shape {ShapeString(indexShape)} differs from {ShapeText} " +
                    $"outside dimension {d}");
    }

    /// <summary>Storage offsets of the gathered elements, in row-major order of the index.</summary>
    int[] GatherMap(int d, int[] index, int[] indexShape, string op)
    {
        var map = new int[index.Length];
        if (map.Length == 0) return map;
        var idx = new int[Rank];
        for (int p = 0; p < map.Length; p++)
        {
            CheckIndex(index[p], ShapeArr[d], op, d);
            int o = Offset;
            for (int k = 0; k < Rank; k++) o += (k == d ? index[p] : idx[k]) * StridesArr[k];
            map[p] = o;
            for (int k = Rank - 1; k >= 0; k--) { if (++idx[k] < indexShape[k]) break; idx[k] = 0; }
        }
        return map;
    }

    /// <summary>Embedding lookup: weight [V, D], ids of shape idsShape → [..idsShape, D].</summary>
    public static Tensor Embedding(Tensor weight, int[] ids, params int[] idsShape)
    {
        if (weight.Rank != 2) throw new ShapeMismatchException($"Embedding: weight must be [vocab, dim], got {weight.ShapeText}");
        if (idsShape.Length == 0) idsShape = [ids.Length];
        if (NumelOf(idsShape) != ids.Length)
            throw new ShapeMismatchException($"Embedding: {ids.Length} ids do not fill shape {ShapeString(idsShape)}");
        var shape = new int[idsShape.Length + 1];
        idsShape.CopyTo(shape, 0); shape[^1] = weight.ShapeArr[1];
        return weight.IndexSelect(0, ids).Reshape(shape);
    }
}
