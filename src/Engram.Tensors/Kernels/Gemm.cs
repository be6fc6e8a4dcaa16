// GEMM: C[M,N] = (accumulate ? C : 0) + A[M,K]·B[K,N], float32, row-major C with leading dimension ldc;
// A and B are strided views (row stride, column stride), so transposed operands need no copy.
//
// Every element of C is one fused-multiply-add chain over k = 0..K−1 in ascending order, starting from
// C (or 0). The blocked kernel preserves that chain across K blocks (it reloads C into the accumulators),
// so its result is bit-identical to the naive reference below, on every SIMD path and any thread count.
//
// Blocked path (BLIS-style): for each NC×KC panel of B (packed into NR-wide slivers) and each MC×KC block
// of A (packed into MR-tall slivers), an MR×NR register-blocked micro-kernel runs the k loop with FMA.
// Work is split over (row block, column group) tiles of C only.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engram.Tensors.Kernels;

public readonly record struct MatrixView<T>(T[] Data, int Offset, int RowStride, int ColStride);

public static unsafe class Gemm
{
    public static readonly int KC = EnvInt("ENGRAM_GEMM_KC", 256), MC = EnvInt("ENGRAM_GEMM_MC", 96);
    static readonly int NCMax = EnvInt("ENGRAM_GEMM_NC", 3072);
    static int EnvInt(string name, int fallback)
        => int.TryParse(Environment.GetEnvironmentVariable(name), out var v) && v > 0 ? v : fallback;
    /// <summary>Products with fewer multiply-adds than this run on one thread.</summary>
    public const long ParallelThreshold = 96L * 96 * 96;

    /// <summary>The micro-kernel shape chosen for this machine: (MR, NR, name of the SIMD path).</summary>
    public static (int MR, int NR, string Path) MicroKernel =>
        Vector512.IsHardwareAccelerated ? (8, 32, "Vector512") :
        Vector256.IsHardwareAccelerated ? (6, 16, "Vector256") :
        Vector128.IsHardwareAccelerated ? (4, 8, "Vector128") : (4, 4, "scalar");

