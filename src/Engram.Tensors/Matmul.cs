// Matrix products with PyTorch semantics: 1-D operands are promoted, batch dimensions broadcast,
// transposed operands are strided views passed to GEMM without a copy.
using Engram.Tensors.Kernels;

namespace Engram.Tensors;

public sealed partial class Tensor
{
    /// <summary>Matrix product: [..., M, K] @ [..., K, N] → [..., M, N] with broadcast batch dims; 1-D operands as in numpy
    /// (1-D @ 1-D is the 0-d dot product).</summary>
    public static Tensor Matmul(Tensor a, Tensor b)
    {
        if (a.Rank == 0 || b.Rank == 0)
            throw new ShapeMismatchException($"matmul: operands must have at least one dimension, got {a.ShapeText} and {b.ShapeText}");
        if (a.Rank == 1 && b.Rank == 1) return Matmul(a.Unsqueeze(0), b.Unsqueeze(-1)).Reshape([]); // dot product: a 0-d scalar
        if (a.Rank == 1) return Matmul(a.Unsqueeze(0), b).Squeeze(-2);
        if (b.Rank == 1) return Matmul(a, b.Unsqueeze(-1)).Squeeze(-1);
        CheckDType(a, b, "matmul");
        a.ThrowIfReleased(); b.ThrowIfReleased();
        int M = a.ShapeArr[^2], K = a.ShapeArr[^1], K2 = b.ShapeArr[^2], N = b.ShapeArr[^1];
        if (K != K2) throw new ShapeMismatchException($"matmul: inner dimensions differ: {a.ShapeText} @ {b.ShapeText}");
        if (b.Rank == 2 && a.Rank > 2)
        {
            // [..., M, K] @ [K, N]: fold the batch into the rows — one large product instead of many small ones,
            // and a weight gradient computed directly as [K, B·M] @ [B·M, N] with no batch reduction.
            Span<int> outShape = stackalloc int[a.Rank]; a.ShapeArr.CopyTo(outShape); outShape[^1] = N;
            return Matmul(a.Reshape(-1, K), b).Reshape(outShape);
        }
        Span<int> shape = stackalloc int[Math.Max(a.Rank, b.Rank)];
        var batch = shape[..^2];
        BroadcastShape(a.ShapeArr.AsSpan(0, a.Rank - 2), b.ShapeArr.AsSpan(0, b.Rank - 2), "matmul", batch);
        shape[^2] = M; shape[^1] = N;
        var y = Empty(shape, a.DType); // every product writes all of its output (K = 0 included)
        MatmulForward(a, b, batch, M, N, K, y);
        return Autograd.Record(y, "matmul", static (n, g) =>
        {
            var (x, w) = (n.Inputs[0], n.Inputs[1]);
            // A leaf matrix with a gradient buffer takes its product straight into .Grad (no temporary, no extra pass).
            return [x.RequiresGrad && !AccumulateIntoLeaf(x, g, w.MT) ? Matmul(g, w.MT).SumToShape(x.ShapeArr) : null,
                    w.RequiresGrad && !AccumulateIntoLeaf(w, x.MT, g) ? Matmul(x.MT, g).SumToShape(w.ShapeArr) : null];
        }, a, b);
    }

    /// <summary>Adds a·b (the gradient of `input`) straight into a leaf's gradient buffer when possible: `input` itself, or
    /// the leaf matrix whose transpose view `input` is (as Linear's weight), which then receives (a·b)ᵀ = bᵀ·aᵀ.</summary>
    static bool AccumulateIntoLeaf(Tensor input, Tensor a, Tensor b)
    {
        if (Autograd.TryAccumulateProduct(input, a, b)) return true;
        return input.TransposeOfMatrix() is { } leaf && Autograd.TryAccumulateProduct(leaf, b.MT, a.MT);
    }

