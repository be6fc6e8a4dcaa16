// exp for float32 that gives the same bits on every SIMD path (AVX-512, AVX2, Vector128, scalar) and every
// machine: each lane runs the same IEEE operations in the same order, with fused multiply-adds throughout.
// Method: n = round(x·log2 e); r = x − n·ln2 (two-part ln2, by FMA); e^r by its Taylor series to degree 7
// (Horner, |r| ≤ ln2/2, truncation error below 2⁻²⁷); result = e^r·2ⁿ, the power built from exponent bits in two
// factors so subnormal results come out right. Accuracy: within 2 ulp of the true value (tested).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engram.Tensors.Kernels;

public static class PortableExp
{
    const float Log2E = 1.44269504088896341f;
    const float Ln2Hi = 0.693145751953125f;          // ln 2 rounded to 16 significant bits: n·Ln2Hi is exact
    const float Ln2Lo = 1.42860682030941723212e-6f;  // ln 2 − Ln2Hi
    const float MaxX = 88.72283935546875f;           // above: +∞
    const float MinX = -103.972076416015625f;        // below: 0
    const float C2 = 1f / 2, C3 = 1f / 6, C4 = 1f / 24, C5 = 1f / 120, C6 = 1f / 720, C7 = 1f / 5040;

    /// <summary>y[i] = e^{x[i]} (x and y may be the same span).</summary>
    public static unsafe void Exp(ReadOnlySpan<float> x, Span<float> y)
    {
        if (y.Length < x.Length) throw new ArgumentException("destination is shorter than the source", nameof(y));
        int n = x.Length, i = 0;
        fixed (float* px = x, py = y)
        {
            if (Vector512.IsHardwareAccelerated) for (; i + 16 <= n; i += 16) Vector512.Store(Exp(Vector512.Load(px + i)), py + i);
            if (Vector256.IsHardwareAccelerated) for (; i + 8 <= n; i += 8) Vector256.Store(Exp(Vector256.Load(px + i)), py + i);
            if (Vector128.IsHardwareAccelerated) for (; i + 4 <= n; i += 4) Vector128.Store(Exp(Vector128.Load(px + i)), py + i);
            for (; i < n; i++) py[i] = Exp(px[i]);
        }
    }

    /// <summary>y[i] = 1 / (1 + e^{−x[i]}), from the portable exponential (same bits on every path).</summary>
    public static unsafe void Sigmoid(ReadOnlySpan<float> x, Span<float> y)
    {
        if (y.Length < x.Length) throw new ArgumentException("destination is shorter than the source", nameof(y));
        int n = x.Length, i = 0;
        fixed (float* px = x, py = y)
        {
            if (Vector512.IsHardwareAccelerated)
                for (; i + 16 <= n; i += 16)
                    Vector512.Store(Vector512<float>.One / (Vector512<float>.One + Exp(-Vector512.Load(px + i))), py + i);
            if (Vector256.IsHardwareAccelerated)
                for (; i + 8 <= n; i += 8)
                    Vector256.Store(Vector256<float>.One / (Vector256<float>.One + Exp(-Vector256.Load(px + i))), py + i);
            if (Vector128.IsHardwareAccelerated)
                for (; i + 4 <= n; i += 4)
                    Vector128.Store(Vector128<float>.One / (Vector128<float>.One + Exp(-Vector128.Load(px + i))), py + i);
            for (; i < n; i++) py[i] = Sigmoid(px[i]);
        }
    }

    public static float Sigmoid(float x) => 1f / (1f + Exp(-x));

    /// <summary>The reference for the span Exp: the scalar path, element by element.</summary>
    public static void ExpReference(ReadOnlySpan<float> x, Span<float> y) => Elementwise(x, y, Exp);

    /// <summary>The reference for the span Sigmoid: the scalar path, element by element.</summary>
    public static void SigmoidReference(ReadOnlySpan<float> x, Span<float> y) => Elementwise(x, y, Sigmoid);

