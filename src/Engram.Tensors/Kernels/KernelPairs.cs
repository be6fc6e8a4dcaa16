// Every fast kernel beside its slow, obvious reference, in one list. A pair runs the kernel and the reference on the
// same random inputs of a given size (0 upwards) and says how the two must agree: bit for bit where the kernel performs
// the reference's IEEE operations in the reference's order (GEMM, sums, exp, sigmoid, tanh, Adam, CRC-32C), within a
// tolerance where it rounds differently by design (the fused ops, whose reductions and backward formulas are their own).
// tests/Engram.Tensors.Tests/KernelPairTests.cs runs every pair at several sizes, and fails when a public method named
// *Reference in this assembly is not named by a pair here.
using System.Numerics;
using Engram.Tensors.IO;
using Engram.Tensors.Optim;

namespace Engram.Tensors.Kernels;

/// <summary>Runs one side of a pair on a problem of the given size, drawing its inputs from the generator (the same seed
/// gives both sides the same inputs); returns every output (results, updated state, gradients), one array each.</summary>
public delegate double[][] KernelRun(int size, Generator random);

/// <summary>A fast kernel and its reference (both named "Type.Member"). Tolerance 0: the outputs must be bit-identical
/// (any NaN equals any NaN); otherwise each output array must agree within Tolerance · max(1, its largest magnitude in
/// the reference's result).</summary>
public sealed record KernelPair(string Kernel, string Reference, KernelRun RunKernel, KernelRun RunReference, double Tolerance)
{
    public bool Exact => Tolerance == 0;
    public override string ToString() => $"{Kernel} against {Reference}";
}

public static class KernelPairs
{
    /// <summary>Fused RMSNorm, cross-entropy, rotary embeddings and SwiGLU against their references, output and gradients.</summary>
    public const double FusedTolerance = 3e-6;
    /// <summary>Flash attention (online softmax, tile by tile) against the reference that materialises Tq×Tk.</summary>
    public const double AttentionTolerance = 2e-5;

    static string SumReference => Name(nameof(PortableReduce), nameof(PortableReduce.SumReference));