    static void MatmulForward(Tensor a, Tensor b, ReadOnlySpan<int> batch, int M, int N, int K, Tensor y)
    {
        if (batch.Length == 0 && y.DType == DType.Float32)
        {
            Gemm.Run(M, N, K, new MatrixView<float>((float[])a.Data, a.Offset, a.StridesArr[0], a.StridesArr[1]),
                new MatrixView<float>((float[])b.Data, b.Offset, b.StridesArr[0], b.StridesArr[1]), (float[])y.Data, N, accumulate: false);
            return;
        }
        int batches = NumelOf(batch);
        var ab = BatchOffsets(a, batch); var bb = BatchOffsets(b, batch);
        int ars = a.StridesArr[^2], acs = a.StridesArr[^1], brs = b.StridesArr[^2], bcs = b.StridesArr[^1];
        if (y.DType == DType.Float32)
        {
            var work = WorkerTeam.Prepare(ref _batchWork);
            work.Set((float[])a.Data, ab, ars, acs, (float[])b.Data, bb, brs, bcs, (float[])y.Data, M, N, K);
            try
            {
                // Small products run one per thread (each single-threaded); large ones run in turn, each threaded.
                if (batches > 1 && Engine.MaxThreads > 1 && (long)M * N * K < 64 * 64 * 64)
                {
                    work.Threads = 1;
                    WorkerTeam.For(batches, Engine.MaxThreads, work);
                }
                else
                {
                    work.Threads = 0;
                    for (int i = 0; i < batches; i++) work.Run(i);
                }
            }
            finally { work.Clear(); }
        }
        else
        {
            var yd = (double[])y.Data; var ad = (double[])a.Data; var bd = (double[])b.Data;
            for (int i = 0; i < batches; i++)
                Gemm.RowKernel(M, N, K, new MatrixView<double>(ad, ab[i], ars, acs), new MatrixView<double>(bd, bb[i], brs, bcs),
                    yd.AsSpan(i * M * N, M * N), N, false);
        }
    }

    [ThreadStatic] static BatchedProduct? _batchWork;

    /// <summary>One GEMM per batch index (the work of a batched product; one instance per calling thread).</summary>
    sealed class BatchedProduct : ParallelWork
    {
        float[] _a = null!, _b = null!, _y = null!;
        int[] _ao = null!, _bo = null!;
        int _ars, _acs, _brs, _bcs, _m, _n, _k;
        public int Threads;

        public void Set(float[] a, int[] ao, int ars, int acs, float[] b, int[] bo, int brs, int bcs, float[] y, int m, int n, int k)
        {
            _a = a; _ao = ao; _ars = ars; _acs = acs; _b = b; _bo = bo; _brs = brs; _bcs = bcs; _y = y; _m = m; _n = n; _k = k;
        }

        public void Clear() { _a = _b = _y = null!; _ao = _bo = null!; }

        public override void Run(int i) => Gemm.Run(_m, _n, _k, new MatrixView<float>(_a, _ao[i], _ars, _acs),
            new MatrixView<float>(_b, _bo[i], _brs, _bcs), _y.AsSpan(i * _m * _n, _m * _n), _n, accumulate: false, Threads);
    }

    /// <summary>Storage offset of each matrix of t for every index of the broadcast batch shape (scope scratch).</summary>
    static int[] BatchOffsets(Tensor t, ReadOnlySpan<int> batch)
    {
        int n = NumelOf(batch), rank = batch.Length, lead = rank - (t.Rank - 2);
        var offs = TensorScope.Rent<int>(n);
        Span<int> idx = stackalloc int[rank];
        for (int p = 0; p < n; p++)
        {
            int o = t.Offset;
            for (int d = lead; d < rank; d++) if (t.ShapeArr[d - lead] != 1) o += idx[d] * t.StridesArr[d - lead];
            offs[p] = o;
            for (int d = rank - 1; d >= 0; d--) { if (++idx[d] < batch[d]) break; idx[d] = 0; }
        }
        return offs;
    }
}
