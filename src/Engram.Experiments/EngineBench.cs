// `engram bench engine`: GEMM throughput at square sizes and the latency of a tiny step
// (x[1,64] · W[64,64] then tanh), forward and forward+backward. Table or JSON lines.
using System.Diagnostics;
using System.Globalization;
using Engram.Tensors;
using System.Runtime.Intrinsics;
using Engram.Tensors.Kernels;

namespace Engram.Experiments;

/// <summary>One measured figure; Labels are extra JSON fields (shape, implementation) printed before "value".</summary>
public sealed record BenchFigure(string Metric, int? N, double Value, string Unit, (string Key, object Value)[]? Labels = null);

public static class EngineBench
{
    public static readonly int[] GemmSizes = [64, 256, 512, 1024];

    /// <summary>Runs every measurement; quick shortens each timing window (for tests); full adds the tall-skinny GEMMs,
    /// attention at T = 81, 900, 4096 and a 2-block Transformer training step.</summary>
    public static List<BenchFigure> Measure(bool quick, Action<string>? progress = null, bool full = false)
    {
        double window = quick ? 0.02 : 0.5;
        var figures = new List<BenchFigure>();
        foreach (int n in GemmSizes)
        {
            progress?.Invoke($"gemm n={n}");
            figures.Add(new("gemm_gflops", n, Timing.GemmGflops(n, n, n, window, 5), "GFLOP/s"));
        }
        progress?.Invoke("FMA peak");
        figures.Add(new("fma_peak_gflops", null, FmaPeakGflops(window), "GFLOP/s"));
        progress?.Invoke("tiny step");
        var (fwd, fwdBwd, fwdBwdScoped) = TinyStep(window);
        figures.Add(new("tiny_fwd_us", null, fwd, "µs"));
        figures.Add(new("tiny_fwd_bwd_us", null, fwdBwd, "µs"));
        figures.Add(new("tiny_fwd_bwd_scoped_us", null, fwdBwdScoped, "µs"));
        progress?.Invoke("allocation per step");
        figures.Add(new("tiny_fwd_bwd_scoped_alloc_bytes", null, TinyStepAllocatedBytes(), "B/step"));
        figures.Add(new("block_step_alloc_bytes", null, ModelBench.BlockStepAllocatedBytes(hidden: 128, batch: 4, tokens: 64, blocks: 1),
            "B/step", [("blocks", 1), ("hidden", 128), ("tokens", "4x64")]));
        if (full) figures.AddRange(ModelBench.Measure(quick, progress));
        return figures;
    }