    /// <summary>The reference for the span Tanh: the scalar path, element by element.</summary>
    public static void TanhReference(ReadOnlySpan<float> x, Span<float> y) => Elementwise(x, y, Tanh);

    static void Elementwise(ReadOnlySpan<float> x, Span<float> y, Func<float, float> f)
    {
        if (y.Length < x.Length) throw new ArgumentException("destination is shorter than the source", nameof(y));
        for (int i = 0; i < x.Length; i++) y[i] = f(x[i]);
    }

    // tanh: for |x| < 0.55 its odd Taylor series through x¹⁷ (Horner in x², truncation below 6·10⁻⁹ relative);
    // otherwise sign(x)·(1 − 2/(e^{2|x|} + 1)) from the portable exponential. Both branches run in every lane.
    const float TanhSplit = 0.55f;
    const float T3 = (float)(-1.0 / 3), T5 = (float)(2.0 / 15), T7 = (float)(-17.0 / 315), T9 = (float)(62.0 / 2835),
        T11 = (float)(-1382.0 / 155925), T13 = (float)(21844.0 / 6081075), T15 = (float)(-929569.0 / 638512875),
        T17 = (float)(6404582.0 / 10854718875);

    /// <summary>y[i] = tanh(x[i]) with the same bits on every SIMD path.</summary>
    public static unsafe void Tanh(ReadOnlySpan<float> x, Span<float> y)
    {
        if (y.Length < x.Length) throw new ArgumentException("destination is shorter than the source", nameof(y));
        int n = x.Length, i = 0;
        fixed (float* px = x, py = y)
        {
            if (Vector512.IsHardwareAccelerated) for (; i + 16 <= n; i += 16) Vector512.Store(Tanh(Vector512.Load(px + i)), py + i);
            if (Vector256.IsHardwareAccelerated) for (; i + 8 <= n; i += 8) Vector256.Store(Tanh(Vector256.Load(px + i)), py + i);
            if (Vector128.IsHardwareAccelerated) for (; i + 4 <= n; i += 4) Vector128.Store(Tanh(Vector128.Load(px + i)), py + i);
            for (; i < n; i++) py[i] = Tanh(px[i]);
        }
    }

