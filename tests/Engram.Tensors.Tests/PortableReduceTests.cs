// Width-independent float32 reductions and the portable sigmoid: the SIMD path of this run (CI repeats the
// Kernels category with AVX-512 and AVX2 off) must give the bits of the scalar reference at every length.
using Engram.Tensors.Kernels;

namespace Engram.Tensors.Tests;

[Trait("Category", "Kernels")]
public class PortableReduceTests
{
    static float[] Random(int n, ulong seed)
    {
        var g = new Generator(seed); var r = new float[n];
        for (int i = 0; i < n; i++) r[i] = (float)(g.NextNormal() * Math.Exp(g.NextDouble() * 6 - 3));
        return r;
    }

    [Fact]
    public void SumsEqualTheScalarReferenceBitForBitAtEveryLength()
    {
        foreach (int n in Enumerable.Range(0, 300).Concat([1000, 4097, 65536 + 7]))
        {
            var x = Random(n, (ulong)n + 1); var y = Random(n, (ulong)n + 999);
            Assert.Equal(BitConverter.SingleToInt32Bits(PortableReduce.SumReference(x)),
                BitConverter.SingleToInt32Bits(PortableReduce.Sum(x)));
            Assert.Equal(BitConverter.SingleToInt32Bits(PortableReduce.SumReference(x, y, product: true)),
                BitConverter.SingleToInt32Bits(PortableReduce.Dot(x, y)));
            Assert.Equal(BitConverter.SingleToInt32Bits(PortableReduce.SumReference(x, x, product: true)),
                BitConverter.SingleToInt32Bits(PortableReduce.SumOfSquares(x)));
            double exact = x.Sum(v => (double)v), mag = x.Sum(v => Math.Abs((double)v));
            Assert.True(Math.Abs(PortableReduce.Sum(x) - exact) <= 1e-6 * mag + 1e-30, $"sum of {n}: {PortableReduce.Sum(x)} vs {exact}");
        }
    }

    [Fact]
    public void SigmoidSpanEqualsScalarAndIsAccurate()
    {
        for (int n = 0; n <= 256; n++)
        {
            var x = Random(n, (ulong)n + 5);
            for (int i = 0; i < n; i++) x[i] *= 10;
            var y = new float[n];
            PortableExp.Sigmoid(x, y);
            for (int i = 0; i < n; i++)
            {
                Assert.Equal(BitConverter.SingleToInt32Bits(PortableExp.Sigmoid(x[i])), BitConverter.SingleToInt32Bits(y[i]));
                Assert.True(Math.Abs(y[i] - 1 / (1 + Math.Exp(-x[i]))) <= 2e-7, $"sigmoid({x[i]}) = {y[i]}");
            }
        }
        Assert.Equal(0f, PortableExp.Sigmoid(-1000f)); Assert.Equal(1f, PortableExp.Sigmoid(1000f));
        Assert.True(float.IsNaN(PortableExp.Sigmoid(float.NaN)));
    }
}
