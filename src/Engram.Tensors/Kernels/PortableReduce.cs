// Float32 reductions whose result does not depend on the SIMD width: element i always goes to partial sum
// i mod 16 (whole blocks of 16 first, in order, then the tail), and the 16 partials are combined by the same
// fixed tree. A Vector512 holds the 16 partials in one register, AVX2 in two, Vector128 in four, scalar code in
// sixteen — every path performs the same IEEE additions (or fused multiply-adds) in the same order, so the bits
// are identical on every machine. (TensorPrimitives' own sums use the width of the machine and can differ.)
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engram.Tensors.Kernels;

public static unsafe class PortableReduce
{
    const int Lanes = 16;

    /// <summary>Σ x[i].</summary>
    public static float Sum(ReadOnlySpan<float> x)
    {
        fixed (float* px = x) return Reduce(px, null, x.Length, product: false);
    }

    /// <summary>Σ x[i]·y[i] (fused multiply-adds).</summary>
    public static float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        if (y.Length != x.Length) throw new ArgumentException("spans differ in length", nameof(y));
        fixed (float* px = x, py = y) return Reduce(px, py, x.Length, product: true);
    }

    /// <summary>Σ x[i]².</summary>
    public static float SumOfSquares(ReadOnlySpan<float> x)
    {
        fixed (float* px = x) return Reduce(px, px, x.Length, product: true);
    }

    static float Reduce(float* x, float* y, int n, bool product)
    {
        float* p = stackalloc float[Lanes];
        int blocks = n / Lanes, i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var a = Vector512<float>.Zero;
            for (int b = 0; b < blocks; b++, i += Lanes)
                a = product ? Vector512.FusedMultiplyAdd(Vector512.Load(x + i), Vector512.Load(y + i), a) : a + Vector512.Load(x + i);
            a.Store(p);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> a0 = default, a1 = default;
            for (int b = 0; b < blocks; b++, i += Lanes)
            {
                if (product)
                {
                    a0 = Vector256.FusedMultiplyAdd(Vector256.Load(x + i), Vector256.Load(y + i), a0);
                    a1 = Vector256.FusedMultiplyAdd(Vector256.Load(x + i + 8), Vector256.Load(y + i + 8), a1);
                }
                else { a0 += Vector256.Load(x + i); a1 += Vector256.Load(x + i + 8); }
            }
            a0.Store(p); a1.Store(p + 8);
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            Vector128<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int b = 0; b < blocks; b++, i += Lanes)
            {
                if (product)
                {
                    a0 = Vector128.FusedMultiplyAdd(Vector128.Load(x + i), Vector128.Load(y + i), a0);
                    a1 = Vector128.FusedMultiplyAdd(Vector128.Load(x + i + 4), Vector128.Load(y + i + 4), a1);
                    a2 = Vector128.FusedMultiplyAdd(Vector128.Load(x + i + 8), Vector128.Load(y + i + 8), a2);
                    a3 = Vector128.FusedMultiplyAdd(Vector128.Load(x + i + 12), Vector128.Load(y + i + 12), a3);
                }
                else
                {
                    a0 += Vector128.Load(x + i);
                    a1 += Vector128.Load(x + i + 4);
                    a2 += Vector128.Load(x + i + 8);
                    a3 += Vector128.Load(x + i + 12);
                }
            }
            a0.Store(p); a1.Store(p + 4); a2.Store(p + 8); a3.Store(p + 12);
        }
        else
        {
            for (int l = 0; l < Lanes; l++) p[l] = 0;
            for (int b = 0; b < blocks; b++, i += Lanes)
                for (int l = 0; l < Lanes; l++) p[l] = product ? MathF.FusedMultiplyAdd(x[i + l], y[i + l], p[l]) : p[l] + x[i + l];
        }
        for (int l = 0; i < n; i++, l++) p[l] = product ? MathF.FusedMultiplyAdd(x[i], y[i], p[l]) : p[l] + x[i];
        return Combine(p);
    }

    /// <summary>The fixed tree: halves folded onto each other, 16 → 8 → 4 → 2 → 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Combine(float* p)
    {
        for (int width = Lanes / 2; width >= 1; width /= 2)
            for (int l = 0; l < width; l++) p[l] += p[l + width];
        return p[0];
    }

    /// <summary>Scalar reference of the same association order (for tests).</summary>
    public static float SumReference(ReadOnlySpan<float> x, ReadOnlySpan<float> y = default, bool product = false)
    {
        var p = new float[Lanes];
        int blocks = x.Length / Lanes, i = 0;
        for (int b = 0; b < blocks; b++, i += Lanes)
            for (int l = 0; l < Lanes; l++) p[l] = product ? MathF.FusedMultiplyAdd(x[i + l], y[i + l], p[l]) : p[l] + x[i + l];
        for (int l = 0; i < x.Length; i++, l++) p[l] = product ? MathF.FusedMultiplyAdd(x[i], y[i], p[l]) : p[l] + x[i];
        for (int width = Lanes / 2; width >= 1; width /= 2)
            for (int l = 0; l < width; l++) p[l] += p[l + width];
        return p[0];
    }
}