    public static float Tanh(float x)
    {
        if (float.IsNaN(x)) return x;
        float ax = MathF.Abs(x), x2 = x * x;
        float p = MathF.FusedMultiplyAdd(x2, T17, T15);
        p = MathF.FusedMultiplyAdd(p, x2, T13); p = MathF.FusedMultiplyAdd(p, x2, T11); p = MathF.FusedMultiplyAdd(p, x2, T9);
        p = MathF.FusedMultiplyAdd(p, x2, T7); p = MathF.FusedMultiplyAdd(p, x2, T5); p = MathF.FusedMultiplyAdd(p, x2, T3);
        float small = MathF.FusedMultiplyAdd(p * x2, x, x);
        float large = 1f - 2f / (Exp(ax + ax) + 1f);
        return MathF.CopySign(ax < TanhSplit ? small : large, x); // odd function; also keeps tanh(−0) = −0
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Tanh(Vector512<float> x)
    {
        var ax = Vector512.Abs(x); var x2 = x * x;
        var p = Vector512.FusedMultiplyAdd(x2, Vector512.Create(T17), Vector512.Create(T15));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(T13)); p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(T11));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(T9)); p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(T7));
        p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(T5)); p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(T3));
        var small = Vector512.FusedMultiplyAdd(p * x2, x, x);
        var large = Vector512<float>.One - Vector512.Create(2f) / (Exp(ax + ax) + Vector512<float>.One);
        var r = Vector512.ConditionalSelect(Vector512.LessThan(ax, Vector512.Create(TanhSplit)), small, large);
        r = Vector512.ConditionalSelect(Vector512.Create(-0f), x, r); // the sign of x (odd function; tanh(−0) = −0)
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), r, x);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Tanh(Vector256<float> x)
    {
        var ax = Vector256.Abs(x); var x2 = x * x;
        var p = Vector256.FusedMultiplyAdd(x2, Vector256.Create(T17), Vector256.Create(T15));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(T13)); p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(T11));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(T9)); p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(T7));
        p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(T5)); p = Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(T3));
        var small = Vector256.FusedMultiplyAdd(p * x2, x, x);
        var large = Vector256<float>.One - Vector256.Create(2f) / (Exp(ax + ax) + Vector256<float>.One);
        var r = Vector256.ConditionalSelect(Vector256.LessThan(ax, Vector256.Create(TanhSplit)), small, large);
        r = Vector256.ConditionalSelect(Vector256.Create(-0f), x, r); // the sign of x (odd function; tanh(−0) = −0)
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), r, x);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Tanh(Vector128<float> x)
    {
        var ax = Vector128.Abs(x); var x2 = x * x;
        var p = Vector128.FusedMultiplyAdd(x2, Vector128.Create(T17), Vector128.Create(T15));
        p = Vector128.FusedMultiplyAdd(p, x2, Vector128.Create(T13)); p = Vector128.FusedMultiplyAdd(p, x2, Vector128.Create(T11));
        p = Vector128.FusedMultiplyAdd(p, x2, Vector128.Create(T9)); p = Vector128.FusedMultiplyAdd(p, x2, Vector128.Create(T7));
        p = Vector128.FusedMultiplyAdd(p, x2, Vector128.Create(T5)); p = Vector128.FusedMultiplyAdd(p, x2, Vector128.Create(T3));
        var small = Vector128.FusedMultiplyAdd(p * x2, x, x);
        var large = Vector128<float>.One - Vector128.Create(2f) / (Exp(ax + ax) + Vector128<float>.One);
        var r = Vector128.ConditionalSelect(Vector128.LessThan(ax, Vector128.Create(TanhSplit)), small, large);
        r = Vector128.ConditionalSelect(Vector128.Create(-0f), x, r); // the sign of x (odd function; tanh(−0) = −0)
        return Vector128.ConditionalSelect(Vector128.Equals(x, x), r, x);
    }

    /// <summary>The scalar path (the reference every vector path must equal bit for bit).</summary>
    public static float Exp(float x)
    {
        if (float.IsNaN(x)) return x;
        if (x > MaxX) return float.PositiveInfinity;
        if (x < MinX) return 0f;
        float k = MathF.Round(x * Log2E);
        float r = MathF.FusedMultiplyAdd(-k, Ln2Lo, MathF.FusedMultiplyAdd(-k, Ln2Hi, x));
        float p = MathF.FusedMultiplyAdd(r, C7, C6);
        p = MathF.FusedMultiplyAdd(p, r, C5); p = MathF.FusedMultiplyAdd(p, r, C4); p = MathF.FusedMultiplyAdd(p, r, C3);
        p = MathF.FusedMultiplyAdd(p, r, C2); p = MathF.FusedMultiplyAdd(p, r, 1f); p = MathF.FusedMultiplyAdd(p, r, 1f);
        int e = (int)k;
        int e1 = e >> 1, e2 = e - e1; // 2^e = 2^e1 · 2^e2, each factor a normal float
        return p * BitConverter.Int32BitsToSingle((e1 + 127) << 23) * BitConverter.Int32BitsToSingle((e2 + 127) << 23);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        var nan = ~Vector512.Equals(x, x);
        var big = Vector512.GreaterThan(x, Vector512.Create(MaxX));
        var small = Vector512.LessThan(x, Vector512.Create(MinX));
        var xc = Vector512.Min(Vector512.Max(x, Vector512.Create(MinX)), Vector512.Create(MaxX));
        var k = Vector512.Round(xc * Vector512.Create(Log2E));
        var r = Vector512.FusedMultiplyAdd(-k, Vector512.Create(Ln2Lo), Vector512.FusedMultiplyAdd(-k, Vector512.Create(Ln2Hi), xc));
        var p = Vector512.FusedMultiplyAdd(r, Vector512.Create(C7), Vector512.Create(C6));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(C5)); p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(C4));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(C3)); p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(C2));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f)); p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f));
        var e = Vector512.ConvertToInt32(k);
        var e1 = Vector512.ShiftRightArithmetic(e, 1); var e2 = e - e1;
        var bias = Vector512.Create(127);
        var result = p * Vector512.ShiftLeft(e1 + bias, 23).AsSingle() * Vector512.ShiftLeft(e2 + bias, 23).AsSingle();
        result = Vector512.ConditionalSelect(big, Vector512.Create(float.PositiveInfinity), result);
        result = Vector512.ConditionalSelect(small, Vector512<float>.Zero, result);
        return Vector512.ConditionalSelect(nan, x, result);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        var nan = ~Vector256.Equals(x, x);
        var big = Vector256.GreaterThan(x, Vector256.Create(MaxX));
        var small = Vector256.LessThan(x, Vector256.Create(MinX));
        var xc = Vector256.Min(Vector256.Max(x, Vector256.Create(MinX)), Vector256.Create(MaxX));
        var k = Vector256.Round(xc * Vector256.Create(Log2E));
        var r = Vector256.FusedMultiplyAdd(-k, Vector256.Create(Ln2Lo), Vector256.FusedMultiplyAdd(-k, Vector256.Create(Ln2Hi), xc));
        var p = Vector256.FusedMultiplyAdd(r, Vector256.Create(C7), Vector256.Create(C6));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(C5)); p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(C4));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(C3)); p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(C2));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f)); p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f));
        var e = Vector256.ConvertToInt32(k);
        var e1 = Vector256.ShiftRightArithmetic(e, 1); var e2 = e - e1;
        var bias = Vector256.Create(127);
        var result = p * Vector256.ShiftLeft(e1 + bias, 23).AsSingle() * Vector256.ShiftLeft(e2 + bias, 23).AsSingle();
        result = Vector256.ConditionalSelect(big, Vector256.Create(float.PositiveInfinity), result);
        result = Vector256.ConditionalSelect(small, Vector256<float>.Zero, result);
        return Vector256.ConditionalSelect(nan, x, result);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Exp(Vector128<float> x)
    {
        var nan = ~Vector128.Equals(x, x);
        var big = Vector128.GreaterThan(x, Vector128.Create(MaxX));
        var small = Vector128.LessThan(x, Vector128.Create(MinX));
        var xc = Vector128.Min(Vector128.Max(x, Vector128.Create(MinX)), Vector128.Create(MaxX));
        var k = Vector128.Round(xc * Vector128.Create(Log2E));
        var r = Vector128.FusedMultiplyAdd(-k, Vector128.Create(Ln2Lo), Vector128.FusedMultiplyAdd(-k, Vector128.Create(Ln2Hi), xc));
        var p = Vector128.FusedMultiplyAdd(r, Vector128.Create(C7), Vector128.Create(C6));
        p = Vector128.FusedMultiplyAdd(p, r, Vector128.Create(C5)); p = Vector128.FusedMultiplyAdd(p, r, Vector128.Create(C4));
        p = Vector128.FusedMultiplyAdd(p, r, Vector128.Create(C3)); p = Vector128.FusedMultiplyAdd(p, r, Vector128.Create(C2));
        p = Vector128.FusedMultiplyAdd(p, r, Vector128.Create(1f)); p = Vector128.FusedMultiplyAdd(p, r, Vector128.Create(1f));
        var e = Vector128.ConvertToInt32(k);
        var e1 = Vector128.ShiftRightArithmetic(e, 1); var e2 = e - e1;
        var bias = Vector128.Create(127);
        var result = p * Vector128.ShiftLeft(e1 + bias, 23).AsSingle() * Vector128.ShiftLeft(e2 + bias, 23).AsSingle();
        result = Vector128.ConditionalSelect(big, Vector128.Create(float.PositiveInfinity), result);
        result = Vector128.ConditionalSelect(small, Vector128<float>.Zero, result);
        return Vector128.ConditionalSelect(nan, x, result);
    }
}
