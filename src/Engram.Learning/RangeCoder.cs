// Multi-symbol range coder (carry-propagating, 32-bit range, byte output) and the deterministic conversion of a
// model's logits into integer frequencies. Frequencies total 2^16 and every symbol gets at least 1, so any byte can
// be coded; the conversion uses only the engine's portable exp and a fixed-order sum, so encoder and decoder agree
// bit for bit on every machine and SIMD width.
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
        float max = float.NegativeInfinity;
        int argmax = 0;
        for (int i = 0; i < n; i++) if (logits[i] > max) { max = logits[i]; argmax = i; }
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
}

/// <summary>Range encoder: Encode(cumulative frequency, frequency) per symbol, then Finish().</summary>
public sealed class RangeEncoder(Stream output)
{
    ulong _low;
    uint _range = 0xFFFFFFFF;
    byte _cache;
    long _cacheSize = 1;

    public void Encode(uint cumulative, uint frequency)
    {
        uint r = _range >> ByteDistribution.TotalBits;
        _low += (ulong)r * cumulative;
        _range = r * frequency;
        while (_range < 1u << 24) { _range <<= 8; ShiftLow(); }
    }

    void ShiftLow()
    {
        if ((uint)_low < 0xFF000000u || (_low >> 32) != 0)
        {
            byte carry = (byte)(_low >> 32);
            byte temp = _cache;
            do { output.WriteByte((byte)(temp + carry)); temp = 0xFF; } while (--_cacheSize != 0);
            _cache = (byte)(_low >> 24);
        }
        _cacheSize++;
        _low = (_low & 0x00FFFFFF) << 8;
    }

    public void Finish() { for (int i = 0; i < 5; i++) ShiftLow(); }
}

/// <summary>Range decoder over a byte span; reading past its end means the payload was truncated.</summary>
public sealed class RangeDecoder
{
    readonly byte[] _data;
    int _pos;
    readonly int _end;
    uint _code, _range = 0xFFFFFFFF;

    public RangeDecoder(byte[] data, int start, int end)
    {
        _data = data; _pos = start; _end = end;
        for (int i = 0; i < 5; i++) _code = (_code << 8) | Next();
    }

    byte Next() => _pos < _end ? _data[_pos++] : throw new InvalidFileException("compressed payload is truncated (the decoder ran past its end)");

    /// <summary>Decodes one symbol with the given frequencies (Σ = 2^16) and returns it.</summary>
    public int Decode(ReadOnlySpan<uint> freq)
    {
        uint r = _range >> ByteDistribution.TotalBits;
        uint v = _code / r;
        if (v >= ByteDistribution.Total) throw new InvalidFileException("compressed payload is corrupt (code outside the frequency range)");
        uint cum = 0;
        int s = 0;
        while (cum + freq[s] <= v) cum += freq[s++];
        _code -= r * cum;
        _range = r * freq[s];
        while (_range < 1u << 24) { _code = (_code << 8) | Next(); _range <<= 8; }
        return s;
    }
}
