// Fused scaled dot-product attention, float32, computed tile by tile with an online softmax so the Tq×Tk
// score matrix is never materialised (memory O(T·d) instead of O(T²)). Layout: q [BH, Tq, d], k [BH, Tk, d],
// v [BH, Tk, dv], out [BH, Tq, dv] contiguous; lse [BH, Tq] (log-sum-exp of each query's scaled scores) is
// saved for the backward pass, which recomputes the probabilities tile by tile (FlashAttention-2 scheme,
// Dao 2023). Masks: queries align to the end of the keys (query i sits at key position i + Tk − Tq);
// causal hides later keys; a sliding window W also hides keys W or more positions back.
// Work is split over (head, query tile) in the forward and dQ passes and over (head, key tile) in the dK/dV
// pass; each output element is written by one task in a fixed order, so results do not depend on threads.
using System.Numerics.Tensors;

namespace Engram.Tensors.Kernels;

public static class FlashAttention
{
    public const int Br = 64, Bc = 64;

    /// <summary>Visible key range [lo, hi] of query row i (hi &lt; lo: none).</summary>
    public static (int Lo, int Hi) VisibleKeys(int i, int tq, int tk, AttentionMask mask, int window)
    {
        int pos = i + tk - tq;
        return mask switch
        {
            AttentionMask.None => (0, tk - 1),
            AttentionMask.Causal => (0, Math.Min(pos, tk - 1)),
            _ => (Math.Max(0, pos - window + 1), Math.Min(pos, tk - 1)),
        };
    }

    sealed class Scratch
    {
        public float[] S = new float[Br * Bc], P = new float[Br * Bc], DP = new float[Br * Bc];
        public float[] M = new float[Br], L = new float[Br], D = new float[Br];
    }
    [ThreadStatic] static Scratch? _scratch;

    enum Pass { Forward, DQ, DKV }

    /// <summary>Everything one pass needs; tasks index (head, tile).</summary>
    struct Job
    {
        public Pass Pass;
        public float[] Q, K, V, O, Lse, DO, DQ, DK, DV;
        public int Bh, Tq, Tk, D, Dv;
        public float Scale;
        public AttentionMask Mask;
        public int Window;
    }

    static void Run(in Job job, int count)
    {
        long work = (long)job.Bh * job.Tq * job.Tk * (job.D + job.Dv);
        WorkerTeam.Prepare(ref _work);
        if (Engine.MaxThreads > 1 && count > 1 && work > 1 << 18) RunParallel(in job, count);
        else for (int i = 0; i < count; i++) Task(in job, i);
    }

    /// <summary>The threaded path, on the worker team.</summary>
    static void RunParallel(in Job job, int count)
    {
        var work = _work!;
        work.Job = job;
        try { WorkerTeam.For(count, Engine.MaxThreads, work); }
        finally { work.Job = default; }
    }

    [ThreadStatic] static JobWork? _work;

    sealed class JobWork : ParallelWork
    {
        public Job Job;
        public override void Run(int index) => Task(in Job, index);
    }

    static void Task(in Job j, int task)
    {
        switch (j.Pass)
        {
            case Pass.Forward: ForwardTask(j.Q, j.K, j.V, j.O, j.Lse, j.Tq, j.Tk, j.D, j.Dv, j.Scale, j.Mask, j.Window, task); break;
            case Pass.DQ: DqTask(j.Q, j.K, j.V, j.O, j.Lse, j.DO, j.DQ, j.Tq, j.Tk, j.D, j.Dv, j.Scale, j.Mask, j.Window, task); break;
            default: DkvTask(j.Q, j.K, j.V, j.O, j.Lse, j.DO, j.DK, j.DV, j.Tq, j.Tk, j.D, j.Dv, j.Scale, j.Mask, j.Window, task); break;
        }
    }

    public static void Forward(float[] q, float[] k, float[] v, float[] o, float[] lse, int bh, int tq, int tk, int d, int dv, float scale,
        AttentionMask mask, int window)
    {
        var job = new Job
        {
            Pass = Pass.Forward, Q = q, K = k, V = v, O = o, Lse = lse, Bh = bh, Tq = tq, Tk = tk, D = d, Dv = dv,
            Scale = scale, Mask = mask, Window = window, DO = null!, DQ = null!, DK = null!, DV = null!
        };
        Run(in job, bh * ((tq + Br - 1) / Br));
    }

