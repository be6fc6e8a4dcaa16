// PortableExp: within 2 ulp of the true exponential everywhere, and the same bits on every SIMD path
// (compared lane by lane against the scalar path in one process; CI also reruns these with AVX-512 and AVX2 off).
using System.Runtime.Intrinsics;
using Engram.Tensors.Kernels;

namespace Engram.Tensors.Tests;

[Trait("Category", "Kernels")]
public class PortableExpTests
{
    static int UlpDistance(float a, float b)
    {
        int ia = BitConverter.SingleToInt32Bits(a), ib = BitConverter.SingleToInt32Bits(b);
        if (ia < 0) ia = int.MinValue - ia;
        if (ib < 0) ib = int.MinValue - ib;
        return Math.Abs(ia - ib);
    }

    static float[] Inputs()
    {
        var g = new Generator(17);
        var xs = new List<float>();
        for (int i = 0; i < 200000; i++) xs.Add((float)(g.NextDouble() * 200 - 105));
        for (int i = 0; i < 50000; i++) xs.Add((float)(g.NextDouble() * 2 - 1));
        for (float x = -104f; x <= 89f; x += 0.01f) xs.Add(x);
        xs.AddRange([0f, -0f, 1f, -1f, 88.72283935546875f, 88.7228f, -87.33654f, -103.97f, -103.972076416015625f, float.Epsilon,
            -float.Epsilon, 1e-30f, -1e-30f]);
        return xs.ToArray();
    }

    [Fact]
    public void WithinTwoUlpOfTheTrueValue()
    {
        var xs = Inputs(); var ys = new float[xs.Length];
        PortableExp.Exp(xs, ys);
        int worst = 0; float at = 0;
        for (int i = 0; i < xs.Length; i++)
        {
            float want = (float)Math.Exp(xs[i]);
            int d = UlpDistance(ys[i], want);
            if (d > worst) { worst = d; at = xs[i]; }
        }
        Assert.True(worst <= 2, $"exp({at}) is {worst} ulp from the true value");
    }

    [Fact]
    public void TanhWithinTwoUlpAndTheSameOnEveryPath()
    {
        var g = new Generator(23);
        var xs = new List<float>();
        for (int i = 0; i < 200000; i++) xs.Add((float)((g.NextDouble() * 2 - 1) * Math.Exp(g.NextDouble() * 8 - 6)));
        for (float x = -12f; x <= 12f; x += 0.001f) xs.Add(x);
        xs.AddRange([0.55f, -0.55f, 0.5499999f, 0.5500001f, 1e-30f, -1e-30f, 50f, -50f]);
        var a = xs.ToArray(); var y = new float[a.Length];
        PortableExp.Tanh(a, y);
        for (int i = 0; i < a.Length; i++)
        {
            Assert.True(UlpDistance(y[i], (float)Math.Tanh(a[i])) <= 2, $"tanh({a[i]}) = {y[i]}, expected {(float)Math.Tanh(a[i])}");
            Assert.Equal(BitConverter.SingleToInt32Bits(PortableExp.Tanh(a[i])), BitConverter.SingleToInt32Bits(y[i]));
        }
        for (int i = 0; i + 16 <= a.Length; i += 16 * 97)
        {
            var v512 = PortableExp.Tanh(Vector512.Create(a.AsSpan(i, 16)));
            var v256 = PortableExp.Tanh(Vector256.Create(a.AsSpan(i, 8)));
            var v128 = PortableExp.Tanh(Vector128.Create(a.AsSpan(i, 4)));
            for (int l = 0; l < 16; l++) Assert.Equal(BitConverter.SingleToInt32Bits(y[i + l]), BitConverter.SingleToInt32Bits(v512[l]));
            for (int l = 0; l < 8; l++) Assert.Equal(BitConverter.SingleToInt32Bits(y[i + l]), BitConverter.SingleToInt32Bits(v256[l]));
            for (int l = 0; l < 4; l++) Assert.Equal(BitConverter.SingleToInt32Bits(y[i + l]), BitConverter.SingleToInt32Bits(v128[l]));
        }
        Assert.Equal(1f, PortableExp.Tanh(float.PositiveInfinity)); Assert.Equal(-1f, PortableExp.Tanh(float.NegativeInfinity));
        Assert.True(float.IsNaN(PortableExp.Tanh(float.NaN)));
        Assert.Equal(BitConverter.SingleToInt32Bits(-0f), BitConverter.SingleToInt32Bits(PortableExp.Tanh(-0f)));
    }

    [Fact]
    public void SpecialValues()
    {
        float[] xs = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, 89f, 1000f, -104f, -1000f, 0f];
        var ys = new float[xs.Length];
        PortableExp.Exp(xs, ys);
        Assert.True(float.IsNaN(ys[0]));
        Assert.Equal(float.PositiveInfinity, ys[1]); Assert.Equal(0f, ys[2]);
        Assert.Equal(float.PositiveInfinity, ys[3]); Assert.Equal(float.PositiveInfinity, ys[4]);
        Assert.Equal(0f, ys[5]); Assert.Equal(0f, ys[6]); Assert.Equal(1f, ys[7]);
        Assert.True(float.IsNaN(PortableExp.Exp(float.NaN)));
    }

    [Fact]
    public void EverySimdPathGivesTheScalarBits()
    {
        var xs = Inputs().Concat([float.NaN, float.PositiveInfinity, float.NegativeInfinity, 1000f, -1000f]).ToArray();
        var scalar = xs.Select(PortableExp.Exp).ToArray();
        void Check(string path, int lanes, Func<float[], int, float[]> run)
        {
            for (int i = 0; i + lanes <= xs.Length; i += lanes)
            {
                var got = run(xs, i);
                for (int l = 0; l < lanes; l++)
                    Assert.True(BitConverter.SingleToInt32Bits(got[l]) == BitConverter.SingleToInt32Bits(scalar[i + l])
                        || (float.IsNaN(got[l]) && float.IsNaN(scalar[i + l])),
                        $"{path}: exp({xs[i + l]}) = {got[l]}, scalar {scalar[i + l]}");
            }
        }
        // Each width runs in software when the hardware lacks it, so all three are checked on any machine.
        Check("Vector512", 16,
            (a, i) => { var r = new float[16]; PortableExp.Exp(Vector512.Create(a.AsSpan(i, 16))).CopyTo(r); return r; });
        Check("Vector256", 8, (a, i) => { var r = new float[8]; PortableExp.Exp(Vector256.Create(a.AsSpan(i, 8))).CopyTo(r); return r; });
        Check("Vector128", 4, (a, i) => { var r = new float[4]; PortableExp.Exp(Vector128.Create(a.AsSpan(i, 4))).CopyTo(r); return r; });
        // And the span entry point at every length 0..256 (mixing vector bodies and scalar tails).
        for (int n = 0; n <= 256; n++)
        {
            var y = new float[n];
            PortableExp.Exp(xs.AsSpan(1000, n), y);
            for (int i = 0; i < n; i++)
                Assert.Equal(BitConverter.SingleToInt32Bits(scalar[1000 + i]), BitConverter.SingleToInt32Bits(y[i]));
        }
    }
}