    /// <summary>Every pair, in the order kernels, optimiser, checksum, fused ops.</summary>
    public static IReadOnlyList<KernelPair> All { get; } =
    [
        Pair(Name(nameof(Gemm), nameof(Gemm.Run)), Name(nameof(Gemm), nameof(Gemm.Reference)), GemmProblem<float>.Draw,
            p => { Gemm.Run(p.M, p.N, p.K, p.A, p.B, p.C, p.Ldc, p.Accumulate); return [Doubles<float>(p.C)]; },
            p => { Gemm.Reference(p.M, p.N, p.K, p.A, p.B, p.C, p.Ldc, p.Accumulate); return [Doubles<float>(p.C)]; }),
        Pair(Name(nameof(Gemm), nameof(Gemm.RowKernel)), Name(nameof(Gemm), nameof(Gemm.Reference)), GemmProblem<double>.Draw,
            p => { Gemm.RowKernel(p.M, p.N, p.K, p.A, p.B, p.C, p.Ldc, p.Accumulate); return [Doubles<double>(p.C)]; },
            p => { Gemm.Reference(p.M, p.N, p.K, p.A, p.B, p.C, p.Ldc, p.Accumulate); return [Doubles<double>(p.C)]; }),

        Pair(Name(nameof(PortableReduce), nameof(PortableReduce.Sum)), SumReference, TwoVectors,
            p => [[PortableReduce.Sum(p.X)]], p => [[PortableReduce.SumReference(p.X)]]),
        Pair(Name(nameof(PortableReduce), nameof(PortableReduce.Dot)), SumReference, TwoVectors,
            p => [[PortableReduce.Dot(p.X, p.Y)]], p => [[PortableReduce.SumReference(p.X, p.Y, product: true)]]),
        Pair(Name(nameof(PortableReduce), nameof(PortableReduce.SumOfSquares)), SumReference, TwoVectors,
            p => [[PortableReduce.SumOfSquares(p.X)]], p => [[PortableReduce.SumReference(p.X, p.X, product: true)]]),

        Pair(Name(nameof(PortableExp), nameof(PortableExp.Exp)), Name(nameof(PortableExp), nameof(PortableExp.ExpReference)),
            (n, g) => Arguments(n, g, 105), x => Map(x, PortableExp.Exp), x => Map(x, PortableExp.ExpReference)),
        Pair(Name(nameof(PortableExp), nameof(PortableExp.Sigmoid)), Name(nameof(PortableExp), nameof(PortableExp.SigmoidReference)),
            (n, g) => Arguments(n, g, 30), x => Map(x, PortableExp.Sigmoid), x => Map(x, PortableExp.SigmoidReference)),
        Pair(Name(nameof(PortableExp), nameof(PortableExp.Tanh)), Name(nameof(PortableExp), nameof(PortableExp.TanhReference)),
            (n, g) => Arguments(n, g, 12), x => Map(x, PortableExp.Tanh), x => Map(x, PortableExp.TanhReference)),

        Pair(Name(nameof(AdamKernel), nameof(AdamKernel.Update)), Name(nameof(AdamKernel), nameof(AdamKernel.UpdateReference)),
            AdamProblem.Draw, p => p.Step(vector: true), p => p.Step(vector: false)),

        Pair(Name(nameof(Crc32C), nameof(Crc32C.Compute)), Name(nameof(Crc32C), nameof(Crc32C.ComputeReference)), CrcProblem.Draw,
            p => [[Crc32C.Compute(p.Data, p.Seed)]], p => [[Crc32C.ComputeReference(p.Data, p.Seed)]]),

        GraphPair(Name(nameof(Fused), nameof(Fused.RmsNorm)), Name(nameof(Functional), nameof(Functional.RmsNormReference)),
            Graph.RmsNorm, FusedTolerance),
        GraphPair(Name(nameof(Fused), nameof(Fused.CrossEntropy)),
            Name(nameof(Functional), nameof(Functional.CrossEntropyReference)), Graph.CrossEntropy, FusedTolerance),
        GraphPair(Name(nameof(Fused), nameof(Fused.Rotary)), Name(nameof(Functional), nameof(Functional.ApplyRotaryReference)),
            Graph.Rotary, FusedTolerance),
        GraphPair(Name(nameof(Fused), nameof(Fused.SwiGlu)), Name(nameof(Functional), nameof(Functional.SwiGluReference)),
            Graph.SwiGlu, FusedTolerance),
        GraphPair(nameof(FlashAttention), Name(nameof(Functional), nameof(Functional.AttentionReference)), Graph.Attention,
            AttentionTolerance),
    ];

    static string Name(string type, string member) => type + "." + member;

    static KernelPair Pair<TIn>(string kernel, string reference, Func<int, Generator, TIn> draw, Func<TIn, double[][]> runKernel,
        Func<TIn, double[][]> runReference, double tolerance = 0)
        => new(kernel, reference, (n, g) => runKernel(draw(n, g)), (n, g) => runReference(draw(n, g)), tolerance);

    static KernelPair GraphPair(string kernel, string reference, Func<int, Generator, Graph> draw, double tolerance)
        => Pair(kernel, reference, draw, p => p.Differentiate(p.Kernel), p => p.Differentiate(p.Reference), tolerance);

    static double[] Doubles<T>(ReadOnlySpan<T> x) where T : unmanaged, INumberBase<T>
    {
        var r = new double[x.Length];
        for (int i = 0; i < x.Length; i++) r[i] = double.CreateTruncating(x[i]);
        return r;
    }

    static T[] Normals<T>(int n, Generator g) where T : unmanaged, INumberBase<T>
    {
        var r = new T[n];
        for (int i = 0; i < n; i++) r[i] = T.CreateTruncating(g.NextNormal());
        return r;
    }

    // ------------------------------------------------------------------ GEMM
    // M = size; N, K, the layouts (either operand transposed), accumulation and C's padding drawn at random.

