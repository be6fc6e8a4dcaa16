// Multi-symbol range coder (carry-propagating, 32-bit range, byte output) over frequencies that total 2^16
// (ByteDistribution makes them from a model's logits). The decoder finds a symbol by binary search of the cumulative
// frequencies.
using Engram.Tensors;

namespace Engram.Learning;

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

/// <summary>Range decoder over a stream (read as the decoder needs it); reading past its end means the payload was
/// truncated.</summary>
public sealed class RangeDecoder
{
    readonly Stream _input;
    uint _code, _range = 0xFFFFFFFF;

    public RangeDecoder(Stream input)
    {
        _input = input;
        for (int i = 0; i < 5; i++) _code = (_code << 8) | Next();
    }

    uint Next()
    {
        int b = _input.ReadByte();
        return b >= 0 ? (uint)b : throw new InvalidFileException("compressed payload is truncated (the decoder ran past its end)");
    }

    /// <summary>Decodes one symbol given cumulative frequencies (n + 1 entries from 0 to 2^16, as
    /// ByteDistribution.Cumulate makes them) and returns it.</summary>
    public int Decode(ReadOnlySpan<uint> cumulative)
    {
        uint r = _range >> ByteDistribution.TotalBits;
        uint v = _code / r;
        if (v >= ByteDistribution.Total) throw new InvalidFileException("compressed payload is corrupt (code outside the frequency range)");
        // the symbol s with cumulative[s] <= v < cumulative[s + 1] (every frequency is at least 1, so it is unique)
        int lo = 0, hi = cumulative.Length - 2;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) >> 1;
            if (cumulative[mid] <= v) lo = mid; else hi = mid - 1;
        }
        _code -= r * cumulative[lo];
        _range = r * (cumulative[lo + 1] - cumulative[lo]);
        while (_range < 1u << 24) { _code = (_code << 8) | Next(); _range <<= 8; }
        return lo;
    }
}
