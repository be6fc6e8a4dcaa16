// A seeded random generator that gives the same numbers on every platform: xoshiro256** for bits,
// SplitMix64 for seeding, and normals from the polar method with a logarithm built only from
// IEEE-exact operations (no libm), so no platform difference can change a sample.
namespace Engram.Tensors;

public sealed class Generator
{
    ulong _s0, _s1, _s2, _s3;
    bool _hasSpare;
    double _spare;

    public Generator(ulong seed) => Reseed(seed);

    public void Reseed(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix(ref x); _s1 = SplitMix(ref x); _s2 = SplitMix(ref x); _s3 = SplitMix(ref x);
        _hasSpare = false; _spare = 0;
    }

    static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0; _s3 ^= _s1; _s1 ^= _s2; _s0 ^= _s3; _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [0, 1) with 24 random bits (exactly representable in float32).</summary>
    public float NextFloat() => (NextUInt64() >> 40) * (1.0f / (1 << 24));

    /// <summary>Uniform integer in [0, n) without modulo bias.</summary>
    public int NextInt(int n)
    {
        if (n <= 0) throw new EngramException($"Generator.NextInt: bound must be positive, got {n}");
        ulong bound = (ulong)n, limit = ulong.MaxValue - ulong.MaxValue % bound;
        ulong r;
        do r = NextUInt64(); while (r >= limit);
        return (int)(r % bound);
    }

    /// <summary>Shuffles in place (Fisher–Yates from the end: element k swaps with NextInt(k + 1)).</summary>
    public void Shuffle<T>(Span<T> items)
    {
        for (int k = items.Length - 1; k > 0; k--) { int j = NextInt(k + 1); (items[k], items[j]) = (items[j], items[k]); }
    }

    /// <summary>Standard normal sample (Marsaglia polar method).</summary>
    public double NextNormal()
    {
        if (_hasSpare) { _hasSpare = false; return _spare; }
        double u, v, s;
        do
        {
            u = 2 * NextDouble() - 1;
            v = 2 * NextDouble() - 1;
            s = u * u + v * v;
        } while (s >= 1 || s == 0);
        double f = Math.Sqrt(-2 * PortableMath.Log(s) / s);
        _spare = v * f; _hasSpare = true;
        return u * f;
    }

    /// <summary>Standard normal truncated to [lo, hi] by rejection.</summary>
    public double NextTruncatedNormal(double lo = -2, double hi = 2)
    {
        while (true) { double x = NextNormal(); if (x >= lo && x <= hi) return x; }
    }

    /// <summary>The full state (for checkpoints): 4 state words, spare flag, spare value bits.</summary>
    public ulong[] GetState() => [_s0, _s1, _s2, _s3, _hasSpare ? 1UL : 0UL, (ulong)BitConverter.DoubleToInt64Bits(_spare)];

    public void SetState(ReadOnlySpan<ulong> state)
    {
        if (state.Length != 6) throw new InvalidFileException($"generator state: expected 6 words, got {state.Length}");
        if ((state[0] | state[1] | state[2] | state[3]) == 0)
            throw new InvalidFileException("generator state: all-zero xoshiro state is invalid");
        _s0 = state[0]; _s1 = state[1]; _s2 = state[2]; _s3 = state[3];
        _hasSpare = state[4] != 0; _spare = BitConverter.Int64BitsToDouble((long)state[5]);
    }
}
