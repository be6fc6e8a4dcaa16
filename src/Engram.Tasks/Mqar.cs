// Multi-query associative recall (MQAR, Zoology: Arora et al. 2023): a sequence opens with N key–value pairs, and
// later every key comes back once as a query; at a query's position the target is the value that followed that key.
// Made deterministically from a Generator, as Zoology's generator lays them out:
//   tokens: 0 filler; keys 1 .. V/2 − 1; values V/2 .. V − 1 (keys distinct within a sequence, values too).
//   positions 0 .. 2N − 1: k₁ v₁ k₂ v₂ … k_N v_N; then (L − 2N)/2 query slots at even offsets 2N + 2g, the key of
//   pair i at slot g_i, the slots drawn without replacement in pair order with P(g) ∝ (g + 1)^(a − 1) (a = 0.01: a
//   power law that favours early slots, as gaps between repeated bigrams in text do); every other position is filler.
//   targets: the value at each query position, IgnoreIndex everywhere else (loss and accuracy only at queries).
using Engram.Tensors;

namespace Engram.Tasks;

/// <summary>One MQAR setting: vocabulary V (keys in the lower half, values in the upper), sequence length L and N pairs.
/// PowerA is the exponent of the query-slot power law (1 = uniform slots).</summary>
public sealed record MqarSpec(int Vocab, int Length, int Pairs, double PowerA = 0.01)
{
    public const int Filler = 0;
    public const int IgnoreIndex = -100;
    public int FirstKey => 1;
    public int KeyCount => Vocab / 2 - 1;
    public int FirstValue => Vocab / 2;
    public int ValueCount => Vocab - Vocab / 2;
    /// <summary>Query slots after the pairs: (L − 2N)/2, each two positions wide.</summary>
    public int Slots => (Length - 2 * Pairs) / 2;

    /// <summary>Throws an EngramException naming what does not fit: a query per key needs L ≥ 4N (as Zoology asks), and
    /// N distinct keys and values need V/2 − 1 ≥ N.</summary>
    public void Validate()
    {
        if (Pairs < 1) throw new EngramException($"MQAR: at least one key–value pair, got {Pairs}");
        if (Length < 4 * Pairs)
            throw new EngramException($"MQAR: {Pairs} pairs need a sequence of at least {4 * Pairs} tokens (the pairs, then a " +
                $"two-token slot per query), got {Length}");
        if (KeyCount < Pairs)
            throw new EngramException($"MQAR: {Pairs} distinct keys need a vocabulary of at least {2 * Pairs + 2}, got {Vocab}");
        if (!(PowerA > 0 && PowerA <= 1)) throw new EngramException($"MQAR: the power-law exponent must be in (0, 1], got {PowerA}");
    }

    public override string ToString() => $"V={Vocab} L={Length} N={Pairs}";
}

/// <summary>A batch of MQAR sequences, row-major [Count, Length]: input tokens and targets (IgnoreIndex off the queries).
/// QueryPositions lists, for each sequence in order, the N flat indices (s·L + t) of its queries in position order.</summary>
public sealed record MqarBatch(MqarSpec Spec, int Count, int[] Inputs, int[] Targets, int[] QueryPositions)
{
    /// <summary>The targets at the query positions, in the order of QueryPositions.</summary>
    public int[] QueryTargets() => QueryPositions.Select(p => Targets[p]).ToArray();

    /// <summary>Sequences start .. start + count − 1 as a batch of their own (copies; positions counted from its start).</summary>
    public MqarBatch Slice(int start, int count)
    {
        if (start < 0 || count < 0 || start + count > Count)
            throw new EngramException($"MQAR: sequences [{start}, {start + count}) of a batch of {Count}");
        int L = Spec.Length, N = Spec.Pairs;
        return new MqarBatch(Spec, count, Inputs.AsSpan(start * L, count * L).ToArray(), Targets.AsSpan(start * L, count * L).ToArray(),
            QueryPositions.AsSpan(start * N, count * N).ToArray().Select(p => p - start * L).ToArray());
    }
}

public static class Mqar
{
    /// <summary>`count` sequences drawn from `rng` (the same generator state gives the same batch).</summary>
    public static MqarBatch Generate(MqarSpec spec, int count, Generator rng)
    {
        spec.Validate();
        if (count < 0) throw new EngramException($"MQAR: a batch of {count} sequences");
        int L = spec.Length, N = spec.Pairs, slots = spec.Slots;
        var inputs = new int[count * L];
        var targets = new int[count * L];
        Array.Fill(targets, MqarSpec.IgnoreIndex);
        var queries = new int[count * N];
        var keyPool = new int[spec.KeyCount];
        var valuePool = new int[spec.ValueCount];
        var slotWeights = new double[slots];
        for (int g = 0; g < slots; g++) slotWeights[g] = spec.PowerA * Math.Pow(g + 1, spec.PowerA - 1);
        var weights = new double[slots];
        var taken = new bool[slots];
        for (int s = 0; s < count; s++)
        {
            var row = inputs.AsSpan(s * L, L);
            var keys = Distinct(rng, keyPool, spec.FirstKey, N);
            var values = Distinct(rng, valuePool, spec.FirstValue, N);
            for (int i = 0; i < N; i++) { row[2 * i] = keys[i]; row[2 * i + 1] = values[i]; }
            slotWeights.CopyTo(weights, 0);
            Array.Clear(taken);
            for (int i = 0; i < N; i++)
            {
                int g = DrawWeighted(rng, weights);
                weights[g] = 0; taken[g] = true;
                int t = 2 * N + 2 * g;
                row[t] = keys[i];
                targets[s * L + t] = values[i];
            }
            int q = s * N;
            for (int g = 0; g < slots; g++) if (taken[g]) queries[q++] = s * L + 2 * N + 2 * g;
        }
        return new MqarBatch(spec, count, inputs, targets, queries);
    }

    /// <summary>N distinct tokens from first .. first + pool.Length − 1 (a partial Fisher–Yates shuffle of the pool).</summary>
    static ReadOnlySpan<int> Distinct(Generator rng, int[] pool, int first, int n)
    {
        for (int i = 0; i < pool.Length; i++) pool[i] = first + i;
        for (int i = 0; i < n; i++)
        {
            int j = i + rng.NextInt(pool.Length - i);
            (pool[i], pool[j]) = (pool[j], pool[i]);
        }
        return pool.AsSpan(0, n);
    }

    /// <summary>An index drawn with probability proportional to its (non-negative) weight.</summary>
    static int DrawWeighted(Generator rng, double[] weights)
    {
        double total = 0;
        foreach (var w in weights) total += w;
        double u = rng.NextDouble() * total;
        int last = -1;
        for (int i = 0; i < weights.Length; i++)
        {
            if (weights[i] <= 0) continue;
            last = i;
            u -= weights[i];
            if (u < 0) return i;
        }
        return last; // rounding left u ≥ 0 after the last positive weight
    }
}