    sealed record GemmProblem<T>(int M, int N, int K, MatrixView<T> A, MatrixView<T> B, T[] C, int Ldc, bool Accumulate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public static GemmProblem<T> Draw(int size, Generator g)
        {
            int m = size, n = g.NextInt(size + 2), k = g.NextInt(2 * size + 2), ldc = n + g.NextInt(3);
            bool transA = g.NextInt(2) == 1, transB = g.NextInt(2) == 1, accumulate = g.NextInt(2) == 1;
            T[] a = Normals<T>(m * k, g), b = Normals<T>(k * n, g), c = Normals<T>(m * ldc, g);
            return new(m, n, k, transA ? new(a, 0, 1, m) : new(a, 0, k, 1), transB ? new(b, 0, 1, k) : new(b, 0, n, 1), c, ldc,
                accumulate);
        }
    }

    // ------------------------------------------------------------------ reductions, exp, sigmoid, tanh

    sealed record Vectors(float[] X, float[] Y);

    /// <summary>Two vectors whose magnitudes span e^±3, so the rounding of every partial sum matters.</summary>
    static Vectors TwoVectors(int size, Generator g)
    {
        float[] Spread()
        {
            var r = new float[size];
            for (int i = 0; i < size; i++) r[i] = (float)(g.NextNormal() * Math.Exp(g.NextDouble() * 6 - 3));
            return r;
        }
        var x = Spread();
        return new(x, Spread());
    }

