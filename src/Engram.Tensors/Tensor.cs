// Tensor: a strided view (shape, strides, offset in elements) over float32 or float64 storage.
// Views (reshape of contiguous data, permute, narrow, expand) share storage; Contiguous() copies.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Engram.Tensors;

public enum DType { Float32, Float64 }

public sealed partial class Tensor
{
    /// <summary>float[] for Float32, double[] for Float64 (an empty array once released by its TensorScope).</summary>
    internal Array Data = ReleasedF;
    // Shape and strides arrays belong to this tensor alone (copied in on creation), so a TensorScope can recycle
    // the tensor object together with them.
    internal int[] StridesArr = [];
    internal int[] ShapeArr = [];
    int _offset;
    public int Offset => _offset;
    public DType DType { get; private set; }

    /// <summary>Whether gradients flow to this tensor. Set on leaves; outputs of recorded ops get it automatically.</summary>
    public bool RequiresGrad { get; set; }
    /// <summary>Accumulated gradient of a leaf after Backward(). A tensor stored here is never recycled by its TensorScope.</summary>
    public Tensor? Grad { get => _grad; set { _grad = value; if (value is not null) value.Pinned = true; } }
    Tensor? _grad;
    internal Node? GradFn;
    /// <summary>Optional name, used in error messages and state dicts.</summary>
    public string? Name { get; set; }
    /// <summary>Referenced from outside the TensorScope that created it (a leaf's Grad): the scope releases it but does not recycle the
    /// object.</summary>
    internal bool Pinned;
    /// <summary>The scope that created this tensor object (null for an ordinary, garbage-collected one).</summary>
    internal TensorScope? Scope;
    /// <summary>The outermost backward run's bookkeeping: the gradient pending for this tensor in run GradRun, and the
    /// last run that visited it (runs are numbered, so stale marks never match).</summary>
    internal Tensor? RunGrad;
    internal long GradRun, SeenRun;

    Tensor() { }

    /// <summary>An empty tensor object with shape and strides arrays of the given rank (pooled objects are made here).</summary>
    internal static Tensor Blank(int rank)
        => new() { ShapeArr = rank == 0 ? [] : new int[rank], StridesArr = rank == 0 ? [] : new int[rank] };

    /// <summary>A tensor over `data` with copies of shape and strides (from the current TensorScope's pool when one is active).</summary>
    internal static Tensor Create(Array data, ReadOnlySpan<int> shape, ReadOnlySpan<int> strides, int offset)
    {
        var t = TensorScope.NewTensor(shape.Length);
        shape.CopyTo(t.ShapeArr); strides.CopyTo(t.StridesArr);
        t.Init(data, offset);
        return t;
    }

    /// <summary>A contiguous tensor over `data` (offset 0) with a copy of shape.</summary>
    internal static Tensor Create(Array data, ReadOnlySpan<int> shape)
    {
        var t = TensorScope.NewTensor(shape.Length);
        shape.CopyTo(t.ShapeArr); FillContiguousStrides(shape, t.StridesArr);
        t.Init(data, 0);
        return t;
    }

    void Init(Array data, int offset)
    {
        Data = data;
        DType = data is float[]? DType.Float32
            : data is double[]? DType.Float64 : throw new EngramException("tensor storage must be float[] or double[]");
        _offset = offset;
    }

    static readonly float[] ReleasedF = []; static readonly double[] ReleasedD = [];

    /// <summary>Called when the TensorScope that created this tensor ends.</summary>
    internal void Release() { Data = DType == DType.Float32 ? ReleasedF : ReleasedD; GradFn = null; }

    /// <summary>Clears a released tensor for reuse by a later scope.</summary>
    internal void ResetForReuse()
    {
        _grad = null;
        Name = null;
        RequiresGrad = false;
        Pinned = false;
        Scope = null;
        _offset = 0;
        RunGrad = null;
        GradRun = 0;
    }

    internal bool IsReleased => Data.Length == 0 && Numel > 0;

    internal void ThrowIfReleased()
    {
        if (IsReleased)
            throw new EngramException($"tensor {Name ?? ShapeText} was used after the TensorScope that created it ended; copy values out " +
                "(Item(), ToFloatArray()) or create the tensor under TensorScope.Suspend()");
    }

    public ReadOnlySpan<int> Shape => ShapeArr;
    public ReadOnlySpan<int> Strides => StridesArr;
    public int Rank => ShapeArr.Length;
    public int Numel => NumelOf(ShapeArr);
    public bool IsLeaf => GradFn is null;
    /// <summary>Name of the operation that produced this tensor, or null for a leaf.</summary>
    public string? Op => GradFn?.Op;

