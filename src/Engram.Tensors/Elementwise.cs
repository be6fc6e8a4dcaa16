// Element-wise operations with NumPy broadcasting. Fast paths use TensorPrimitives on contiguous rows;
// the general path walks broadcast strides. Every op is generic over float and double.
using System.Numerics;
using System.Numerics.Tensors;

namespace Engram.Tensors;

internal enum BinaryOp { Add, Sub, Mul, Div, Maximum, Minimum, Gt, Ge, Lt, Le, Eq, Ne, Pow }
internal enum UnaryOp { Neg, Exp, Log, Sqrt, Rsqrt, Abs, Relu, Tanh, Sigmoid, Softplus, Erf, Sign, Reciprocal }

public sealed partial class Tensor
{
    internal static int[] BroadcastShape(ReadOnlySpan<int> a, ReadOnlySpan<int> b, string op)
    {
        var s = new int[Math.Max(a.Length, b.Length)];
        BroadcastShape(a, b, op, s);
        return s;
    }

    /// <summary>Writes the broadcast shape of a and b into s (of length max(rank a, rank b)).</summary>
    internal static void BroadcastShape(ReadOnlySpan<int> a, ReadOnlySpan<int> b, string op, Span<int> s)
    {
        int rank = s.Length;
        for (int i = 0; i < rank; i++)
        {
            int da = i - (rank - a.Length) >= 0 ? a[i - (rank - a.Length)] : 1;
            int db = i - (rank - b.Length) >= 0 ? b[i - (rank - b.Length)] : 1;
            if (da != db && da != 1 && db != 1)
                throw new ShapeMismatchException($"{op}: shapes {ShapeString(a)} and {ShapeString(b)} cannot be broadcast together");
            s[i] = da == 1 ? db : da;
        }
    }

    /// <summary>Strides of this tensor seen with the broadcast shape `shape` (0 on broadcast dimensions).</summary>
    internal void BroadcastStrides(ReadOnlySpan<int> shape, Span<int> s)
    {
        int lead = shape.Length - Rank;
        for (int i = 0; i < lead; i++) s[i] = 0;
        for (int i = lead; i < shape.Length; i++) s[i] = ShapeArr[i - lead] == 1 ? 0 : StridesArr[i - lead];
    }

    static void CheckDType(Tensor a, Tensor b, string op)
    {
        if (a.DType != b.DType) throw new ShapeMismatchException($"{op}: dtypes {a.DType} and {b.DType} differ; convert with To()");
    }

    internal static Tensor BinaryForward(Tensor a, Tensor b, BinaryOp op, string name)
    {
        a.ThrowIfReleased(); b.ThrowIfReleased();
        CheckDType(a, b, name);
        Span<int> shape = stackalloc int[Math.Max(a.Rank, b.Rank)];
        BroadcastShape(a.ShapeArr, b.ShapeArr, name, shape);
        var y = Empty(shape, a.DType);
        if (a.DType == DType.Float32) BinaryKernel<float>(a, b, shape, y.Span<float>(), op);
        else BinaryKernel<double>(a, b, shape, y.Span<double>(), op);
        return y;
    }

