// Geometric mixing of sparse constant experts (the context-count estimates) into logits: a custom autograd op of the
// models, built on the engine's public Record API.
using Engram.Tensors;

namespace Engram.Models;

/// <summary>Sparse expert vectors (no gradient): expert (n, k) is Base[n·K + k] everywhere except at
/// Symbols[j] for j in [Start[n·K + k], Start[n·K + k + 1]), where it is Values[j].</summary>
public sealed class SparseExperts(int k, int width)
{
    public int K { get; } = k;
    public int Width { get; } = width;
    public int Rows => _base.Count / K;
    readonly List<float> _base = new();
    readonly List<int> _start = new() { 0 };
    readonly List<int> _symbols = new();
    readonly List<float> _values = new();

    public void Add(float baseValue) { _base.Add(baseValue); _start.Add(_values.Count); }
    /// <summary>An exception to the base value of the expert added next (call before Add).</summary>
    public void Set(int symbol, float value) { _symbols.Add(symbol); _values.Add(value); }

    public (float[] Base, int[] Start, int[] Symbols, float[] Values) Freeze()
        => (_base.ToArray(), _start.ToArray(), _symbols.ToArray(), _values.ToArray());

    /// <summary>y += Σ_k w[k] · e[row, k, :], with ExpertMix's arithmetic for one row (`scratch`: Width floats).</summary>
    public void MixRow(int row, ReadOnlySpan<float> w, Span<float> y, Span<float> scratch)
    {
        float s = 0;
        for (int j = 0; j < K; j++) s = MathF.FusedMultiplyAdd(w[j], _base[row * K + j], s);
        scratch = scratch[..Width];
        scratch.Fill(s);
        for (int j = 0; j < K; j++)
        {
            int e = row * K + j;
            for (int x = _start[e]; x < _start[e + 1]; x++)
                scratch[_symbols[x]] = MathF.FusedMultiplyAdd(w[j], _values[x] - _base[e], scratch[_symbols[x]]);
        }
        for (int v = 0; v < Width; v++) y[v] += scratch[v];
    }

    /// <summary>Dense [Rows, K, Width] (for tests).</summary>
    public Tensor ToDense()
    {
        var d = new float[Rows * K * Width];
        for (int e = 0; e < _base.Count; e++)
        {
            d.AsSpan(e * Width, Width).Fill(_base[e]);
            for (int j = _start[e]; j < _start[e + 1]; j++) d[e * Width + _symbols[j]] = _values[j];
        }
        return Tensor.FromArray(d, Rows, K, Width);
    }
}

/// <summary>Mixture of sparse constant experts: out[n, :] = Σ_k w[n, k] · e[n, k, :] for weights w [N, K] — the geometric
/// mixing of context-count estimates into logits. Computed as Σ_k w·base (one FMA chain, k ascending) plus
/// w·(value − base) at each exception, in order; each row is the same whatever N. Backward: dw[n, k] =
/// base·Σ_v g[n, v] + Σ_exceptions g[n, s]·(value − base).</summary>
public static class ExpertMix
{
    sealed record Saved(float[] Base, int[] Start, int[] Symbols, float[] Values, int K, int V);

    public static Tensor Forward(Tensor w, SparseExperts experts)
    {
        int n = w.Shape[0], k = w.Rank == 2 ? w.Shape[1] : -1, v = experts.Width;
        if (w.Rank != 2 || w.DType != DType.Float32 || k != experts.K || n != experts.Rows)
            throw new ShapeMismatchException($"ExpertMix: weights {w.ShapeText} must be float32 [{experts.Rows}, {experts.K}]");
        var (bases, start, symbols, values) = experts.Freeze();
        var ws = w.Detach().Contiguous().AsSpanF32();
        var y = Tensor.Zeros([n, v]);
        var ys = y.AsSpanF32();
        for (int r = 0; r < n; r++)
        {
            float s = 0;
            for (int j = 0; j < k; j++) s = MathF.FusedMultiplyAdd(ws[r * k + j], bases[r * k + j], s);
            var row = ys.Slice(r * v, v);
            row.Fill(s);
            for (int j = 0; j < k; j++)
            {
                int e = r * k + j;
                for (int x = start[e]; x < start[e + 1]; x++)
                    row[symbols[x]] = MathF.FusedMultiplyAdd(ws[e], values[x] - bases[e], row[symbols[x]]);
            }
        }
        return Autograd.Record(y, "expert_mix", static (node, g) =>
        {
            var sv = (Saved)node.Saved!;
            int n = node.Inputs[0].Shape[0];
            if (Autograd.IsEnabled) // createGraph: the composed dense form
            {
                var dense = new float[n * sv.K * sv.V];
                for (int e = 0; e < n * sv.K; e++)
                {
                    dense.AsSpan(e * sv.V, sv.V).Fill(sv.Base[e]);
                    for (int x = sv.Start[e]; x < sv.Start[e + 1]; x++) dense[e * sv.V + sv.Symbols[x]] = sv.Values[x];
                }
                var d3 = Tensor.FromArray(dense, n, sv.K, sv.V);
                return Autograd.Grad([(node.Inputs[0].Unsqueeze(-1) * d3).Sum(1)], node.Inputs, [g], retainGraph: true, createGraph: true);
            }
            var gs = g.Contiguous().AsSpanF32();
            var dw = Tensor.Zeros([n, sv.K]);
            var d = dw.AsSpanF32();
            for (int r = 0; r < n; r++)
            {
                var grow = gs.Slice(r * sv.V, sv.V);
                float total = Engram.Tensors.Kernels.PortableReduce.Sum(grow);
                for (int j = 0; j < sv.K; j++)
                {
                    int e = r * sv.K + j;
                    float acc = sv.Base[e] * total;
                    for (int x = sv.Start[e]; x < sv.Start[e + 1]; x++)
                        acc = MathF.FusedMultiplyAdd(grow[sv.Symbols[x]], sv.Values[x] - sv.Base[e], acc);
                    d[e] = acc;
                }
            }
            return [dw];
        }, w, saved: new Saved(bases, start, symbols, values, k, v));
    }
}
