// A seeded random generator that gives the same numbers on every platform: xoshiro256** for bits,
// SplitMix64 for seeding, and normals from the polar method with a logarithm built only from
// IEEE-exact operations (no libm), so no platform difference can change a sample.
namespace Engram.Tensors;

public sealed class Generator
{
    ulong _s0, _s1, _s2, _s3;
    bool _hasSpare;
    double _spare;

    public Generator(ulong seed) => Reseed(seed);

    public void Reseed(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix(ref x); _s1 = SplitMix(ref x); _s2 = SplitMix(ref x); _s3 = SplitMix(ref x);
        _hasSpare = false; _spare = 0;
    }

    static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0; _s3 ^= _s1; _s1 ^= _s2; _s0 ^= _s3; _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [0, 1) with 24 random bits (exactly representable in float32).</summary>
    public float NextFloat() => (NextUInt64() >> 40) * (1.0f / (1 << 24));

    /// <summary>Uniform integer in [0, n) without modulo bias.</summary>
    public int NextInt(int n)
    {
        if (n <= 0) throw new EngramException($"Generator.NextInt: bound must be positive, got {n}");
        ulong bound = (ulong)n, limit = ulong.MaxValue - ulong.MaxValue % bound;
        ulong r;
        do r = NextUInt64(); while (r >= limit);
        return (int)(r % bound);
    }

    /// <summary>Shuffles in place (Fisher–Yates from the end: element k swaps with NextInt(k + 1)).</summary>
    public void Shuffle<T>(Span<T> items)
    {
        for (int k = items.Length - 1; k > 0; k--) { int j = NextInt(k + 1); (items[k], items[j]) = (items[j], items[k]); }
    }

    /// <summary>Standard normal sample (Marsaglia polar method).</summary>
    public double NextNormal()
    {
        if (_hasSpare) { _hasSpare = false; return _spare; }
        double u, v, s;
        do
        {
            u = 2 * NextDouble() - 1;
            v = 2 * NextDouble() - 1;
            s = u * u + v * v;
        } while (s >= 1 || s == 0);
        double f = Math.Sqrt(-2 * PortableMath.Log(s) / s);
        _spare = v * f; _hasSpare = true;
        return u * f;
    }

    /// <summary>Standard normal truncated to [lo, hi] by rejection.</summary>
    public double NextTruncatedNormal(double lo = -2, double hi = 2)
    {
        while (true) { double x = NextNormal(); if (x >= lo && x <= hi) return x; }
    }

    /// <summary>The full state (for checkpoints): 4 state words, spare flag, spare value bits.</summary>
    public ulong[] GetState() => [_s0, _s1, _s2, _s3, _hasSpare ? 1UL : 0UL, (ulong)BitConverter.DoubleToInt64Bits(_spare)];

    public void SetState(ReadOnlySpan<ulong> state)
    {
        if (state.Length != 6) throw new InvalidFileException($"generator state: expected 6 words, got {state.Length}");
        if ((state[0] | state[1] | state[2] | state[3]) == 0) throw new InvalidFileException("generator state: all-zero xoshiro state is invalid");
        _s0 = state[0]; _s1 = state[1]; _s2 = state[2]; _s3 = state[3];
        _hasSpare = state[4] != 0; _spare = BitConverter.Int64BitsToDouble((long)state[5]);
    }
}

/// <summary>Transcendental functions computed with + − × ÷, sqrt and round-to-even only (no libm), so results are identical on every platform.</summary>
public static class PortableMath
{
    const double Ln2Hi = 6.93147180369123816490e-01, Ln2Lo = 1.90821492927058770002e-10;