    static void ForwardTask(float[] q, float[] k, float[] v, float[] o, float[] lse, int tq, int tk, int d, int dv, float scale,
        AttentionMask mask, int window, int task)
    {
        int qTiles = (tq + Br - 1) / Br;
        {
            int h = task / qTiles, i0 = task % qTiles * Br, rows = Math.Min(Br, tq - i0);
            var s = _scratch ??= new Scratch();
            int qo = (h * tq + i0) * d, oo = (h * tq + i0) * dv, ko = h * tk * d, vo = h * tk * dv;
            Array.Fill(s.M, float.NegativeInfinity, 0, rows);
            Array.Clear(s.L, 0, rows);
            Array.Clear(o, oo, rows * dv);
            var (lo, _) = VisibleKeys(i0, tq, tk, mask, window);
            var (_, hi) = VisibleKeys(i0 + rows - 1, tq, tk, mask, window);
            for (int j0 = lo / Bc * Bc; j0 <= hi; j0 += Bc)
            {
                int cols = Math.Min(Bc, tk - j0);
                // S = Q_tile · K_tileᵀ
                Gemm.Run(rows, cols, d, new MatrixView<float>(q, qo, d, 1), new MatrixView<float>(k, ko + j0 * d, 1, d), s.S, Bc, false, 1);
                for (int r = 0; r < rows; r++)
                {
                    var row = s.S.AsSpan(r * Bc, cols);
                    var (rl, rh) = VisibleKeys(i0 + r, tq, tk, mask, window);
                    int a = Math.Clamp(rl - j0, 0, cols), b = Math.Clamp(rh - j0 + 1, 0, cols);
                    if (a >= b) { row.Clear(); continue; }
                    TensorPrimitives.Multiply(row, scale, row);
                    float mNew = Math.Max(s.M[r], TensorPrimitives.Max(row[a..b]));
                    float corr = PortableExp.Exp(s.M[r] - mNew);
                    row[..a].Clear();
                    TensorPrimitives.Subtract(row[a..b], mNew, row[a..b]);
                    PortableExp.Exp(row[a..b], row[a..b]);
                    row[b..].Clear();
                    s.L[r] = s.L[r] * corr + PortableReduce.Sum(row[a..b]);
                    s.M[r] = mNew;
                    if (corr != 1) TensorPrimitives.Multiply(o.AsSpan(oo + r * dv, dv), corr, o.AsSpan(oo + r * dv, dv));
                }
                // O_tile += P · V_tile
                Gemm.Run(rows, dv, cols, new MatrixView<float>(s.S, 0, Bc, 1), new MatrixView<float>(v, vo + j0 * dv, dv, 1), o.AsSpan(oo),
                    dv, true, 1);
            }
            for (int r = 0; r < rows; r++)
            {
                var orow = o.AsSpan(oo + r * dv, dv);
                TensorPrimitives.Multiply(orow, 1 / s.L[r], orow);
                lse[h * tq + i0 + r] = s.M[r] + (float)PortableMath.Log(s.L[r]);
            }
        }
    }

    /// <summary>P = exp(scale·Q Kᵀ − lse) for one tile, zero outside the mask; returns false if no entry is visible.</summary>
    static bool Probabilities(Scratch s, float[] q, float[] k, float[] lse, int h, int i0, int rows, int j0, int cols, int tq, int tk,
        int d, float scale, AttentionMask mask, int window)
    {
        Gemm.Run(rows, cols, d, new MatrixView<float>(q, (h * tq + i0) * d, d, 1), new MatrixView<float>(k, (h * tk + j0) * d, 1, d), s.P,
            Bc, false, 1);
        bool any = false;
        for (int r = 0; r < rows; r++)
        {
            var row = s.P.AsSpan(r * Bc, cols);
            var (rl, rh) = VisibleKeys(i0 + r, tq, tk, mask, window);
            int a = Math.Clamp(rl - j0, 0, cols), b = Math.Clamp(rh - j0 + 1, 0, cols);
            if (a >= b) { row.Clear(); continue; }
            any = true;
            row[..a].Clear(); row[b..].Clear();
            var vis = row[a..b];
            TensorPrimitives.Multiply(vis, scale, vis);
            TensorPrimitives.Subtract(vis, lse[h * tq + i0 + r], vis);
            PortableExp.Exp(vis, vis);
        }
        return any;
    }

    /// <summary>dS = P ⊙ (dO·Vᵀ − D)·scale for one tile (into s.DP).</summary>
    static void ScoreGradient(Scratch s, float[] v, float[] dO, int h, int i0, int rows, int j0, int cols, int tq, int tk, int dv,
        float scale)
    {
        Gemm.Run(rows, cols, dv, new MatrixView<float>(dO, (h * tq + i0) * dv, dv, 1), new MatrixView<float>(v, (h * tk + j0) * dv, 1, dv),
            s.DP, Bc, false, 1);
        for (int r = 0; r < rows; r++)
        {
            var dp = s.DP.AsSpan(r * Bc, cols);
            TensorPrimitives.Subtract(dp, s.D[r], dp);
            TensorPrimitives.Multiply(dp, s.P.AsSpan(r * Bc, cols), dp);
            TensorPrimitives.Multiply(dp, scale, dp);
        }
    }

