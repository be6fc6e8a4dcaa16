// CRC-32C (Castagnoli), the checksum of Engram's binary files (compressed streams, brains, data sets): computed by the
// processor's own CRC32 instruction (SSE4.2 on x64, CRC32 on ARM64) through the runtime's intrinsics; the bitwise
// table version is the reference, used where neither exists.
using System.Buffers.Binary;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Engram.Tensors.IO;

/// <summary>CRC-32C (Castagnoli, reflected polynomial 0x82F63B78). Compute(data, crc) continues a running checksum.</summary>
public static class Crc32C
{
    static readonly uint[] Table = Build();

    static uint[] Build()
    {
        var t = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0x82F63B78u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }

    public static uint Compute(ReadOnlySpan<byte> data, uint crc = 0)
    {
        uint c = ~crc;
        if (Sse42.X64.IsSupported)
        {
            ulong w = c;
            while (data.Length >= 8) { w = Sse42.X64.Crc32(w, BinaryPrimitives.ReadUInt64LittleEndian(data)); data = data[8..]; }
            c = (uint)w;
            foreach (var b in data) c = Sse42.Crc32(c, b);
            return ~c;
        }
        if (Crc32.Arm64.IsSupported)
        {
            while (data.Length >= 8) { c = Crc32.Arm64.ComputeCrc32C(c, BinaryPrimitives.ReadUInt64LittleEndian(data)); data = data[8..]; }
            foreach (var b in data) c = Crc32.ComputeCrc32C(c, b);
            return ~c;
        }
        return ~Table1(data, c);
    }

    /// <summary>The byte-at-a-time table version (the reference the hardware paths are tested against).</summary>
    public static uint ComputeReference(ReadOnlySpan<byte> data, uint crc = 0) => ~Table1(data, ~crc);

    static uint Table1(ReadOnlySpan<byte> data, uint c)
    {
        foreach (var b in data) c = Table[(c ^ b) & 0xFF] ^ (c >> 8);
        return c;
    }
}