    static void BinaryKernel<T>(Tensor a, Tensor b, ReadOnlySpan<int> shape, Span<T> dst, BinaryOp op)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = dst.Length;
        if (n == 0) return;
        var ad = (T[])a.Data; var bd = (T[])b.Data;
        if (a.IsContiguous && b.IsContiguous && SameShape(a, b))
        {
            Row(ad.AsSpan(a.Offset, n), 1, bd.AsSpan(b.Offset, n), 1, dst, op);
            return;
        }
        int rank = shape.Length;
        Span<int> sa = stackalloc int[rank]; Span<int> sb = stackalloc int[rank];
        a.BroadcastStrides(shape, sa); b.BroadcastStrides(shape, sb);
        int inner = shape[rank - 1], ia = sa[rank - 1], ib = sb[rank - 1];
        Span<int> idx = stackalloc int[rank];
        int oa = a.Offset, ob = b.Offset;
        for (int w = 0; w < n; w += inner)
        {
            var ra = ia == 0 ? ad.AsSpan(oa, 1) : ad.AsSpan(oa, (inner - 1) * ia + 1);
            var rb = ib == 0 ? bd.AsSpan(ob, 1) : bd.AsSpan(ob, (inner - 1) * ib + 1);
            Row(ra, ia, rb, ib, dst.Slice(w, inner), op);
            for (int d = rank - 2; d >= 0; d--)
            {
                idx[d]++; oa += sa[d]; ob += sb[d];
                if (idx[d] < shape[d]) break;
                oa -= sa[d] * shape[d]; ob -= sb[d] * shape[d]; idx[d] = 0;
            }
        }
    }

    /// <summary>One row: a and b with element strides 0 (broadcast scalar) or 1 (contiguous) or any other stride.</summary>
    static void Row<T>(ReadOnlySpan<T> a, int sa, ReadOnlySpan<T> b, int sb, Span<T> d, BinaryOp op)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (sa == 1 && sb == 1)
        {
            switch (op)
            {
                case BinaryOp.Add: TensorPrimitives.Add(a, b, d); return;
                case BinaryOp.Sub: TensorPrimitives.Subtract(a, b, d); return;
                case BinaryOp.Mul: TensorPrimitives.Multiply(a, b, d); return;
                case BinaryOp.Div: TensorPrimitives.Divide(a, b, d); return;
            }
        }
        else if (sa == 1 && sb == 0)
        {
            switch (op)
            {
                case BinaryOp.Add: TensorPrimitives.Add(a, b[0], d); return;
                case BinaryOp.Sub: TensorPrimitives.Subtract(a, b[0], d); return;
                case BinaryOp.Mul: TensorPrimitives.Multiply(a, b[0], d); return;
                case BinaryOp.Div: TensorPrimitives.Divide(a, b[0], d); return;
            }
        }
        else if (sa == 0 && sb == 1)
        {
            switch (op)
            {
                case BinaryOp.Add: TensorPrimitives.Add(b, a[0], d); return;
                case BinaryOp.Sub: TensorPrimitives.Subtract(a[0], b, d); return;
                case BinaryOp.Mul: TensorPrimitives.Multiply(b, a[0], d); return;
                case BinaryOp.Div: TensorPrimitives.Divide(a[0], b, d); return;
            }
        }
        for (int i = 0, pa = 0, pb = 0; i < d.Length; i++, pa += sa, pb += sb) d[i] = Scalar(a[pa], b[pb], op);
    }

    internal static T Scalar<T>(T x, T y, BinaryOp op) where T : unmanaged, IFloatingPointIeee754<T> => op switch
    {
        BinaryOp.Add => x + y,
        BinaryOp.Sub => x - y,
        BinaryOp.Mul => x * y,
        BinaryOp.Div => x / y,
        BinaryOp.Maximum => T.IsNaN(x) || T.IsNaN(y) ? T.NaN : x > y ? x : y,
        BinaryOp.Minimum => T.IsNaN(x) || T.IsNaN(y) ? T.NaN : x < y ? x : y,
        BinaryOp.Gt => x > y ? T.One : T.Zero,
        BinaryOp.Ge => x >= y ? T.One : T.Zero,
        BinaryOp.Lt => x < y ? T.One : T.Zero,
        BinaryOp.Le => x <= y ? T.One : T.Zero,
        BinaryOp.Eq => x == y ? T.One : T.Zero,
        BinaryOp.Ne => x != y ? T.One : T.Zero,
        BinaryOp.Pow => T.Pow(x, y),
        _ => throw new InvalidOperationException(op.ToString()),
    };

    // ---------------------------------------------------------------- binary ops with gradients

    public static Tensor Add(Tensor a, Tensor b) => Autograd.Record(BinaryForward(a, b, BinaryOp.Add, "add"), "add",
        static (n, g) => [g.SumToShape(n.Inputs[0].ShapeArr), g.SumToShape(n.Inputs[1].ShapeArr)], a, b);

    public static Tensor Sub(Tensor a, Tensor b) => Autograd.Record(BinaryForward(a, b, BinaryOp.Sub, "sub"), "sub",
        static (n, g) => [g.SumToShape(n.Inputs[0].ShapeArr), (-g).SumToShape(n.Inputs[1].ShapeArr)], a, b);

    public static Tensor Mul(Tensor a, Tensor b) => Autograd.Record(BinaryForward(a, b, BinaryOp.Mul, "mul"), "mul",
        static (n, g) => [
            n.Inputs[0].RequiresGrad ? (g * n.Inputs[1]).SumToShape(n.Inputs[0].ShapeArr) : null,
            n.Inputs[1].RequiresGrad ? (g * n.Inputs[0]).SumToShape(n.Inputs[1].ShapeArr) : null], a, b);

    public static Tensor Div(Tensor a, Tensor b) => Autograd.Record(BinaryForward(a, b, BinaryOp.Div, "div"), "div",
        static (n, g) =>
        {
            var (x, y) = (n.Inputs[0], n.Inputs[1]);
            return [x.RequiresGrad ? (g / y).SumToShape(x.ShapeArr) : null,
                    y.RequiresGrad ? (-(g * x) / (y * y)).SumToShape(y.ShapeArr) : null];
        }, a, b);

    /// <summary>a^b element-wise with broadcasting. The gradient for a is b·a^(b−1), exactly 0 where b = 0 (as PyTorch:
    /// not 0·∞ at a = 0); for b it is a^b·ln a where a &gt; 0 and 0 elsewhere.</summary>
    public static Tensor Pow(Tensor a, Tensor b) => Autograd.Record(BinaryForward(a, b, BinaryOp.Pow, "pow"), "pow_tensor",
        static (n, g) =>
        {
            var (x, e) = (n.Inputs[0], n.Inputs[1]);
            var zero = Scalar(0, g.DType);
            return [x.RequiresGrad ? Where(e.Eq(0), zero, g * e * Pow(x, e - 1.0)).SumToShape(x.ShapeArr) : null,
                    e.RequiresGrad ? (g * Pow(x, e) * Where(x.Gt(0), x.Clamp(min: double.Epsilon).Log(), zero)).SumToShape(e.ShapeArr)
                        : null];
        }, a, b);

    /// <summary>Element-wise maximum; on ties the gradient is split evenly.</summary>
    public static Tensor Maximum(Tensor a, Tensor b) => MinMax(a, b, BinaryOp.Maximum, "maximum");
    public static Tensor Minimum(Tensor a, Tensor b) => MinMax(a, b, BinaryOp.Minimum, "minimum");

    static Tensor MinMax(Tensor a, Tensor b, BinaryOp op, string name) => Autograd.Record(BinaryForward(a, b, op, name), name,
        static (n, g) =>
        {
            var (x, y) = (n.Inputs[0], n.Inputs[1]);
            var wins = n.Op == "maximum" ? Compare(x, y, BinaryOp.Gt) : Compare(x, y, BinaryOp.Lt);
            var share = wins + Compare(x, y, BinaryOp.Eq) * 0.5;
            return [(g * share).SumToShape(x.ShapeArr), (g * (1.0 - share)).SumToShape(y.ShapeArr)];
        }, a, b);

    /// <summary>1 where the comparison holds, 0 elsewhere (no gradient).</summary>
    internal static Tensor Compare(Tensor a, Tensor b, BinaryOp op) => BinaryForward(a.Detach(), b.Detach(), op, op.ToString());

    public Tensor Gt(Tensor o) => Compare(this, o, BinaryOp.Gt);
    public Tensor Ge(Tensor o) => Compare(this, o, BinaryOp.Ge);
    public Tensor Lt(Tensor o) => Compare(this, o, BinaryOp.Lt);
    public Tensor Le(Tensor o) => Compare(this, o, BinaryOp.Le);
    public Tensor Eq(Tensor o) => Compare(this, o, BinaryOp.Eq);
    public Tensor Gt(double v) => Compare(this, Scalar(v, DType), BinaryOp.Gt);
    public Tensor Ge(double v) => Compare(this, Scalar(v, DType), BinaryOp.Ge);
    public Tensor Lt(double v) => Compare(this, Scalar(v, DType), BinaryOp.Lt);
    public Tensor Le(double v) => Compare(this, Scalar(v, DType), BinaryOp.Le);
    public Tensor Eq(double v) => Compare(this, Scalar(v, DType), BinaryOp.Eq);

    public static Tensor operator +(Tensor a, Tensor b) => Add(a, b);
    public static Tensor operator -(Tensor a, Tensor b) => Sub(a, b);
    public static Tensor operator *(Tensor a, Tensor b) => Mul(a, b);
    public static Tensor operator /(Tensor a, Tensor b) => Div(a, b);
    public static Tensor operator -(Tensor a) => a.Unary(UnaryOp.Neg);
    public static Tensor operator +(Tensor a, double s) => a.AddScalar(s);
    public static Tensor operator +(double s, Tensor a) => a.AddScalar(s);
    public static Tensor operator -(Tensor a, double s) => a.AddScalar(-s);
    public static Tensor operator -(double s, Tensor a) => (-a).AddScalar(s);
    public static Tensor operator *(Tensor a, double s) => a.MulScalar(s);
    public static Tensor operator *(double s, Tensor a) => a.MulScalar(s);
    public static Tensor operator /(Tensor a, double s) => a.MulScalar(1.0 / s);
    public static Tensor operator /(double s, Tensor a) => a.Unary(UnaryOp.Reciprocal).MulScalar(s);

    // ---------------------------------------------------------------- scalar ops

    public Tensor AddScalar(double s)
    {
        var x = Contiguous(); var y = Empty(ShapeArr, DType);
        if (DType == DType.Float32) TensorPrimitives.Add(x.Span<float>(), (float)s, y.Span<float>());
        else TensorPrimitives.Add(x.Span<double>(), s, y.Span<double>());
        return Autograd.Record(y, "add_scalar", static (n, g) => [g], x);
    }

    public Tensor MulScalar(double s)
    {
        var x = Contiguous(); var y = Empty(ShapeArr, DType);
        if (DType == DType.Float32) TensorPrimitives.Multiply(x.Span<float>(), (float)s, y.Span<float>());
        else TensorPrimitives.Multiply(x.Span<double>(), s, y.Span<double>());
        return Autograd.Record(y, "mul_scalar", static (n, g) => [g * n.State.X], x, null, null, new SavedState { X = s });
    }

    /// <summary>x^p for a constant exponent p. The gradient is p·x^(p−1), and 0 for p = 0 (as PyTorch: not 0·∞ at x = 0).</summary>
    public Tensor Pow(double p)
    {
        var x = Contiguous(); var y = Empty(ShapeArr, DType);
        if (DType == DType.Float32)
        {
            var s = x.Span<float>();
            var d = y.Span<float>();
            for (int i = 0; i < s.Length; i++) d[i] = p == 2 ? s[i] * s[i] : MathF.Pow(s[i], (float)p);
        }
        else
        {
            var s = x.Span<double>();
            var d = y.Span<double>();
            for (int i = 0; i < s.Length; i++) d[i] = p == 2 ? s[i] * s[i] : Math.Pow(s[i], p);
        }
        return Autograd.Record(y, "pow", static (n, g) =>
        {
            double p = n.State.X;
            if (p == 0) return [ZerosLike(n.Inputs[0])];
            return [p == 2 ? g * n.Inputs[0] * 2.0 : g * n.Inputs[0].Pow(p - 1) * p];
        }, x, null, null, new SavedState { X = p });
    }

    public Tensor Square() => Pow(2);

    /// <summary>Clamps to [min, max] (either may be null); gradient 1 inside the range, 0 outside. As in PyTorch the
    /// result is min(max(x, min), max), so min &gt; max gives max everywhere (with a zero gradient); NaN stays NaN.</summary>
    public Tensor Clamp(double? min = null, double? max = null)
    {
        var x = Contiguous(); var y = Empty(ShapeArr, DType);
        double lo = min ?? double.NegativeInfinity, hi = max ?? double.PositiveInfinity;
        if (DType == DType.Float32) ClampKernel(x.Span<float>(), y.Span<float>(), (float)lo, (float)hi);
        else ClampKernel(x.Span<double>(), y.Span<double>(), lo, hi);
        return Autograd.Record(y, "clamp", static (n, g) =>
        {
            var x = n.Inputs[0];
            var inside = x.Ge(n.State.X) * x.Le(n.State.Y);
            return [g * inside];
        }, x, null, null, new SavedState { X = lo, Y = hi });
    }

    /// <summary>min(max(x, lo), hi) by comparisons (a value inside the range, −0 and NaN pass through unchanged).</summary>
    static void ClampKernel<T>(ReadOnlySpan<T> x, Span<T> y, T lo, T hi) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++)
        {
            T v = x[i] < lo ? lo : x[i];
            y[i] = v > hi ? hi : v;
        }
    }

    // ---------------------------------------------------------------- unary ops

    internal Tensor UnaryForward(UnaryOp op)
    {
        var x = Contiguous(); var y = Empty(ShapeArr, DType);
        if (DType == DType.Float32) UnaryKernel<float>(x.Span<float>(), y.Span<float>(), op);
        else UnaryKernel<double>(x.Span<double>(), y.Span<double>(), op);
        return y;
    }

    /// <summary>e^x element-wise: float32 through PortableExp (the same bits on every SIMD path and machine), float64 through
    /// TensorPrimitives.</summary>
    internal static void ExpKernel<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) Kernels.PortableExp.Exp(AsFloat(x), AsFloat(y));
        else if (!x.IsEmpty) TensorPrimitives.Exp(x, y);
    }

    /// <summary>σ(x): float32 through the portable exponential, float64 through TensorPrimitives.</summary>
    internal static void SigmoidKernel<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) Kernels.PortableExp.Sigmoid(AsFloat(x), AsFloat(y));
        else if (!x.IsEmpty) TensorPrimitives.Sigmoid(x, y);
    }

    /// <summary>Σ x: float32 in the width-independent order of PortableReduce, float64 through TensorPrimitives.</summary>
    internal static T SumKernel<T>(ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
        => typeof(T) == typeof(float) ? T.CreateTruncating(Kernels.PortableReduce.Sum(AsFloat(x)))
            : x.IsEmpty ? T.Zero : TensorPrimitives.Sum(x);

    internal static T DotKernel<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y) where T : unmanaged, IFloatingPointIeee754<T>
        => typeof(T) == typeof(float) ? T.CreateTruncating(Kernels.PortableReduce.Dot(AsFloat(x), AsFloat(y)))
            : x.IsEmpty ? T.Zero : TensorPrimitives.Dot(x, y);

    internal static T SumOfSquaresKernel<T>(ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
        => typeof(T) == typeof(float) ? T.CreateTruncating(Kernels.PortableReduce.SumOfSquares(AsFloat(x)))
            : x.IsEmpty ? T.Zero : TensorPrimitives.SumOfSquares(x);

    static ReadOnlySpan<float> AsFloat<T>(ReadOnlySpan<T> s) where T : unmanaged
        => System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(s);
    static Span<float> AsFloat<T>(Span<T> s) where T : unmanaged => System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(s);

    internal static void UnaryKernel<T>(ReadOnlySpan<T> x, Span<T> y, UnaryOp op) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (x.IsEmpty) return; // some TensorPrimitives reject empty spans
        switch (op)
        {
            case UnaryOp.Neg: TensorPrimitives.Negate(x, y); break;
            case UnaryOp.Exp: ExpKernel(x, y); break;
            case UnaryOp.Log:
                if (typeof(T) == typeof(float))
                {
                    var xf = AsFloat(x);
                    var yf = AsFloat(y);
                    for (int i = 0; i < xf.Length; i++) yf[i] = (float)PortableMath.Log(xf[i]);
                }
                else TensorPrimitives.Log(x, y);
                break;
            case UnaryOp.Sqrt: TensorPrimitives.Sqrt(x, y); break;
            case UnaryOp.Rsqrt: TensorPrimitives.Sqrt(x, y); TensorPrimitives.Divide(T.One, y, y); break; // two exact IEEE operations
            case UnaryOp.Reciprocal: TensorPrimitives.Reciprocal(x, y); break;
            case UnaryOp.Abs: TensorPrimitives.Abs(x, y); break;
            case UnaryOp.Relu: TensorPrimitives.Max(x, T.Zero, y); break;
            case UnaryOp.Tanh:
                if (typeof(T) == typeof(float)) Kernels.PortableExp.Tanh(AsFloat(x), AsFloat(y)); else TensorPrimitives.Tanh(x, y);
                break;
            case UnaryOp.Sigmoid: SigmoidKernel(x, y); break;
            case UnaryOp.Softplus:
                if (typeof(T) == typeof(float))
                {
                    var xf = AsFloat(x); var yf = AsFloat(y); // log(1 + e) in double is exact in its argument for float e
                    for (int i = 0; i < xf.Length; i++)
                        yf[i] = MathF.Max(xf[i], 0) + (float)PortableMath.Log(1.0 + Kernels.PortableExp.Exp(-MathF.Abs(xf[i])));
                }
                else for (int i = 0; i < x.Length; i++) y[i] = T.Max(x[i], T.Zero) + T.LogP1(T.Exp(-T.Abs(x[i])));
                break;
            case UnaryOp.Erf:
                for (int i = 0; i < x.Length; i++) y[i] = T.CreateTruncating(SpecialFunctions.Erf(double.CreateTruncating(x[i])));
                break;
            case UnaryOp.Sign:
                for (int i = 0; i < x.Length; i++) y[i] = T.IsNaN(x[i]) ? x[i] : T.CreateTruncating(T.Sign(x[i]));
                break;
            default: throw new InvalidOperationException(op.ToString());
        }
    }

    static readonly string[] UnaryNames = ["neg", "exp", "log", "sqrt", "rsqrt", "abs", "relu", "tanh", "sigmoid", "softplus", "erf",
        "sign", "reciprocal"];

    internal Tensor Unary(UnaryOp op)
    {
        var y = UnaryForward(op);
        return Autograd.Record(y, UnaryNames[(int)op], static (n, g) =>
        {
            var x = n.Inputs[0]; var y = n.State.A!;
            if (!Autograd.IsEnabled && n.Op != "sign") return [UnaryBackwardFused(n.Op, x, y, g)];
            return [n.Op switch
            {
                "neg" => -g,
                "exp" => g * y,
                "log" => g / x,
                "sqrt" => g / (y * 2.0),
                "rsqrt" => g * (y * y * y) * -0.5,
                "reciprocal" => -g * y * y,
                "abs" => g * x.Unary(UnaryOp.Sign).Detach(),
                "relu" => g * x.Gt(0),
                "tanh" => g * (1.0 - y * y),
                "sigmoid" => g * y * (1.0 - y),
                "softplus" => g * x.Sigmoid(),
                "erf" => g * (x * x * -1.0).Exp() * (2.0 / Math.Sqrt(Math.PI)),
                "sign" => null,
                _ => throw new InvalidOperationException(n.Op),
            }];
        }, this, null, null, new SavedState { A = y }); // y is the recorded output itself, so double-backward differentiates through it
    }

    /// <summary>First-order unary backward in one pass (the composed formulas above are used when the gradient needs a graph).</summary>
    static Tensor UnaryBackwardFused(string op, Tensor x, Tensor y, Tensor g)
    {
        var gc = g.Contiguous(); var xc = x.Contiguous(); var yc = y.Contiguous();
        var dx = EmptyLike(xc);
        if (x.DType == DType.Float32)
            UnaryBackwardKernel<float>(op, xc.Span<float>(), yc.Span<float>(), gc.Span<float>(), dx.Span<float>());
        else
            UnaryBackwardKernel<double>(op, xc.Span<double>(), yc.Span<double>(), gc.Span<double>(), dx.Span<double>());
        return dx;
    }

    static void UnaryBackwardKernel<T>(string op, ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> g, Span<T> d)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T half = T.CreateTruncating(0.5), two = T.CreateTruncating(2), c = T.CreateTruncating(2 / Math.Sqrt(Math.PI));
        switch (op)
        {
            case "neg": for (int i = 0; i < d.Length; i++) d[i] = -g[i]; break;
            case "exp": for (int i = 0; i < d.Length; i++) d[i] = g[i] * y[i]; break;
            case "log": for (int i = 0; i < d.Length; i++) d[i] = g[i] / x[i]; break;
            case "sqrt": for (int i = 0; i < d.Length; i++) d[i] = g[i] / (y[i] * two); break;
            case "rsqrt": for (int i = 0; i < d.Length; i++) d[i] = g[i] * (y[i] * y[i] * y[i]) * -half; break;
            case "reciprocal": for (int i = 0; i < d.Length; i++) d[i] = -g[i] * y[i] * y[i]; break;
            case "abs": for (int i = 0; i < d.Length; i++) d[i] = T.IsNaN(x[i]) ? x[i] : g[i] * T.CreateTruncating(T.Sign(x[i])); break;
            case "relu": for (int i = 0; i < d.Length; i++) d[i] = x[i] > T.Zero ? g[i] : T.Zero; break;
            case "tanh": for (int i = 0; i < d.Length; i++) d[i] = g[i] * (T.One - y[i] * y[i]); break;
            case "sigmoid": for (int i = 0; i < d.Length; i++) d[i] = g[i] * y[i] * (T.One - y[i]); break;
            case "softplus":
                if (typeof(T) == typeof(float))
                {
                    var xf = AsFloat(x); var gf = AsFloat(g); var df = AsFloat(d); // e^−x from PortableExp, as the forward
                    for (int i = 0; i < df.Length; i++) df[i] = gf[i] / (1f + Kernels.PortableExp.Exp(-xf[i]));
                }
                else for (int i = 0; i < d.Length; i++) d[i] = g[i] / (T.One + T.Exp(-x[i]));
                break;
            case "erf": for (int i = 0; i < d.Length; i++) d[i] = g[i] * T.Exp(-(x[i] * x[i])) * c; break;
            default: throw new InvalidOperationException(op);
        }
    }

    public Tensor Exp() => Unary(UnaryOp.Exp);
    public Tensor Log() => Unary(UnaryOp.Log);
    public Tensor Sqrt() => Unary(UnaryOp.Sqrt);
    public Tensor Rsqrt() => Unary(UnaryOp.Rsqrt);
    public Tensor Reciprocal() => Unary(UnaryOp.Reciprocal);
    public Tensor Abs() => Unary(UnaryOp.Abs);
    public Tensor Neg() => Unary(UnaryOp.Neg);
    public Tensor Relu() => Unary(UnaryOp.Relu);
    public Tensor Tanh() => Unary(UnaryOp.Tanh);
    public Tensor Sigmoid() => Unary(UnaryOp.Sigmoid);
    public Tensor Softplus() => Unary(UnaryOp.Softplus);
    public Tensor Erf() => Unary(UnaryOp.Erf);
    public Tensor Sign() => Unary(UnaryOp.Sign);

    /// <summary>x·σ(x).</summary>
    public Tensor Silu() => this * Sigmoid();

    /// <summary>GELU: exact x·Φ(x) by default, or the tanh approximation.</summary>
    public Tensor Gelu(bool approximateTanh = false)
    {
        if (approximateTanh)
        {
            var inner = (this + this * this * this * 0.044715) * Math.Sqrt(2 / Math.PI);
            return this * 0.5 * (inner.Tanh() + 1.0);
        }
        return this * 0.5 * ((this * (1 / Math.Sqrt(2))).Erf() + 1.0);
    }

    /// <summary>cond ≠ 0 ? a : b, broadcasting all three. No gradient flows to cond.</summary>
    public static Tensor Where(Tensor cond, Tensor a, Tensor b)
    {
        CheckDType(a, b, "where");
        var shape = BroadcastShape(BroadcastShape(cond.ShapeArr, a.ShapeArr, "where"), b.ShapeArr, "where");
        var c = cond.To(a.DType).Detach().Expand(shape).Contiguous();
        var x = a.Detach().Expand(shape).Contiguous(); var z = b.Detach().Expand(shape).Contiguous();
        var y = Zeros(shape, a.DType);
        if (a.DType == DType.Float32)
        {
            var cs = c.Span<float>();
            var xs = x.Span<float>();
            var zs = z.Span<float>();
            var d = y.Span<float>();
            for (int i = 0; i < d.Length; i++) d[i] = cs[i] != 0 ? xs[i] : zs[i];
        }
        else
        {
            var cs = c.Span<double>();
            var xs = x.Span<double>();
            var zs = z.Span<double>();
            var d = y.Span<double>();
            for (int i = 0; i < d.Length; i++) d[i] = cs[i] != 0 ? xs[i] : zs[i];
        }
        return Autograd.Record(y, "where", static (n, g) =>
        {
            var c = (Tensor)n.Saved!; var zero = Scalar(0, g.DType);
            return [null, Where(c, g, zero).SumToShape(n.Inputs[1].ShapeArr), Where(c, zero, g).SumToShape(n.Inputs[2].ShapeArr)];
        }, cond.Detach(), a, b, saved: c);
    }

    /// <summary>value where mask ≠ 0, this elsewhere.</summary>
    public Tensor MaskedFill(Tensor mask, double value) => Where(mask, Scalar(value, DType), this);
}
