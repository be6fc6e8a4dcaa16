// The generator gives the same numbers on every platform: integer-only bits, portable logarithm for normals.
namespace Engram.Tensors.Tests;

public class GeneratorTests
{
    [Fact]
    public void KnownSequenceForSeedZero()
    {
        // xoshiro256** seeded by SplitMix64(0): these values depend only on integer arithmetic.
        var g = new Generator(0);
        var first = Enumerable.Range(0, 3).Select(_ => g.NextUInt64()).ToArray();
        var again = new Generator(0);
        Assert.Equal(first, Enumerable.Range(0, 3).Select(_ => again.NextUInt64()));
        Assert.NotEqual(first, Enumerable.Range(0, 3).Select(_ => new Generator(1).NextUInt64()));
        Assert.Equal(0x99EC5F36CB75F2B4UL, first[0]);
    }

    [Fact]
    public void PortableLogMatchesMathLog()
    {
        var g = new Generator(5);
        for (int i = 0; i < 10000; i++)
        {
            double x = Math.Exp((g.NextDouble() - 0.5) * 80);
            double want = Math.Log(x), got = PortableMath.Log(x);
            Assert.True(Math.Abs(got - want) <= 4e-16 * Math.Max(1, Math.Abs(want)), $"log({x}) = {got}, expected {want}");
        }
        Assert.Equal(double.NegativeInfinity, PortableMath.Log(0));
        Assert.True(double.IsNaN(PortableMath.Log(-1)));
        Assert.Equal(Math.Log(double.Epsilon), PortableMath.Log(double.Epsilon), 12);
    }

    [Fact]
    public void PortableExpAndSinCosMatchTheLibrary()
    {
        var g = new Generator(31);
        for (int i = 0; i < 20000; i++)
        {
            double x = (g.NextDouble() * 2 - 1) * 700;
            Assert.True(Math.Abs(PortableMath.Exp(x) - Math.Exp(x)) <= 4e-16 * Math.Exp(x), $"exp({x})");
            double a = (g.NextDouble() * 2 - 1) * Math.Pow(10, g.NextDouble() * 5);
            var (s, c) = PortableMath.SinCos(a);
            Assert.True(Math.Abs(s - Math.Sin(a)) <= 4e-16 * Math.Max(1, Math.Abs(a) / 1e3)
                && Math.Abs(c - Math.Cos(a)) <= 4e-16 * Math.Max(1, Math.Abs(a) / 1e3),
                $"sincos({a}): {s}, {c} vs {Math.Sin(a)}, {Math.Cos(a)}");
        }
        Assert.Equal(1, PortableMath.Exp(0)); Assert.Equal(double.PositiveInfinity, PortableMath.Exp(710));
        Assert.Equal(0, PortableMath.Exp(-746));
        Assert.Equal(Math.Exp(-740), PortableMath.Exp(-740), Math.Exp(-740) * 1e-12); // subnormal range
        Assert.True(double.IsNaN(PortableMath.Exp(double.NaN)));
        Assert.Equal((0.0, 1.0), PortableMath.SinCos(0));
    }

    [Fact]
    public void PowIntMatchesMathPow()
    {
        foreach (var b in new[] { 0.9, 0.999, 0.95, 1.0, 0.5, 2.0 })
            foreach (var n in new long[] { 0, 1, 2, 3, 7, 100, 5000 })
                Assert.Equal(Math.Pow(b, n), PortableMath.PowInt(b, n), Math.Abs(Math.Pow(b, n)) * 1e-12 + 1e-300);
        Assert.Throws<ArgumentOutOfRangeException>(() => PortableMath.PowInt(2, -1));
    }

    [Fact]
    public void NormalsHaveTheRightMomentsAndTruncationRespectsBounds()
    {
        var g = new Generator(11);
        var xs = Enumerable.Range(0, 200000).Select(_ => g.NextNormal()).ToArray();
        Assert.InRange(xs.Average(), -0.01, 0.01);
        Assert.InRange(xs.Select(x => x * x).Average(), 0.98, 1.02);
        var t = Tensor.TruncatedNormal(new Generator(3), [20000], 0, 1, -2, 2).ToDoubleArray();
        Assert.All(t, v => Assert.InRange(v, -2, 2));
        Assert.InRange(Math.Sqrt(t.Select(v => v * v).Average()), 0.86, 0.90); // std of N(0,1) truncated at ±2 ≈ 0.8796
        Assert.Throws<InvalidFileException>(() => g.SetState([0, 0, 0, 0, 0, 0]));
    }

    [Fact]
    public void ErfMatchesKnownValues()
    {
        Assert.Equal(0.8427007929497149, SpecialFunctions.Erf(1), 1e-15);
        Assert.Equal(-0.9953222650189527, SpecialFunctions.Erf(-2), 1e-15);
        Assert.Equal(0.5204998778130465, SpecialFunctions.Erf(0.5), 1e-15);
        Assert.Equal(1, SpecialFunctions.Erf(7));
    }
}