    /// <summary>Natural logarithm for x &gt; 0: x = 2^e·m with m in [√½, √2), log m = 2·atanh((m−1)/(m+1)) by series.</summary>
    public static double Log(double x)
    {
        if (double.IsNaN(x) || x < 0) return double.NaN;
        if (x == 0) return double.NegativeInfinity;
        if (double.IsPositiveInfinity(x)) return x;
        long bits = BitConverter.DoubleToInt64Bits(x);
        int e = (int)((bits >> 52) & 0x7FF);
        if (e == 0) { x *= 18014398509481984.0; bits = BitConverter.DoubleToInt64Bits(x); e = (int)((bits >> 52) & 0x7FF) - 54; }
        e -= 1023;
        double m = BitConverter.Int64BitsToDouble((bits & 0x000FFFFFFFFFFFFFL) | 0x3FF0000000000000L);
        if (m > 1.4142135623730951) { m *= 0.5; e++; }
        double s = (m - 1) / (m + 1), s2 = s * s, term = s, sum = 0;
        for (int k = 1; k < 40; k += 2)
        {
            double add = term / k;
            sum += add;
            if (Math.Abs(add) < 1e-18 * Math.Abs(sum)) break;
            term *= s2;
        }
        return e * Ln2Hi + (2 * sum + e * Ln2Lo);
    }

    /// <summary>b^n for an integer n ≥ 0 by repeated squaring (IEEE multiplications only, so the same on every platform).</summary>
    public static double PowInt(double b, long n)
    {
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), n, "exponent must be non-negative");
        double result = 1;
        while (n > 0) { if ((n & 1) != 0) result *= b; b *= b; n >>= 1; }
        return result;
    }

    /// <summary>e^x: x = k·ln2 + r (two-part ln 2), e^r by Taylor series to r¹³ (|r| ≤ ln2/2), times 2^k in two normal factors.</summary>
    public static double Exp(double x)
    {
        if (double.IsNaN(x)) return x;
        if (x > 709.782712893384) return double.PositiveInfinity;
        if (x < -745.1332191019412) return 0;
        double k = Math.Round(x * 1.4426950408889634);
        double r = (x - k * Ln2Hi) - k * Ln2Lo;
        double p = InvFact[13];
        for (int n = 12; n >= 1; n--) p = p * r + InvFact[n];
        p = p * r + 1;
        long e = (long)k, e1 = e / 2, e2 = e - e1;
        return p * BitConverter.Int64BitsToDouble((e1 + 1023) << 52) * BitConverter.Int64BitsToDouble((e2 + 1023) << 52);
    }

    /// <summary>1/n! for n = 0..19 (the exp and sin/cos series).</summary>
    static readonly double[] InvFact = BuildInverseFactorials(19);
    static double[] BuildInverseFactorials(int n)
    {
        var r = new double[n + 1]; double f = 1;
        for (int i = 0; i <= n; i++) { if (i > 0) f *= i; r[i] = 1 / f; }
        return r;
    }

    // π/2 in three parts of 33 significant bits each, so k·part is exact for |k| < 2²⁰ (Cody–Waite reduction).
    const double PiO2A = 1.57079632673412561417e+00, PiO2B = 6.07710050630396597660e-11, PiO2C = 2.02226624871116645580e-21;

    /// <summary>sin x and cos x (|x| below about 10⁶ for full accuracy): x = k·π/2 + r, series for |r| ≤ π/4, quadrant from k.</summary>
    public static (double Sin, double Cos) SinCos(double x)
    {
        if (!double.IsFinite(x)) return (double.NaN, double.NaN);
        double k = Math.Round(x * 0.63661977236758134);
        double r = ((x - k * PiO2A) - k * PiO2B) - k * PiO2C;
        double r2 = r * r;
        // sin r = r·Σ (−r²)ⁿ/(2n+1)!, cos r = Σ (−r²)ⁿ/(2n)!, n ≤ 9
        double s = 0, c = 0;
        for (int n = 9; n >= 0; n--)
        {
            s = s * -r2 + InverseFactorialOdd(n);
            c = c * -r2 + InverseFactorialEven(n);
        }
        s *= r;
        return ((long)k & 3) switch
        {
            0 => (s, c),
            1 => (c, -s),
            2 => (-s, -c),
            _ => (-c, s),
        };
    }

    static double InverseFactorialOdd(int n) => InvFact[2 * n + 1];
    static double InverseFactorialEven(int n) => InvFact[2 * n];
}