    public int Size(int dim) => ShapeArr[NormalizeDim(dim, Rank, "Size")];

    internal static int NumelOf(ReadOnlySpan<int> shape)
    {
        long n = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ShapeMismatchException($"negative dimension in shape {ShapeString(shape)}");
            n *= d;
            if (n > int.MaxValue) throw new ShapeMismatchException($"shape {ShapeString(shape)} has more than {int.MaxValue} elements");
        }
        return (int)n;
    }

    internal static void FillContiguousStrides(ReadOnlySpan<int> shape, Span<int> strides)
    {
        int acc = 1;
        for (int i = shape.Length - 1; i >= 0; i--) { strides[i] = acc; acc *= Math.Max(shape[i], 1); }
    }

    public bool IsContiguous
    {
        get
        {
            int acc = 1;
            for (int i = Rank - 1; i >= 0; i--)
            {
                if (ShapeArr[i] == 1) continue;
                if (StridesArr[i] != acc) return false;
                acc *= ShapeArr[i];
            }
            return true;
        }
    }

    internal static int NormalizeDim(int dim, int rank, string op)
    {
        int d = dim < 0 ? dim + rank : dim;
        if (d < 0 || d >= rank) throw new ShapeMismatchException($"{op}: dimension {dim} is out of range for a tensor of rank {rank}");
        return d;
    }

    public static string ShapeString(ReadOnlySpan<int> shape)
    {
        var sb = new StringBuilder("[");
        for (int i = 0; i < shape.Length; i++) { if (i > 0) sb.Append(", "); sb.Append(shape[i]); }
        return sb.Append(']').ToString();
    }

    public string ShapeText => ShapeString(ShapeArr);

    public override string ToString()
    {
        var sb = new StringBuilder($"Tensor{ShapeText} {DType}");
        if (Op is not null) sb.Append($" (op {Op})");
        if (Numel <= 16)
        {
            sb.Append(" {");
            var v = ToDoubleArray();
            for (int i = 0; i < v.Length; i++)
            {
                if (i > 0) sb.Append(", ");
                sb.Append(v[i].ToString("G6", System.Globalization.CultureInfo.InvariantCulture));
            }
            sb.Append('}');
        }
        return sb.ToString();
    }

    // ---------------------------------------------------------------- storage access

    /// <summary>The whole storage as a span (ignores shape/strides/offset).</summary>
    internal Span<T> Storage<T>() where T : unmanaged => (T[])Data;

    /// <summary>The elements of a contiguous tensor, in row-major order.</summary>
    public Span<float> AsSpanF32()
    {
        if (DType != DType.Float32) throw new EngramException($"AsSpanF32: tensor is {DType}");
        if (!IsContiguous) throw new EngramException("AsSpanF32: tensor is not contiguous; call Contiguous() first");
        return new Span<float>((float[])Data, Offset, Numel);
    }

    internal Span<T> Span<T>() where T : unmanaged
    {
        var a = (T[])Data;
        if (a.Length == 0) ThrowIfReleased();
        return new(a, Offset, Numel);
    }

    // ---------------------------------------------------------------- creation

    static Array Alloc(DType dtype, int n, bool clear = true) => TensorScope.Allocate(dtype, n, clear);

    public static Tensor Zeros(ReadOnlySpan<int> shape, DType dtype = DType.Float32)
    {
        return Create(Alloc(dtype, NumelOf(shape)), shape);
    }

    public static Tensor Zeros(params int[] shape) => Zeros(shape.AsSpan());

    /// <summary>A tensor whose every element the caller writes next: inside a TensorScope its pooled storage is not cleared
    /// first.</summary>
    internal static Tensor Empty(ReadOnlySpan<int> shape, DType dtype) => Create(Alloc(dtype, NumelOf(shape), clear: false), shape);
    internal static Tensor EmptyLike(Tensor t) => Empty(t.ShapeArr, t.DType);
    public static Tensor Ones(ReadOnlySpan<int> shape, DType dtype = DType.Float32) => Full(shape, 1.0, dtype);
    public static Tensor Ones(params int[] shape) => Ones(shape.AsSpan());
    public static Tensor ZerosLike(Tensor t) => Zeros(t.ShapeArr, t.DType);
    public static Tensor OnesLike(Tensor t) => Ones(t.ShapeArr, t.DType);

    public static Tensor Full(ReadOnlySpan<int> shape, double value, DType dtype = DType.Float32)
    {
        var t = Zeros(shape, dtype);
        if (dtype == DType.Float32) ((float[])t.Data).AsSpan().Fill((float)value);
        else ((double[])t.Data).AsSpan().Fill(value);
        return t;
    }

    public static Tensor Scalar(double value, DType dtype = DType.Float32) => Full([], value, dtype);

    /// <summary>0, 1, ..., n−1 (or start, start+step, ... below end).</summary>
    public static Tensor Arange(double start, double end, double step = 1, DType dtype = DType.Float32)
    {
        if (step == 0) throw new EngramException("Arange: step must not be zero");
        int n = Math.Max(0, (int)Math.Ceiling((end - start) / step));
        var t = Zeros([n], dtype);
        for (int i = 0; i < n; i++) t.SetFlat(i, start + i * step);
        return t;
    }

    public static Tensor Arange(int n, DType dtype = DType.Float32) => Arange(0, n, 1, dtype);

    public static Tensor FromArray(float[] data, params int[] shape)
    {
        if (shape.Length == 0 && data.Length != 1) shape = [data.Length];
        if (NumelOf(shape) != data.Length)
            throw new ShapeMismatchException($"FromArray: {data.Length} values do not fill shape {ShapeString(shape)}");
        return Create((Array)data.Clone(), shape);
    }

    public static Tensor FromArray(double[] data, params int[] shape)
    {
        if (shape.Length == 0 && data.Length != 1) shape = [data.Length];
        if (NumelOf(shape) != data.Length)
            throw new ShapeMismatchException($"FromArray: {data.Length} values do not fill shape {ShapeString(shape)}");
        return Create((Array)data.Clone(), shape);
    }

    /// <summary>Uniform in [low, high).</summary>
    public static Tensor Rand(Generator g, ReadOnlySpan<int> shape, double low = 0, double high = 1, DType dtype = DType.Float32)
    {
        var t = Zeros(shape, dtype);
        int n = t.Numel;
        if (dtype == DType.Float32)
        {
            var d = (float[])t.Data;
            for (int i = 0; i < n; i++) d[i] = (float)(low + (high - low) * g.NextFloat());
        }
        else
        {
            var d = (double[])t.Data;
            for (int i = 0; i < n; i++) d[i] = low + (high - low) * g.NextDouble();
        }
        return t;
    }

    public static Tensor Randn(Generator g, ReadOnlySpan<int> shape, double mean = 0, double std = 1, DType dtype = DType.Float32)
    {
        var t = Zeros(shape, dtype);
        for (int i = 0; i < t.Numel; i++) t.SetFlat(i, mean + std * g.NextNormal());
        return t;
    }

    /// <summary>Normal(mean, std) restricted to [mean + lo·std, mean + hi·std] by rejection (std is that of the parent normal).</summary>
    public static Tensor TruncatedNormal(Generator g, ReadOnlySpan<int> shape, double mean = 0, double std = 1, double lo = -2,
        double hi = 2, DType dtype = DType.Float32)
    {
        var t = Zeros(shape, dtype);
        for (int i = 0; i < t.Numel; i++) t.SetFlat(i, mean + std * g.NextTruncatedNormal(lo, hi));
        return t;
    }

    // ---------------------------------------------------------------- element access (slow paths; for tests and setup)

    internal void SetFlat(int i, double v)
    {
        if (DType == DType.Float32) ((float[])Data)[Offset + i] = (float)v; else ((double[])Data)[Offset + i] = v;
    }

    /// <summary>Storage index of the element at a multi-index.</summary>
    internal int StorageIndex(ReadOnlySpan<int> index)
    {
        if (index.Length != Rank) throw new ShapeMismatchException($"index of rank {index.Length} for a tensor of shape {ShapeText}");
        int o = Offset;
        for (int i = 0; i < index.Length; i++)
        {
            if ((uint)index[i] >= (uint)ShapeArr[i])
                throw new ShapeMismatchException($"index {index[i]} out of range for dimension {i} of shape {ShapeText}");
            o += index[i] * StridesArr[i];
        }
        return o;
    }

    [IndexerName("ValueAt")]
    public double this[params int[] index]
    {
        get { int o = StorageIndex(index); return DType == DType.Float32 ? ((float[])Data)[o] : ((double[])Data)[o]; }
        set
        {
            int o = StorageIndex(index);
            if (DType == DType.Float32) ((float[])Data)[o] = (float)value;
            else ((double[])Data)[o] = value;
        }
    }

    /// <summary>The single value of a one-element tensor.</summary>
    public double Item()
    {
        ThrowIfReleased();
        if (Numel != 1) throw new ShapeMismatchException($"Item: tensor of shape {ShapeText} has {Numel} elements, expected 1");
        return DType == DType.Float32 ? ((float[])Data)[Offset] : ((double[])Data)[Offset];
    }

    public float[] ToFloatArray()
    {
        ThrowIfReleased();
        var c = Contiguous();
        if (c.DType == DType.Float32) return c.Span<float>().ToArray();
        var r = new float[c.Numel]; var s = c.Span<double>();
        for (int i = 0; i < r.Length; i++) r[i] = (float)s[i];
        return r;
    }

    public double[] ToDoubleArray()
    {
        ThrowIfReleased();
        var c = Contiguous();
        if (c.DType == DType.Float64) return c.Span<double>().ToArray();
        var r = new double[c.Numel]; var s = c.Span<float>();
        for (int i = 0; i < r.Length; i++) r[i] = s[i];
        return r;
    }

    // ---------------------------------------------------------------- strided copies

    /// <summary>Copies the elements of a strided view into a contiguous destination in row-major order.</summary>
    internal static void CopyStrided<T>(T[] src, int offset, ReadOnlySpan<int> shape, ReadOnlySpan<int> strides, Span<T> dst)
    {
        int rank = shape.Length, n = NumelOf(shape);
        if (n == 0) return;
        if (rank == 0) { dst[0] = src[offset]; return; }
        int inner = shape[rank - 1], innerStride = strides[rank - 1];
        Span<int> idx = stackalloc int[rank];
        int outer = n / inner, o = offset, w = 0;
        for (int r = 0; r < outer; r++)
        {
            if (innerStride == 1) { src.AsSpan(o, inner).CopyTo(dst.Slice(w, inner)); w += inner; }
            else { int p = o; for (int j = 0; j < inner; j++, p += innerStride) dst[w++] = src[p]; }
            for (int d = rank - 2; d >= 0; d--)
            {
                idx[d]++; o += strides[d];
                if (idx[d] < shape[d]) break;
                o -= strides[d] * shape[d]; idx[d] = 0;
            }
        }
    }

    /// <summary>A contiguous tensor with the same values (this one if already contiguous; a copy otherwise). Differentiable.</summary>
    public Tensor Contiguous()
    {
        ThrowIfReleased();
        if (IsContiguous) return this;
        return Autograd.Record(CloneDetached(), "contiguous", static (n, g) => [g], this);
    }

    /// <summary>A new tensor with its own storage, detached from the graph.</summary>
    public Tensor CloneDetached()
    {
        ThrowIfReleased();
        var y = Empty(ShapeArr, DType);
        if (DType == DType.Float32) CopyStrided((float[])Data, Offset, ShapeArr, StridesArr, y.Span<float>());
        else CopyStrided((double[])Data, Offset, ShapeArr, StridesArr, y.Span<double>());
        return y;
    }

    /// <summary>A copy that records in the graph (gradient passes through).</summary>
    public Tensor Clone() => Autograd.Record(CloneDetached(), "clone", static (n, g) => [g], this);

    /// <summary>The same storage, cut from the graph.</summary>
    public Tensor Detach()
    {
        var t = Create(Data, ShapeArr, StridesArr, Offset);
        t.Name = Name;
        return t;
    }

    /// <summary>Converts to another dtype (differentiable; the gradient converts back).</summary>
    public Tensor To(DType dtype)
    {
        if (dtype == DType) return this;
        var src = Contiguous();
        var y = Empty(ShapeArr, dtype);
        if (dtype == DType.Float64) { var s = src.Span<float>(); var d = y.Span<double>(); for (int i = 0; i < s.Length; i++) d[i] = s[i]; }
        else { var s = src.Span<double>(); var d = y.Span<float>(); for (int i = 0; i < s.Length; i++) d[i] = (float)s[i]; }
        return Autograd.Record(y, "to", static (n, g) => [g.To(n.Inputs[0].DType)], this);
    }

    /// <summary>Copies values from src (same shape, any dtype) into this tensor's storage in place. Not recorded.</summary>
    public void CopyFrom(Tensor src)
    {
        if (!ShapeArr.AsSpan().SequenceEqual(src.ShapeArr))
            throw new ShapeMismatchException($"CopyFrom: destination {ShapeText} and source {src.ShapeText} differ");
        if (!IsContiguous) throw new EngramException("CopyFrom: destination must be contiguous");
        var s = src.To(DType).Contiguous();
        if (DType == DType.Float32) s.Span<float>().CopyTo(Span<float>()); else s.Span<double>().CopyTo(Span<double>());
    }

    internal static bool SameShape(Tensor a, Tensor b) => a.ShapeArr.AsSpan().SequenceEqual(b.ShapeArr);
    public static bool SameShapeAs(Tensor a, Tensor b) => SameShape(a, b);
}