    /// <summary>The machine's float32 FMA throughput: 12 independent vector FMA chains per thread on every thread.</summary>
    static double FmaPeakGflops(double window)
    {
        int threads = Engine.MaxThreads, lanes = Vector512.IsHardwareAccelerated ? 16 : Vector256.IsHardwareAccelerated ? 8 : 4;
        const long iterations = 2_000_000;
        FmaChains(1000); // JIT
        double best = double.MaxValue;
        for (int round = 0; round < Math.Max(2, (int)(window * 20)); round++)
        {
            var sw = Stopwatch.StartNew();
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, _ => FmaChains(iterations));
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }
        return threads * iterations * 12.0 * lanes * 2 / best / 1e9;
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining
        | System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    static float FmaChains(long iterations)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            var m = Vector512.Create(0.999999f); var a = Vector512.Create(1e-7f);
            Vector512<float> c0 = m, c1 = m, c2 = m, c3 = m, c4 = m, c5 = m, c6 = m, c7 = m, c8 = m, c9 = m, c10 = m, c11 = m;
            for (long i = 0; i < iterations; i++)
            {
                c0 = Vector512.FusedMultiplyAdd(c0, m, a); c1 = Vector512.FusedMultiplyAdd(c1, m, a);
                c2 = Vector512.FusedMultiplyAdd(c2, m, a); c3 = Vector512.FusedMultiplyAdd(c3, m, a);
                c4 = Vector512.FusedMultiplyAdd(c4, m, a); c5 = Vector512.FusedMultiplyAdd(c5, m, a);
                c6 = Vector512.FusedMultiplyAdd(c6, m, a); c7 = Vector512.FusedMultiplyAdd(c7, m, a);
                c8 = Vector512.FusedMultiplyAdd(c8, m, a); c9 = Vector512.FusedMultiplyAdd(c9, m, a);
                c10 = Vector512.FusedMultiplyAdd(c10, m, a); c11 = Vector512.FusedMultiplyAdd(c11, m, a);
            }
            return Vector512.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
        }
        if (Vector256.IsHardwareAccelerated)
        {
            var m = Vector256.Create(0.999999f); var a = Vector256.Create(1e-7f);
            Vector256<float> c0 = m, c1 = m, c2 = m, c3 = m, c4 = m, c5 = m, c6 = m, c7 = m, c8 = m, c9 = m, c10 = m, c11 = m;
            for (long i = 0; i < iterations; i++)
            {
                c0 = Vector256.FusedMultiplyAdd(c0, m, a); c1 = Vector256.FusedMultiplyAdd(c1, m, a);
                c2 = Vector256.FusedMultiplyAdd(c2, m, a); c3 = Vector256.FusedMultiplyAdd(c3, m, a);
                c4 = Vector256.FusedMultiplyAdd(c4, m, a); c5 = Vector256.FusedMultiplyAdd(c5, m, a);
                c6 = Vector256.FusedMultiplyAdd(c6, m, a); c7 = Vector256.FusedMultiplyAdd(c7, m, a);
                c8 = Vector256.FusedMultiplyAdd(c8, m, a); c9 = Vector256.FusedMultiplyAdd(c9, m, a);
                c10 = Vector256.FusedMultiplyAdd(c10, m, a); c11 = Vector256.FusedMultiplyAdd(c11, m, a);
            }
            return Vector256.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
        }
        {
            var m = Vector128.Create(0.999999f); var a = Vector128.Create(1e-7f);
            Vector128<float> c0 = m, c1 = m, c2 = m, c3 = m, c4 = m, c5 = m, c6 = m, c7 = m, c8 = m, c9 = m, c10 = m, c11 = m;
            for (long i = 0; i < iterations; i++)
            {
                c0 = Vector128.FusedMultiplyAdd(c0, m, a); c1 = Vector128.FusedMultiplyAdd(c1, m, a);
                c2 = Vector128.FusedMultiplyAdd(c2, m, a); c3 = Vector128.FusedMultiplyAdd(c3, m, a);
                c4 = Vector128.FusedMultiplyAdd(c4, m, a); c5 = Vector128.FusedMultiplyAdd(c5, m, a);
                c6 = Vector128.FusedMultiplyAdd(c6, m, a); c7 = Vector128.FusedMultiplyAdd(c7, m, a);
                c8 = Vector128.FusedMultiplyAdd(c8, m, a); c9 = Vector128.FusedMultiplyAdd(c9, m, a);
                c10 = Vector128.FusedMultiplyAdd(c10, m, a); c11 = Vector128.FusedMultiplyAdd(c11, m, a);
            }
            return Vector128.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
        }
    }

    static (double fwdUs, double fwdBwdUs, double scopedUs) TinyStep(double window)
    {
        var g = new Generator(2);
        var x = Tensor.Randn(g, [1, 64]);
        var w = Tensor.Randn(g, [64, 64], 0, 0.125);
        double fwd = TimePerCall(() => { using (Autograd.NoGrad()) Tensor.Matmul(x, w).Tanh(); }, window);
        w.RequiresGrad = true;
        void FwdBwd()
        {
            var loss = Tensor.Matmul(x, w).Tanh().Sum();
            loss.Backward();
            Tensor.ZeroGradients([w], setToNone: false); // as a training loop's ZeroGrad(): the buffer is kept
        }
        double fb = TimePerCall(FwdBwd, window);
        double scoped = TimePerCall(() => { using var scope = TensorScope.Begin(); FwdBwd(); }, window);
        return (fwd * 1e6, fb * 1e6, scoped * 1e6);
    }

    /// <summary>Managed bytes the calling thread allocates in one tiny forward+backward inside a TensorScope, once warm.</summary>
    static double TinyStepAllocatedBytes()
    {
        var g = new Generator(2);
        var x = Tensor.Randn(g, [1, 64]);
        var w = Tensor.Randn(g, [64, 64], 0, 0.125).RequireGrad();
        var ws = new[] { w };
        void Step()
        {
            using var scope = TensorScope.Begin();
            Tensor.Matmul(x, w).Tanh().Sum().Backward();
            Tensor.ZeroGradients(ws, setToNone: false);
        }
        for (int i = 0; i < 50; i++) Step();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++) Step();
        return (GC.GetAllocatedBytesForCurrentThread() - before) / 100.0;
    }

    static double TimePerCall(Action step, double window)
    {
        // Warm up for a while, not a count: the JIT promotes hot methods to optimised code in the background,
        // and timing before that finishes measures unoptimised generic code.
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed.TotalSeconds < Math.Max(0.05, window)) step();
        return Timing.Best(step, window, rounds: 5, batch: 100);
    }

    public static string ToJson(BenchFigure f)
    {
        var o = new System.Text.Json.Nodes.JsonObject { ["metric"] = f.Metric };
        if (f.N is int n) o["n"] = n;
        foreach (var (k, v) in f.Labels ?? [])
            o[k] = v switch
            {
                string str => str,
                int i => i,
                long l => l,
                double d => d,
                _ => Convert.ToString(v, CultureInfo.InvariantCulture),
            };
        o["value"] = JsonLines.Round(f.Value, 3);
        return JsonLines.Serialize(o);
    }

    static string LabelText(BenchFigure f) => string.Join(" ", (f.Labels ?? []).Select(l => $"{l.Key}={l.Value}"));

    public static string Table(IEnumerable<BenchFigure> figures)
    {
        var (mr, nr, path) = Gemm.MicroKernel;
        var sb = new System.Text.StringBuilder();
        sb.AppendLine($"Engram engine benchmark — {Environment.ProcessorCount} cores, {Engine.MaxThreads} threads, GEMM micro-kernel " +
            $"{mr}×{nr} ({path})");
        sb.AppendLine($"{"metric",-22} {"n / shape",-26} {"value",12}  unit");
        double peak = figures.FirstOrDefault(f => f.Metric == "fma_peak_gflops")?.Value ?? 0;
        foreach (var f in figures)
            sb.AppendLine($"{f.Metric,-22} {(f.N?.ToString(CultureInfo.InvariantCulture) ?? LabelText(f)),-26} " +
                $"{f.Value.ToString("0.00", CultureInfo.InvariantCulture),12}  " +
                $"{f.Unit}{(f.Metric.StartsWith("gemm_gflops") && peak > 0 ? $"  ({f.Value / peak:P0} of FMA peak)" : "")}");
        sb.Append("For scale (same 2-core machine, per the issue): libtorch 2.10 ≈ 170 GFLOP/s at n = 512, 4 µs tiny forward, " +
            "24 µs tiny forward+backward.");
        return sb.ToString();
    }
}
