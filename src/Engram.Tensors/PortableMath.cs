// Libm-free scalar math (exp, log, sin/cos, integer powers) from IEEE operations only, so a result has the same bits on
// every machine — what the compressor's encoder and decoder need to agree.
namespace Engram.Tensors;

/// <summary>Transcendental functions computed with + − × ÷, sqrt and round-to-even only (no libm), so results are identical on every
/// platform.</summary>
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

    /// <summary>e^x: x = k·ln2 + r (two-part ln 2), e^r by Taylor series to r¹³ (|r| ≤ ln2/2), times 2^k in two normal
    /// factors.</summary>
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

    /// <summary>sin x and cos x (|x| below about 10⁶ for full accuracy): x = k·π/2 + r, series for |r| ≤ π/4, quadrant from
    /// k.</summary>
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
