// The deterministic conversion of a model's logits into the integer frequencies a range coder codes with. Frequencies
// total 2^16 and every symbol gets at least 1, so any byte can be coded; the conversion uses only the engine's portable
// exp and a fixed-order sum, so encoder and decoder agree bit for bit on every machine and SIMD width.
using Engram.Tensors;
using Engram.Tensors.Kernels;

namespace Engram.Learning;

public static class ByteDistribution
{
    public const int TotalBits = 16;
    public const uint Total = 1u << TotalBits;

    /// <summary>freq[i] ≥ 1, Σ freq = 2^16, proportional to softmax(logits); also returns −log2 p(target) of the
    /// float model (not of the quantised frequencies) when target ≥ 0. `scratch` needs 256 floats.</summary>
    public static double Frequencies(ReadOnlySpan<float> logits, Span<uint> freq, Span<float> scratch, int target = -1)
    {
        int n = logits.Length;
        int argmax = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(logits);
        float max = logits[argmax];
        if (!float.IsFinite(max)) throw new EngramException($"model produced a non-finite logit ({max}); the stream cannot be coded");
        var e = scratch[..n];
        for (int i = 0; i < n; i++) e[i] = logits[i] - max;
        PortableExp.Exp(e, e);
        float sum = PortableReduce.Sum(e);
        double scale = (Total - (uint)n) / (double)sum;
        long total = 0;
        for (int i = 0; i < n; i++) { freq[i] = 1 + (uint)(e[i] * scale); total += freq[i]; }
        freq[argmax] = (uint)(freq[argmax] + (Total - total)); // the rounding remainder (either sign) goes to the mode
        return target < 0 ? 0 : (PortableMath.Log(sum) - (logits[target] - max)) / Math.Log(2);
    }

    /// <summary>cumulative[s] = Σ_{t&lt;s} freq[t] for s = 0..n (n + 1 entries; the last is the total).</summary>
    public static void Cumulate(ReadOnlySpan<uint> freq, Span<uint> cumulative)
    {
        uint c = 0;
        for (int s = 0; s < freq.Length; s++) { cumulative[s] = c; c += freq[s]; }
        cumulative[freq.Length] = c;
    }
}