    static readonly float[] Specials = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f, 88.72283935546875f,
        -103.972076416015625f, float.Epsilon, 1e-30f, -1e-30f, 0.55f, -0.55f, 0.5499999f];

    /// <summary>Uniform in ±bound, or ±bound/20 for one argument in two; one in sixteen a special value.</summary>
    static float[] Arguments(int size, Generator g, double bound)
    {
        var x = new float[size];
        for (int i = 0; i < size; i++)
            x[i] = g.NextInt(16) == 0 ? Specials[g.NextInt(Specials.Length)]
                : (float)((2 * g.NextDouble() - 1) * bound * (g.NextInt(2) == 0 ? 1 : 0.05));
        return x;
    }

    delegate void SpanMap(ReadOnlySpan<float> x, Span<float> y);

    static double[][] Map(float[] x, SpanMap f)
    {
        var y = new float[x.Length];
        f(x, y);
        return [Doubles<float>(y)];
    }

    // ------------------------------------------------------------------ Adam / AdamW

    sealed record AdamProblem(float[] P, float[] G, float[] M, float[] V, bool Decoupled)
    {
        public static AdamProblem Draw(int size, Generator g)
        {
            var p = Normals<float>(size, g); var grad = Normals<float>(size, g); var m = Normals<float>(size, g);
            var v = Normals<float>(size, g);
            for (int i = 0; i < size; i++) v[i] = MathF.Abs(v[i]);
            return new(p, grad, m, v, g.NextInt(2) == 1);
        }

        /// <summary>One update (1 − β₁ = 0.1, β₂ = 0.999, weight decay 0.1, step size 0.01, √bc₂ = 0.3, ε = 1e-8, decay
        /// 0.999); returns the parameters and both moments.</summary>
        public double[][] Step(bool vector)
        {
            if (vector) AdamKernel.Update(P, G, M, V, 0.1f, 0.999f, 0.001f, 0.1f, 0.01f, 0.3f, 1e-8f, 0.999f, Decoupled);
            else AdamKernel.UpdateReference<float>(P, G, M, V, 0.1f, 0.999f, 0.001f, 0.1f, 0.01f, 0.3f, 1e-8f, 0.999f, Decoupled);
            return [Doubles<float>(P), Doubles<float>(M), Doubles<float>(V)];
        }
    }

    // ------------------------------------------------------------------ CRC-32C

    sealed record CrcProblem(byte[] Data, uint Seed)
    {
        public static CrcProblem Draw(int size, Generator g)
        {
            var data = new byte[size];
            for (int i = 0; i < size; i++) data[i] = (byte)g.NextUInt64();
            return new(data, (uint)g.NextUInt64());
        }
    }

    // ------------------------------------------------------------------ fused ops (float32), output and gradients

    /// <summary>Inputs, the upstream gradient, and the op as kernel and as reference (constants such as targets and
    /// tables captured).</summary>
    sealed record Graph(Tensor[] Inputs, Tensor Upstream, Func<Tensor[], Tensor> Kernel, Func<Tensor[], Tensor> Reference)
    {
        /// <summary>y = f(inputs), then the first-order backward of Σ y ⊙ upstream: [y, d input 0, d input 1, ...].</summary>
        public double[][] Differentiate(Func<Tensor[], Tensor> f)
        {
            var xs = Inputs.Select(t => t.CloneDetached().RequireGrad()).ToArray();
            var y = f(xs);
            (y * Upstream).Sum().Backward();
            return [y.ToDoubleArray(), .. xs.Select(x => x.Grad?.ToDoubleArray() ?? new double[x.Numel])];
        }

        /// <summary>x [3, size], with a gain [size] for one problem in two.</summary>
        public static Graph RmsNorm(int size, Generator g)
        {
            const double eps = 1e-5;
            var x = Tensor.Randn(g, [3, size]);
            Tensor[] inputs = g.NextInt(2) == 1 ? [x, Tensor.Randn(g, [size])] : [x];
            static Tensor? Gain(Tensor[] t) => t.Length > 1 ? t[1] : null;
            return new(inputs, Tensor.Randn(g, [3, size]), t => Fused.RmsNorm(t[0], Gain(t), eps),
                t => Functional.RmsNormReference(t[0], Gain(t), eps));
        }

        /// <summary>Logits [4, size] (std 3), one target in four ignored.</summary>
        public static Graph CrossEntropy(int size, Generator g)
        {
            int rows = size == 0 ? 0 : 4;
            var logits = Tensor.Randn(g, [rows, size], std: 3);
            var targets = new int[rows];
            for (int i = 0; i < rows; i++) targets[i] = g.NextInt(4) == 0 ? -100 : g.NextInt(size);
            return new([logits], Tensor.Randn(g, []), t => Fused.CrossEntropy(t[0], targets, -100),
                t => Functional.CrossEntropyReference(t[0], targets, -100));
        }

        /// <summary>x [2, 3, D] with D the even number above size (so 2 at size 0).</summary>
        public static Graph Rotary(int size, Generator g)
        {
            int d = 2 * (size / 2 + 1);
            var (cos, sin) = Functional.RotaryTables(3, d, theta: 100);
            return new([Tensor.Randn(g, [2, 3, d])], Tensor.Randn(g, [2, 3, d]), t => Fused.Rotary(t[0], cos, sin),
                t => Functional.ApplyRotaryReference(t[0], cos, sin));
        }

        /// <summary>gate and up [3, size].</summary>
        public static Graph SwiGlu(int size, Generator g)
            => new([Tensor.Randn(g, [3, size]), Tensor.Randn(g, [3, size])], Tensor.Randn(g, [3, size]),
                t => Fused.SwiGlu(t[0], t[1]), t => Functional.SwiGluReference(t[0], t[1]));

        /// <summary>Two heads of size keys and up to half as many fewer queries; head dimension 1..16 (values one wider); no
        /// mask, causal, or a sliding window of 1..size + 1.</summary>
        public static Graph Attention(int size, Generator g)
        {
            int tk = size, tq = size - g.NextInt(size / 2 + 1), d = 1 + g.NextInt(16);
            var mask = (AttentionMask)g.NextInt(3);
            int window = mask == AttentionMask.SlidingWindow ? 1 + g.NextInt(size + 1) : 0;
            double scale = 1 / Math.Sqrt(d);
            Tensor[] inputs = [Tensor.Randn(g, [1, 2, tq, d]), Tensor.Randn(g, [1, 2, tk, d]), Tensor.Randn(g, [1, 2, tk, d + 1])];
            return new(inputs, Tensor.Randn(g, [1, 2, tq, d + 1]), t => Tensor.FusedAttention(t[0], t[1], t[2], mask, window, scale),
                t => Functional.AttentionReference(t[0], t[1], t[2], mask, window, scale));
        }
    }
}
