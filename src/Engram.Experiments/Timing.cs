// Timing helpers shared by the benchmarks: best time per call over several rounds, GEMM throughput, and
// running a step with the fused kernels switched on or off.
using System.Diagnostics;
using Engram.Tensors;
using Engram.Tensors.Kernels;

namespace Engram.Experiments;

internal static class Timing
{
    /// <summary>Best seconds per call over `rounds` rounds, each at least window/rounds long (and at least one batch);
    /// the clock is read once per batch of calls, so microsecond steps are not dominated by it.</summary>
    public static double Best(Action step, double window, int rounds = 5, int batch = 1)
    {
        double best = double.MaxValue;
        for (int r = 0; r < rounds; r++)
        {
            int reps = 0; var sw = Stopwatch.StartNew();
            do { for (int i = 0; i < batch; i++) step(); reps += batch; } while (sw.Elapsed.TotalSeconds < window / rounds);
            best = Math.Min(best, sw.Elapsed.TotalSeconds / reps);
        }
        return best;
    }

    /// <summary>GFLOP/s of a float32 m×k · k×n product (row-major operands), best of `rounds`.</summary>
    public static double GemmGflops(int m, int k, int n, double window, int rounds)
    {
        var g = new Generator(1);
        var a = Tensor.Randn(g, [m, k]).AsSpanF32().ToArray(); var b = Tensor.Randn(g, [k, n]).AsSpanF32().ToArray();
        var c = new float[m * n];
        var av = new MatrixView<float>(a, 0, k, 1); var bv = new MatrixView<float>(b, 0, n, 1);
        Gemm.Run(m, n, k, av, bv, c, n, false);
        double best = Best(() => Gemm.Run(m, n, k, av, bv, c, n, false), window, rounds);
        return 2.0 * m * n * k / best / 1e9;
    }

    /// <summary>Runs step with Functional.UseFused set as given on this thread, restoring the setting afterwards.</summary>
    public static void WithFused(bool fused, Action step)
    {
        bool saved = Functional.UseFused;
        Functional.UseFused = fused;
        try { step(); }
        finally { Functional.UseFused = saved; }
    }
}