    static void RowDots(Scratch s, float[] o, float[] dO, int h, int i0, int rows, int tq, int dv)
    {
        for (int r = 0; r < rows; r++)
            s.D[r] = PortableReduce.Dot(o.AsSpan((h * tq + i0 + r) * dv, dv), dO.AsSpan((h * tq + i0 + r) * dv, dv));
    }

    public static void Backward(float[] q, float[] k, float[] v, float[] o, float[] lse, float[] dO, float[] dQ, float[] dK, float[] dV,
        int bh, int tq, int tk, int d, int dv, float scale, AttentionMask mask, int window)
    {
        var job = new Job
        {
            Pass = Pass.DQ, Q = q, K = k, V = v, O = o, Lse = lse, DO = dO, DQ = dQ, DK = dK, DV = dV, Bh = bh, Tq = tq,
            Tk = tk, D = d, Dv = dv, Scale = scale, Mask = mask, Window = window
        };
        Run(in job, bh * ((tq + Br - 1) / Br));   // dQ: one task per (head, query tile), key tiles in order
        job.Pass = Pass.DKV;
        Run(in job, bh * ((tk + Bc - 1) / Bc));   // dK, dV: one task per (head, key tile), query tiles in order
    }

    static void DqTask(float[] q, float[] k, float[] v, float[] o, float[] lse, float[] dO, float[] dQ, int tq, int tk, int d, int dv,
        float scale, AttentionMask mask, int window, int task)
    {
        int qTiles = (tq + Br - 1) / Br;
        {
            int h = task / qTiles, i0 = task % qTiles * Br, rows = Math.Min(Br, tq - i0);
            var s = _scratch ??= new Scratch();
            Array.Clear(dQ, (h * tq + i0) * d, rows * d);
            RowDots(s, o, dO, h, i0, rows, tq, dv);
            var (lo, _) = VisibleKeys(i0, tq, tk, mask, window);
            var (_, hi) = VisibleKeys(i0 + rows - 1, tq, tk, mask, window);
            for (int j0 = Math.Max(0, lo) / Bc * Bc; j0 <= hi; j0 += Bc)
            {
                int cols = Math.Min(Bc, tk - j0);
                if (!Probabilities(s, q, k, lse, h, i0, rows, j0, cols, tq, tk, d, scale, mask, window)) continue;
                ScoreGradient(s, v, dO, h, i0, rows, j0, cols, tq, tk, dv, scale);
                Gemm.Run(rows, d, cols, new MatrixView<float>(s.DP, 0, Bc, 1), new MatrixView<float>(k, (h * tk + j0) * d, d, 1),
                    dQ.AsSpan((h * tq + i0) * d), d, true, 1);
            }
        }
    }

    static void DkvTask(float[] q, float[] k, float[] v, float[] o, float[] lse, float[] dO, float[] dK, float[] dV, int tq, int tk, int d,
        int dv, float scale, AttentionMask mask, int window, int task)
    {
        int kTiles = (tk + Bc - 1) / Bc;
        {
            int h = task / kTiles, j0 = task % kTiles * Bc, cols = Math.Min(Bc, tk - j0);
            var s = _scratch ??= new Scratch();
            Array.Clear(dK, (h * tk + j0) * d, cols * d);
            Array.Clear(dV, (h * tk + j0) * dv, cols * dv);
            for (int i0 = 0; i0 < tq; i0 += Br)
            {
                int rows = Math.Min(Br, tq - i0);
                var (lo, _) = VisibleKeys(i0, tq, tk, mask, window);
                var (_, hi) = VisibleKeys(i0 + rows - 1, tq, tk, mask, window);
                if (hi < j0 || lo > j0 + cols - 1) continue;
                if (!Probabilities(s, q, k, lse, h, i0, rows, j0, cols, tq, tk, d, scale, mask, window)) continue;
                // dV_tile += Pᵀ · dO_tile
                Gemm.Run(cols, dv, rows, new MatrixView<float>(s.P, 0, 1, Bc), new MatrixView<float>(dO, (h * tq + i0) * dv, dv, 1),
                    dV.AsSpan((h * tk + j0) * dv), dv, true, 1);
                RowDots(s, o, dO, h, i0, rows, tq, dv);
                ScoreGradient(s, v, dO, h, i0, rows, j0, cols, tq, tk, dv, scale);
                // dK_tile += dSᵀ · Q_tile
                Gemm.Run(cols, d, rows, new MatrixView<float>(s.DP, 0, 1, Bc), new MatrixView<float>(q, (h * tq + i0) * d, d, 1),
                    dK.AsSpan((h * tk + j0) * d), d, true, 1);
            }
        }
    }
}
