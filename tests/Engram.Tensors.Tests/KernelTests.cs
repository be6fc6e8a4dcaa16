// Every SIMD kernel against its scalar reference, for every length 0..256 and odd shapes. These run three
// times in CI: as is, with DOTNET_EnableAVX512=0 and with DOTNET_EnableAVX2=0, so every vector path runs.
using System.Runtime.Intrinsics;
using CsCheck;
using Engram.Tensors.Kernels;
using Xunit.Abstractions;

namespace Engram.Tensors.Tests;

[Trait("Category", "Kernels")]
public class KernelTests(ITestOutputHelper output)
{
    static float[] RandomFloats(int n, ulong seed)
    {
        var g = new Generator(seed); var r = new float[n];
        for (int i = 0; i < n; i++) r[i] = (float)g.NextNormal();
        return r;
    }

    [Fact]
    public void SimdPathMatchesEnvironment()
    {
        var (mr, nr, path) = Gemm.MicroKernel;
        output.WriteLine($"GEMM micro-kernel {mr}x{nr} on {path}; Vector512 {Vector512.IsHardwareAccelerated}, Vector256 " +
            $"{Vector256.IsHardwareAccelerated}");
        if (Environment.GetEnvironmentVariable("DOTNET_EnableAVX512") == "0"
            || Environment.GetEnvironmentVariable("DOTNET_EnableAVX512F") == "0")
            Assert.NotEqual("Vector512", path);
        if (Environment.GetEnvironmentVariable("DOTNET_EnableAVX2") == "0")
            Assert.DoesNotContain(path, new[] { "Vector512", "Vector256" });
    }

    /// <summary>Runs GEMM (fast path) and the reference on the same operands and demands bit equality.</summary>
    static void CheckGemm(int M, int N, int K, bool transA, bool transB, bool accumulate, int threads, ulong seed)
    {
        var a = RandomFloats(M * K, seed); var b = RandomFloats(K * N, seed + 1);
        var av = transA ? new MatrixView<float>(a, 0, 1, M) : new MatrixView<float>(a, 0, K, 1);
        var bv = transB ? new MatrixView<float>(b, 0, 1, K) : new MatrixView<float>(b, 0, N, 1);
        int ldc = N + 3; // C rows padded, to test ldc
        var c0 = RandomFloats(M * ldc, seed + 2); var c1 = (float[])c0.Clone();
        Gemm.Run(M, N, K, av, bv, c0, ldc, accumulate, threads);
        Gemm.Reference(M, N, K, av, bv, c1.AsSpan(), ldc, accumulate);
        for (int i = 0; i < M; i++)
            for (int j = 0; j < ldc; j++)
                if (BitConverter.SingleToInt32Bits(c0[i * ldc + j]) != BitConverter.SingleToInt32Bits(c1[i * ldc + j]))
                    Assert.Fail($"GEMM {M}x{N}x{K} tA={transA} tB={transB} acc={accumulate} threads={threads}: C[{i},{j}] = " +
                        $"{c0[i * ldc + j]} vs reference {c1[i * ldc + j]}");
    }

    [Fact]
    public void GemmEqualsReferenceOnEdgeShapes()
    {
        int[] sizes = [0, 1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 97];
        ulong seed = 1;
        foreach (int m in sizes) foreach (int n in sizes) foreach (int k in new[] { 0, 1, 7, 33 })
            CheckGemm(m, n, k, transA: (m + n) % 2 == 0, transB: (n + k) % 3 == 0, accumulate: k % 2 == 1, threads: 2, seed++);
    }

    [Fact]
    public void FewRowsTimesATransposedMatrixEqualReference()
    {
        // the decoding path: one token's row times a Linear weight used transposed (8 interleaved chains + tail)
        ulong seed = 50;
        foreach (int m in new[] { 1, 2, 3, 4 }) foreach (int n in new[] { 1, 7, 8, 9, 64, 257 }) foreach (int k in new[] { 1, 5, 64, 300 })
            foreach (bool ta in new[] { false, true })
                CheckGemm(m, n, k, ta, transB: true, accumulate: (n + k) % 2 == 0, threads: 1, seed++);
    }

    [Fact]
    public void GemmEqualsReferenceAcrossBlocks()
    {
        // Shapes that cross the MC, KC and NR block edges, with every operand layout.
        foreach (var (m, n, k) in new[] { (97, 70, 300), (200, 33, 257), (9, 260, 513), (130, 129, 64) })
            foreach (bool ta in new[] { false, true }) foreach (bool tb in new[] { false, true })
                foreach (int threads in new[] { 1, 2 })
                    CheckGemm(m, n, k, ta, tb, accumulate: ta, threads, (ulong)(m * n + k));
    }

    [Fact]
    public void GemmEqualsReferenceOnRandomShapes()
    {
        Gen.Select(Gen.Int[1, 90], Gen.Int[1, 90], Gen.Int[0, 300], Gen.Bool, Gen.Bool, Gen.Bool)
            .Sample((m, n, k, ta, tb, acc) => CheckGemm(m, n, k, ta, tb, acc, 2, (ulong)(m * 7919 + n * 31 + k)), iter: 60);
    }

