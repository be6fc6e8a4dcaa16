// Scalar special functions the BCL lacks.
namespace Engram.Tensors;

public static class SpecialFunctions
{
    /// <summary>Error function to double precision: erf(x) = 2/√π · e^{−x²} · Σ 2ⁿx^{2n+1}/(1·3···(2n+1)) (all terms
    /// positive).</summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return x;
        double ax = Math.Abs(x);
        if (ax >= 6) return Math.Sign(x);
        double term = ax, sum = ax, x2 = ax * ax;
        for (int n = 1; n < 500; n++)
        {
            term *= 2 * x2 / (2 * n + 1);
            sum += term;
            if (term < 1e-17 * sum) break;
        }
        double r = 1.1283791670955126 * PortableMath.Exp(-x2) * sum;
        if (r > 1) r = 1;
        return x < 0 ? -r : r;
    }
}