    /// <summary>Naive reference: one FMA chain per element, k ascending.</summary>
    public static void Reference<T>(int M, int N, int K, MatrixView<T> a, MatrixView<T> b, Span<T> c, int ldc, bool accumulate)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
            {
                T acc = accumulate ? c[i * ldc + j] : T.Zero;
                for (int k = 0; k < K; k++)
                    acc = T.FusedMultiplyAdd(a.Data[a.Offset + i * a.RowStride + k * a.ColStride],
                        b.Data[b.Offset + k * b.RowStride + j * b.ColStride], acc);
                c[i * ldc + j] = acc;
            }
    }

    /// <summary>Row-by-row kernel (any dtype, any strides): C row i += A[i,k]·B row k, k ascending. Same chain as the reference.</summary>
    public static void RowKernel<T>(int M, int N, int K, MatrixView<T> a, MatrixView<T> b, Span<T> c, int ldc, bool accumulate)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        for (int i = 0; i < M; i++)
        {
            var row = c.Slice(i * ldc, N);
            if (!accumulate) row.Clear();
            for (int k = 0; k < K; k++)
            {
                T av = a.Data[a.Offset + i * a.RowStride + k * a.ColStride];
                int bo = b.Offset + k * b.RowStride;
                for (int j = 0; j < N; j++) row[j] = T.FusedMultiplyAdd(av, b.Data[bo + j * b.ColStride], row[j]);
            }
        }
    }

    /// <summary>Float32 GEMM on the fastest path for the shape. maxThreads ≤ 0 means Engine.MaxThreads.</summary>
    public static void Run(int M, int N, int K, MatrixView<float> a, MatrixView<float> b, Span<float> c, int ldc, bool accumulate,
        int maxThreads = 0)
    {
        if (M == 0 || N == 0) return;
        if (K == 0) { if (!accumulate) for (int i = 0; i < M; i++) c.Slice(i * ldc, N).Clear(); return; }
        if (b.ColStride == 1 && (M <= 4 || (long)M * N * K <= 32 * 32 * 32)) { SmallRows(M, N, K, a, b, c, ldc, accumulate); return; }
        if (b.RowStride == 1 && M <= 4) { SmallRowsTransposedB(M, N, K, a, b, c, ldc, accumulate); return; }
        int threads = maxThreads <= 0 ? Engine.MaxThreads : maxThreads;
        if ((long)M * N * K < ParallelThreshold) threads = 1; // thread start-up would cost more than it saves
        fixed (float* pc = c) Blocked(M, N, K, a, b, pc, ldc, accumulate, threads);
    }

    /// <summary>Small products with contiguous B rows. Each C row is cut into strips of up to four vectors held in
    /// registers for the whole k loop (one store per strip), so the FMA chains never wait on memory.</summary>
    static void SmallRows(int M, int N, int K, MatrixView<float> a, MatrixView<float> b, Span<float> c, int ldc, bool accumulate)
    {
        fixed (float* pa0 = a.Data, pb0 = b.Data, pc0 = c)
        {
            float* bBase = pb0 + b.Offset;
            for (int i = 0; i < M; i++)
            {
                float* crow = pc0 + i * ldc;
                float* arow = pa0 + a.Offset + i * a.RowStride;
                int j = 0;
                if (Vector512.IsHardwareAccelerated) j = Strips512(arow, a.ColStride, bBase, b.RowStride, crow, N, K, accumulate);
                else if (Vector256.IsHardwareAccelerated) j = Strips256(arow, a.ColStride, bBase, b.RowStride, crow, N, K, accumulate);
                else if (Vector128.IsHardwareAccelerated) j = Strips128(arow, a.ColStride, bBase, b.RowStride, crow, N, K, accumulate);
                for (; j < N; j++)
                {
                    float acc = accumulate ? crow[j] : 0;
                    for (int k = 0; k < K; k++) acc = MathF.FusedMultiplyAdd(arow[k * a.ColStride], bBase[k * b.RowStride + j], acc);
                    crow[j] = acc;
                }
            }
        }
    }

    /// <summary>A few rows times a transposed B (B[k, j] = W[j, k] with W rows contiguous, as x·Wᵀ in a Linear layer
    /// when decoding one token): each C element is a dot product of two contiguous rows, computed as one FMA chain in
    /// ascending k like the reference; eight chains run interleaved to hide the FMA latency. Packing B would copy all of W
    /// for a single row.</summary>
    static void SmallRowsTransposedB(int M, int N, int K, MatrixView<float> a, MatrixView<float> b, Span<float> c, int ldc, bool accumulate)
    {
        fixed (float* pa0 = a.Data, pb0 = b.Data, pc0 = c)
        {
            int ldw = b.ColStride;
            for (int i = 0; i < M; i++)
            {
                float* arow = pa0 + a.Offset + i * a.RowStride;
                int acs = a.ColStride;
                float* crow = pc0 + i * ldc;
                int j = 0;
                for (; j + 8 <= N; j += 8)
                {
                    float* w = pb0 + b.Offset + j * ldw;
                    float c0 = accumulate ? crow[j] : 0, c1 = accumulate ? crow[j + 1] : 0, c2 = accumulate ? crow[j + 2] : 0,
                        c3 = accumulate ? crow[j + 3] : 0;
                    float c4 = accumulate ? crow[j + 4] : 0, c5 = accumulate ? crow[j + 5] : 0, c6 = accumulate ? crow[j + 6] : 0,
                        c7 = accumulate ? crow[j + 7] : 0;
                    for (int k = 0; k < K; k++)
                    {
                        float av = arow[k * acs];
                        c0 = MathF.FusedMultiplyAdd(av, w[k], c0);
                        c1 = MathF.FusedMultiplyAdd(av, w[ldw + k], c1);
                        c2 = MathF.FusedMultiplyAdd(av, w[2 * ldw + k], c2);
                        c3 = MathF.FusedMultiplyAdd(av, w[3 * ldw + k], c3);
                        c4 = MathF.FusedMultiplyAdd(av, w[4 * ldw + k], c4);
                        c5 = MathF.FusedMultiplyAdd(av, w[5 * ldw + k], c5);
                        c6 = MathF.FusedMultiplyAdd(av, w[6 * ldw + k], c6);
                        c7 = MathF.FusedMultiplyAdd(av, w[7 * ldw + k], c7);
                    }
                    crow[j] = c0; crow[j + 1] = c1; crow[j + 2] = c2; crow[j + 3] = c3;
                    crow[j + 4] = c4; crow[j + 5] = c5; crow[j + 6] = c6; crow[j + 7] = c7;
                }
                for (; j < N; j++)
                {
                    float* w = pb0 + b.Offset + j * ldw;
                    float acc = accumulate ? crow[j] : 0;
                    for (int k = 0; k < K; k++) acc = MathF.FusedMultiplyAdd(arow[k * acs], w[k], acc);
                    crow[j] = acc;
                }
            }
        }
    }

    /// <summary>Columns [0, returned) of one C row: strips of 4, then single vectors.</summary>
    static int Strips512(float* arow, int acs, float* b, int brs, float* crow, int N, int K, bool accumulate)
    {
        const int W = 16;
        int j = 0;
        for (; j + 4 * W <= N; j += 4 * W)
        {
            var c0 = accumulate ? Vector512.Load(crow + j) : Vector512<float>.Zero;
            var c1 = accumulate ? Vector512.Load(crow + j + W) : Vector512<float>.Zero;
            var c2 = accumulate ? Vector512.Load(crow + j + 2 * W) : Vector512<float>.Zero;
            var c3 = accumulate ? Vector512.Load(crow + j + 3 * W) : Vector512<float>.Zero;
            float* bp = b + j;
            for (int k = 0; k < K; k++, bp += brs)
            {
                var av = Vector512.Create(arow[k * acs]);
                c0 = Vector512.FusedMultiplyAdd(av, Vector512.Load(bp), c0);
                c1 = Vector512.FusedMultiplyAdd(av, Vector512.Load(bp + W), c1);
                c2 = Vector512.FusedMultiplyAdd(av, Vector512.Load(bp + 2 * W), c2);
                c3 = Vector512.FusedMultiplyAdd(av, Vector512.Load(bp + 3 * W), c3);
            }
            Vector512.Store(c0, crow + j); Vector512.Store(c1, crow + j + W);
            Vector512.Store(c2, crow + j + 2 * W); Vector512.Store(c3, crow + j + 3 * W);
        }
        for (; j + W <= N; j += W)
        {
            var c0 = accumulate ? Vector512.Load(crow + j) : Vector512<float>.Zero;
            float* bp = b + j;
            for (int k = 0; k < K; k++, bp += brs) c0 = Vector512.FusedMultiplyAdd(Vector512.Create(arow[k * acs]), Vector512.Load(bp), c0);
            Vector512.Store(c0, crow + j);
        }
        return j;
    }

    static int Strips256(float* arow, int acs, float* b, int brs, float* crow, int N, int K, bool accumulate)
    {
        const int W = 8;
        int j = 0;
        for (; j + 4 * W <= N; j += 4 * W)
        {
            var c0 = accumulate ? Vector256.Load(crow + j) : Vector256<float>.Zero;
            var c1 = accumulate ? Vector256.Load(crow + j + W) : Vector256<float>.Zero;
            var c2 = accumulate ? Vector256.Load(crow + j + 2 * W) : Vector256<float>.Zero;
            var c3 = accumulate ? Vector256.Load(crow + j + 3 * W) : Vector256<float>.Zero;
            float* bp = b + j;
            for (int k = 0; k < K; k++, bp += brs)
            {
                var av = Vector256.Create(arow[k * acs]);
                c0 = Vector256.FusedMultiplyAdd(av, Vector256.Load(bp), c0);
                c1 = Vector256.FusedMultiplyAdd(av, Vector256.Load(bp + W), c1);
                c2 = Vector256.FusedMultiplyAdd(av, Vector256.Load(bp + 2 * W), c2);
                c3 = Vector256.FusedMultiplyAdd(av, Vector256.Load(bp + 3 * W), c3);
            }
            Vector256.Store(c0, crow + j); Vector256.Store(c1, crow + j + W);
            Vector256.Store(c2, crow + j + 2 * W); Vector256.Store(c3, crow + j + 3 * W);
        }
        for (; j + W <= N; j += W)
        {
            var c0 = accumulate ? Vector256.Load(crow + j) : Vector256<float>.Zero;
            float* bp = b + j;
            for (int k = 0; k < K; k++, bp += brs) c0 = Vector256.FusedMultiplyAdd(Vector256.Create(arow[k * acs]), Vector256.Load(bp), c0);
            Vector256.Store(c0, crow + j);
        }
        return j;
    }

    static int Strips128(float* arow, int acs, float* b, int brs, float* crow, int N, int K, bool accumulate)
    {
        const int W = 4;
        int j = 0;
        for (; j + 4 * W <= N; j += 4 * W)
        {
            var c0 = accumulate ? Vector128.Load(crow + j) : Vector128<float>.Zero;
            var c1 = accumulate ? Vector128.Load(crow + j + W) : Vector128<float>.Zero;
            var c2 = accumulate ? Vector128.Load(crow + j + 2 * W) : Vector128<float>.Zero;
            var c3 = accumulate ? Vector128.Load(crow + j + 3 * W) : Vector128<float>.Zero;
            float* bp = b + j;
            for (int k = 0; k < K; k++, bp += brs)
            {
                var av = Vector128.Create(arow[k * acs]);
                c0 = Vector128.FusedMultiplyAdd(av, Vector128.Load(bp), c0);
                c1 = Vector128.FusedMultiplyAdd(av, Vector128.Load(bp + W), c1);
                c2 = Vector128.FusedMultiplyAdd(av, Vector128.Load(bp + 2 * W), c2);
                c3 = Vector128.FusedMultiplyAdd(av, Vector128.Load(bp + 3 * W), c3);
            }
            Vector128.Store(c0, crow + j); Vector128.Store(c1, crow + j + W);
            Vector128.Store(c2, crow + j + 2 * W); Vector128.Store(c3, crow + j + 3 * W);
        }
        for (; j + W <= N; j += W)
        {
            var c0 = accumulate ? Vector128.Load(crow + j) : Vector128<float>.Zero;
            float* bp = b + j;
            for (int k = 0; k < K; k++, bp += brs) c0 = Vector128.FusedMultiplyAdd(Vector128.Create(arow[k * acs]), Vector128.Load(bp), c0);
            Vector128.Store(c0, crow + j);
        }
        return j;
    }

    // Pack buffers belong to the calling thread (B is filled by the call's workers while the caller waits in it).
    [ThreadStatic] static float[]? _packA;
    [ThreadStatic] static float[]? _packB;

    /// <summary>One (jc, pc) panel of the blocked product; tasks are packing B slivers or computing C tiles.</summary>
    struct Panel
    {
        public float* A, B, PackedB, C;
        public MatrixView<float> Av, Bv;
        public int M, Ldc, Jc, Nc, Pc, Kc, MR, NR, Slivers, Groups, PerGroup;
        public bool Accumulate;
    }

    static void Blocked(int M, int N, int K, MatrixView<float> a, MatrixView<float> b, float* c, int ldc, bool accumulate, int threads)
    {
        var (MR, NR, _) = MicroKernel;
        int NC = Math.Min(NCMax, RoundUp(N, NR));
        var packB = _packB is { } pb && pb.Length >= KC * NC ? pb : _packB = new float[KC * NC];
        WorkerTeam.Prepare(ref _panelWork);
        fixed (float* pB = packB, aData = a.Data, bData = b.Data)
        {
            var p = new Panel { A = aData, B = bData, PackedB = pB, C = c, Av = a, Bv = b, M = M, Ldc = ldc, MR = MR, NR = NR };
            int iBlocks = (M + MC - 1) / MC;
            for (int jc = 0; jc < N; jc += NC)
            {
                p.Jc = jc; p.Nc = Math.Min(NC, N - jc);
                p.Slivers = (p.Nc + NR - 1) / NR;
                p.Groups = 1;
                while (iBlocks * p.Groups < 2 * threads && p.Slivers / (p.Groups * 2) >= 2) p.Groups *= 2;
                p.PerGroup = (p.Slivers + p.Groups - 1) / p.Groups;
                for (int pc = 0; pc < K; pc += KC)
                {
                    p.Pc = pc; p.Kc = Math.Min(KC, K - pc);
                    p.Accumulate = accumulate || pc > 0; // later K blocks continue the chain from C
                    if (threads <= 1)
                    {
                        for (int s = 0; s < p.Slivers; s++) PackBTask(in p, s);
                        for (int t = 0; t < iBlocks * p.Groups; t++) TileTask(in p, t);
                    }
                    else RunParallel(in p, iBlocks, threads);
                }
            }
        }
    }

    /// <summary>The threaded path: the panel's B slivers are packed, then its C tiles computed, on the worker team.</summary>
    static void RunParallel(in Panel p, int iBlocks, int threads)
    {
        var work = _panelWork!;
        work.P = p;
        try
        {
            work.PackB = true; WorkerTeam.For(p.Slivers, threads, work);
            work.PackB = false; WorkerTeam.For(iBlocks * p.Groups, threads, work);
        }
        finally { work.P = default; }
    }

    [ThreadStatic] static PanelWork? _panelWork;

    sealed class PanelWork : ParallelWork
    {
        public Panel P;
        public bool PackB;
        public override void Run(int index) { if (PackB) PackBTask(in P, index); else TileTask(in P, index); }
    }

    static void PackBTask(in Panel p, int s)
        => PackB(p.B, p.Bv, p.Pc, p.Kc, p.Jc + s * p.NR, Math.Min(p.NR, p.Nc - s * p.NR), p.NR, p.PackedB + s * p.NR * p.Kc);

    /// <summary>Row block t / Groups of C against sliver group t % Groups: packs the A block, runs the micro-kernels.</summary>
    static void TileTask(in Panel p, int t)
    {
        int ib = t / p.Groups, g = t % p.Groups;
        int ic = ib * MC, mc = Math.Min(MC, p.M - ic);
        int s0 = g * p.PerGroup, s1 = Math.Min(p.Slivers, s0 + p.PerGroup);
        if (s0 >= s1) return;
        var pa = _packA ??= new float[MC * KC];
        fixed (float* pA = pa)
        {
            PackA(p.A, p.Av, ic, mc, p.Pc, p.Kc, p.MR, pA);
            for (int s = s0; s < s1; s++)
            {
                int j = p.Jc + s * p.NR, nr = Math.Min(p.NR, p.Jc + p.Nc - j);
                for (int ir = 0; ir < mc; ir += p.MR)
                    Micro(p.Kc, pA + ir * p.Kc, p.PackedB + s * p.NR * p.Kc, p.C + (ic + ir) * p.Ldc + j, p.Ldc, Math.Min(p.MR, mc - ir),
                        nr, p.Accumulate, p.MR, p.NR);
            }
        }
    }

    static int RoundUp(int x, int m) => (x + m - 1) / m * m;

    /// <summary>Packs B[pc..pc+kc, j0..j0+nr) as kc rows of NR values (zero-padded beyond nr).</summary>
    static void PackB(float* b, MatrixView<float> bv, int pc, int kc, int j0, int nr, int NR, float* dst)
    {
        for (int k = 0; k < kc; k++)
        {
            float* src = b + bv.Offset + (pc + k) * bv.RowStride + j0 * bv.ColStride;
            float* d = dst + k * NR;
            if (bv.ColStride == 1 && nr == NR) Buffer.MemoryCopy(src, d, NR * 4, NR * 4);
            else
            {
                int j = 0;
                for (; j < nr; j++) d[j] = src[j * bv.ColStride];
                for (; j < NR; j++) d[j] = 0;
            }
        }
    }

    /// <summary>Packs A[ic..ic+mc, pc..pc+kc) as MR-tall slivers, each kc columns of MR values (zero-padded).</summary>
    static void PackA(float* a, MatrixView<float> av, int ic, int mc, int pc, int kc, int MR, float* dst)
    {
        for (int ir = 0; ir < mc; ir += MR)
        {
            int mr = Math.Min(MR, mc - ir);
            float* d = dst + ir * kc;
            for (int i = 0; i < MR; i++)
            {
                if (i >= mr) { for (int k = 0; k < kc; k++) d[k * MR + i] = 0; continue; }
                float* src = a + av.Offset + (ic + ir + i) * av.RowStride + pc * av.ColStride;
                for (int k = 0; k < kc; k++) d[k * MR + i] = src[k * av.ColStride];
            }
        }
    }

    /// <summary>C tile (mr×nr, leading dim ldc) = (acc ? C : 0) + Apanel·Bpanel over kc, as FMA chains.</summary>
    static void Micro(int kc, float* pa, float* pb, float* c, int ldc, int mr, int nr, bool acc, int MR, int NR)
    {
        if (mr == MR && nr == NR)
        {
            if (MR == 8 && NR == 32) { Micro8x32(kc, pa, pb, c, ldc, acc); return; }
            if (MR == 6 && NR == 16) { Micro6x16(kc, pa, pb, c, ldc, acc); return; }
            if (MR == 4 && NR == 8) { Micro4x8(kc, pa, pb, c, ldc, acc); return; }
        }
        // Edge tile: through a full-size temporary holding the C values (or zeros), so the chain is unchanged.
        float* t = stackalloc float[MR * NR];
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++) t[i * NR + j] = acc && i < mr && j < nr ? c[i * ldc + j] : 0;
        if (MR == 8 && NR == 32) Micro8x32(kc, pa, pb, t, NR, true);
        else if (MR == 6 && NR == 16) Micro6x16(kc, pa, pb, t, NR, true);
        else if (MR == 4 && NR == 8) Micro4x8(kc, pa, pb, t, NR, true);
        else MicroScalar(kc, pa, pb, t, NR, MR, NR);
        for (int i = 0; i < mr; i++)
            for (int j = 0; j < nr; j++) c[i * ldc + j] = t[i * NR + j];
    }

    static void MicroScalar(int kc, float* pa, float* pb, float* c, int ldc, int MR, int NR)
    {
        for (int k = 0; k < kc; k++)
            for (int i = 0; i < MR; i++)
            {
                float av = pa[k * MR + i];
                for (int j = 0; j < NR; j++) c[i * ldc + j] = MathF.FusedMultiplyAdd(av, pb[k * NR + j], c[i * ldc + j]);
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Micro8x32(int kc, float* pa, float* pb, float* c, int ldc, bool acc)
    {
        Vector512<float> c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, c60, c61, c70, c71;
        if (acc)
        {
            c00 = Vector512.Load(c); c01 = Vector512.Load(c + 16);
            c10 = Vector512.Load(c + ldc); c11 = Vector512.Load(c + ldc + 16);
            c20 = Vector512.Load(c + 2 * ldc); c21 = Vector512.Load(c + 2 * ldc + 16);
            c30 = Vector512.Load(c + 3 * ldc); c31 = Vector512.Load(c + 3 * ldc + 16);
            c40 = Vector512.Load(c + 4 * ldc); c41 = Vector512.Load(c + 4 * ldc + 16);
            c50 = Vector512.Load(c + 5 * ldc); c51 = Vector512.Load(c + 5 * ldc + 16);
            c60 = Vector512.Load(c + 6 * ldc); c61 = Vector512.Load(c + 6 * ldc + 16);
            c70 = Vector512.Load(c + 7 * ldc); c71 = Vector512.Load(c + 7 * ldc + 16);
        }
        else
        {
            c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = c60 = c61 = c70 = c71 = Vector512<float>.Zero;
        }
        for (int k = 0; k < kc; k++, pa += 8, pb += 32)
        {
            var b0 = Vector512.Load(pb); var b1 = Vector512.Load(pb + 16);
            var a = Vector512.Create(pa[0]); c00 = Vector512.FusedMultiplyAdd(a, b0, c00); c01 = Vector512.FusedMultiplyAdd(a, b1, c01);
            a = Vector512.Create(pa[1]); c10 = Vector512.FusedMultiplyAdd(a, b0, c10); c11 = Vector512.FusedMultiplyAdd(a, b1, c11);
            a = Vector512.Create(pa[2]); c20 = Vector512.FusedMultiplyAdd(a, b0, c20); c21 = Vector512.FusedMultiplyAdd(a, b1, c21);
            a = Vector512.Create(pa[3]); c30 = Vector512.FusedMultiplyAdd(a, b0, c30); c31 = Vector512.FusedMultiplyAdd(a, b1, c31);
            a = Vector512.Create(pa[4]); c40 = Vector512.FusedMultiplyAdd(a, b0, c40); c41 = Vector512.FusedMultiplyAdd(a, b1, c41);
            a = Vector512.Create(pa[5]); c50 = Vector512.FusedMultiplyAdd(a, b0, c50); c51 = Vector512.FusedMultiplyAdd(a, b1, c51);
            a = Vector512.Create(pa[6]); c60 = Vector512.FusedMultiplyAdd(a, b0, c60); c61 = Vector512.FusedMultiplyAdd(a, b1, c61);
            a = Vector512.Create(pa[7]); c70 = Vector512.FusedMultiplyAdd(a, b0, c70); c71 = Vector512.FusedMultiplyAdd(a, b1, c71);
        }
        Vector512.Store(c00, c); Vector512.Store(c01, c + 16);
        Vector512.Store(c10, c + ldc); Vector512.Store(c11, c + ldc + 16);
        Vector512.Store(c20, c + 2 * ldc); Vector512.Store(c21, c + 2 * ldc + 16);
        Vector512.Store(c30, c + 3 * ldc); Vector512.Store(c31, c + 3 * ldc + 16);
        Vector512.Store(c40, c + 4 * ldc); Vector512.Store(c41, c + 4 * ldc + 16);
        Vector512.Store(c50, c + 5 * ldc); Vector512.Store(c51, c + 5 * ldc + 16);
        Vector512.Store(c60, c + 6 * ldc); Vector512.Store(c61, c + 6 * ldc + 16);
        Vector512.Store(c70, c + 7 * ldc); Vector512.Store(c71, c + 7 * ldc + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Micro6x16(int kc, float* pa, float* pb, float* c, int ldc, bool acc)
    {
        Vector256<float> c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
        if (acc)
        {
            c00 = Vector256.Load(c); c01 = Vector256.Load(c + 8);
            c10 = Vector256.Load(c + ldc); c11 = Vector256.Load(c + ldc + 8);
            c20 = Vector256.Load(c + 2 * ldc); c21 = Vector256.Load(c + 2 * ldc + 8);
            c30 = Vector256.Load(c + 3 * ldc); c31 = Vector256.Load(c + 3 * ldc + 8);
            c40 = Vector256.Load(c + 4 * ldc); c41 = Vector256.Load(c + 4 * ldc + 8);
            c50 = Vector256.Load(c + 5 * ldc); c51 = Vector256.Load(c + 5 * ldc + 8);
        }
        else c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = Vector256<float>.Zero;
        for (int k = 0; k < kc; k++, pa += 6, pb += 16)
        {
            var b0 = Vector256.Load(pb); var b1 = Vector256.Load(pb + 8);
            var a = Vector256.Create(pa[0]); c00 = Vector256.FusedMultiplyAdd(a, b0, c00); c01 = Vector256.FusedMultiplyAdd(a, b1, c01);
            a = Vector256.Create(pa[1]); c10 = Vector256.FusedMultiplyAdd(a, b0, c10); c11 = Vector256.FusedMultiplyAdd(a, b1, c11);
            a = Vector256.Create(pa[2]); c20 = Vector256.FusedMultiplyAdd(a, b0, c20); c21 = Vector256.FusedMultiplyAdd(a, b1, c21);
            a = Vector256.Create(pa[3]); c30 = Vector256.FusedMultiplyAdd(a, b0, c30); c31 = Vector256.FusedMultiplyAdd(a, b1, c31);
            a = Vector256.Create(pa[4]); c40 = Vector256.FusedMultiplyAdd(a, b0, c40); c41 = Vector256.FusedMultiplyAdd(a, b1, c41);
            a = Vector256.Create(pa[5]); c50 = Vector256.FusedMultiplyAdd(a, b0, c50); c51 = Vector256.FusedMultiplyAdd(a, b1, c51);
        }
        Vector256.Store(c00, c); Vector256.Store(c01, c + 8);
        Vector256.Store(c10, c + ldc); Vector256.Store(c11, c + ldc + 8);
        Vector256.Store(c20, c + 2 * ldc); Vector256.Store(c21, c + 2 * ldc + 8);
        Vector256.Store(c30, c + 3 * ldc); Vector256.Store(c31, c + 3 * ldc + 8);
        Vector256.Store(c40, c + 4 * ldc); Vector256.Store(c41, c + 4 * ldc + 8);
        Vector256.Store(c50, c + 5 * ldc); Vector256.Store(c51, c + 5 * ldc + 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Micro4x8(int kc, float* pa, float* pb, float* c, int ldc, bool acc)
    {
        Vector128<float> c00, c01, c10, c11, c20, c21, c30, c31;
        if (acc)
        {
            c00 = Vector128.Load(c); c01 = Vector128.Load(c + 4);
            c10 = Vector128.Load(c + ldc); c11 = Vector128.Load(c + ldc + 4);
            c20 = Vector128.Load(c + 2 * ldc); c21 = Vector128.Load(c + 2 * ldc + 4);
            c30 = Vector128.Load(c + 3 * ldc); c31 = Vector128.Load(c + 3 * ldc + 4);
        }
        else c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = Vector128<float>.Zero;
        for (int k = 0; k < kc; k++, pa += 4, pb += 8)
        {
            var b0 = Vector128.Load(pb); var b1 = Vector128.Load(pb + 4);
            var a = Vector128.Create(pa[0]); c00 = Vector128.FusedMultiplyAdd(a, b0, c00); c01 = Vector128.FusedMultiplyAdd(a, b1, c01);
            a = Vector128.Create(pa[1]); c10 = Vector128.FusedMultiplyAdd(a, b0, c10); c11 = Vector128.FusedMultiplyAdd(a, b1, c11);
            a = Vector128.Create(pa[2]); c20 = Vector128.FusedMultiplyAdd(a, b0, c20); c21 = Vector128.FusedMultiplyAdd(a, b1, c21);
            a = Vector128.Create(pa[3]); c30 = Vector128.FusedMultiplyAdd(a, b0, c30); c31 = Vector128.FusedMultiplyAdd(a, b1, c31);
        }
        Vector128.Store(c00, c); Vector128.Store(c01, c + 4);
        Vector128.Store(c10, c + ldc); Vector128.Store(c11, c + ldc + 4);
        Vector128.Store(c20, c + 2 * ldc); Vector128.Store(c21, c + 2 * ldc + 4);
        Vector128.Store(c30, c + 3 * ldc); Vector128.Store(c31, c + 3 * ldc + 4);
    }
}