    [Fact]
    public void DoubleRowKernelEqualsReference()
    {
        var g = new Generator(3);
        foreach (var (m, n, k) in new[] { (1, 1, 1), (3, 5, 7), (8, 17, 2), (0, 3, 3), (4, 4, 0) })
        {
            var a = new double[m * k]; var b = new double[k * n];
            for (int i = 0; i < a.Length; i++) a[i] = g.NextNormal();
            for (int i = 0; i < b.Length; i++) b[i] = g.NextNormal();
            var c0 = new double[m * n]; var c1 = new double[m * n];
            Gemm.RowKernel(m, n, k, new MatrixView<double>(a, 0, k, 1), new MatrixView<double>(b, 0, 1, k), c0.AsSpan(), n, false);
            Gemm.Reference(m, n, k, new MatrixView<double>(a, 0, k, 1), new MatrixView<double>(b, 0, 1, k), c1.AsSpan(), n, false);
            Assert.Equal(c1, c0);
        }
    }

    static readonly (UnaryOp Op, Func<double, double> Ref, double Tol)[] Unaries =
    [
        (UnaryOp.Neg, x => -x, 0), (UnaryOp.Abs, Math.Abs, 0), (UnaryOp.Relu, x => Math.Max(x, 0), 0),
        (UnaryOp.Exp, Math.Exp, 4e-7), (UnaryOp.Log, x => Math.Log(Math.Abs(x) + 0.1), 4e-7),
        (UnaryOp.Sqrt, x => Math.Sqrt(Math.Abs(x)), 2e-7), (UnaryOp.Rsqrt, x => 1 / Math.Sqrt(Math.Abs(x) + 0.1), 4e-7),
        (UnaryOp.Tanh, Math.Tanh, 4e-7), (UnaryOp.Sigmoid, x => 1 / (1 + Math.Exp(-x)), 4e-7),
        (UnaryOp.Softplus, x => Math.Log(1 + Math.Exp(x)), 4e-7), (UnaryOp.Erf, SpecialFunctions.Erf, 2e-7),
        (UnaryOp.Reciprocal, x => 1 / x, 2e-7),
    ];

    [Fact]
    public void UnaryKernelsMatchReferenceAtEveryLength()
    {
        foreach (var (op, reference, tol) in Unaries)
            for (int n = 0; n <= 256; n++)
            {
                var x = RandomFloats(n, (ulong)n + 11);
                if (op is UnaryOp.Log) for (int i = 0; i < n; i++) x[i] = MathF.Abs(x[i]) + 0.1f;
                if (op is UnaryOp.Sqrt) for (int i = 0; i < n; i++) x[i] = MathF.Abs(x[i]);
                if (op is UnaryOp.Rsqrt) for (int i = 0; i < n; i++) x[i] = MathF.Abs(x[i]) + 0.1f;
                var y = new float[n];
                Tensor.UnaryKernel<float>(x, y, op);
                for (int i = 0; i < n; i++)
                {
                    double want = op is UnaryOp.Log ? Math.Log(x[i]) : op is UnaryOp.Rsqrt ? 1 / Math.Sqrt(x[i]) : reference(x[i]);
                    Assert.True(Math.Abs(y[i] - want) <= tol * Math.Max(1, Math.Abs(want)) + (tol == 0 ? 0 : 1e-30),
                        $"{op} length {n} index {i}: {y[i]} vs {want}");
                }
            }
    }

    [Fact]
    public void BinaryArithmeticIsExactAtEveryLengthAndLayout()
    {
        foreach (var op in new[] { BinaryOp.Add, BinaryOp.Sub, BinaryOp.Mul, BinaryOp.Div })
            for (int n = 0; n <= 256; n++)
            {
                var a = Tensor.FromArray(RandomFloats(n, (ulong)n), n);
                var b = Tensor.FromArray(RandomFloats(n, (ulong)n + 500), n);
                var s = Tensor.FromArray(RandomFloats(1, (ulong)n + 900), 1);
                foreach (var (x, y) in new[] { (a, b), (a, s), (s, b) })
                {
                    var r = Tensor.BinaryForward(x, y, op, op.ToString()).ToFloatArray();
                    var xs = x.ToFloatArray(); var ys = y.ToFloatArray();
                    for (int i = 0; i < r.Length; i++)
                    {
                        float want = Tensor.Scalar(xs[xs.Length == 1 ? 0 : i], ys[ys.Length == 1 ? 0 : i], op);
                        Assert.True(BitConverter.SingleToInt32Bits(want) == BitConverter.SingleToInt32Bits(r[i]),
                            $"{op} n={n} i={i}: {r[i]} vs {want}");
                    }
                }
            }
    }

    [Fact]
    public void RowReductionsMatchReferenceAtEveryLength()
    {
        for (int n = 1; n <= 256; n++)
        {
            var x = RandomFloats(2 * n, (ulong)n * 3);
            var sum = new float[2]; var lse = new float[2]; var sm = new float[2 * n];
            Tensor.SumRows<float>(x, sum, 2, n);
            Tensor.LogSumExpRows<float>(x, lse, 2, n);
            Tensor.SoftmaxRows<float>(x, sm, 2, n);
            for (int r = 0; r < 2; r++)
            {
                double s = 0, m = double.NegativeInfinity, e = 0;
                for (int j = 0; j < n; j++) { s += x[r * n + j]; m = Math.Max(m, x[r * n + j]); }
                for (int j = 0; j < n; j++) e += Math.Exp(x[r * n + j] - m);
                Assert.True(Math.Abs(sum[r] - s) <= 1e-5 * Math.Sqrt(n) * 4, $"sum n={n}: {sum[r]} vs {s}");
                Assert.True(Math.Abs(lse[r] - (m + Math.Log(e))) <= 2e-6 * Math.Max(1, Math.Abs(m)), $"logsumexp n={n}");
                for (int j = 0; j < n; j++)
                    Assert.True(Math.Abs(sm[r * n + j] - Math.Exp(x[r * n + j] - m) / e) <= 1e-6, $"softmax n={n} j={j}");
            }
        }
    }
}
