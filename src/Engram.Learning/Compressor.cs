// `engram compress` / `engram decompress`: the online learner drives a range coder, so the compressed size is the
// learner's prequential code length (plus a few bytes), and decompression must replay the identical learning
// trajectory. Format (little-endian):
//   "ENGRAMZ\0" magic · u16 format version · u32 JSON length · JSON {"model":…, "learner":…} · u64 original length ·
//   u32 CRC-32C of the original · u32 CRC-32C of every header byte before it · range-coded payload.
using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Engram.Models;
using Engram.Tensors;
using Engram.Tensors.IO;

namespace Engram.Learning;

public sealed record CompressionResult(long Bytes, long CompressedBytes, double ModelBitsPerByte, double Seconds)
{
    public double BitsPerByte => Bytes == 0 ? 0 : CompressedBytes * 8.0 / Bytes;
    public double BytesPerSecond => Seconds > 0 ? Bytes / Seconds : 0;
}

public static class Compressor
{
    public static ReadOnlySpan<byte> Magic => "ENGRAMZ\0"u8;
    public const ushort FormatVersion = 1;

    /// <summary>Compresses `data` with a fresh learner of the given configuration; progress(bytesDone) is called
    /// after each chunk.</summary>
    public static byte[] Compress(ReadOnlySpan<byte> data, LmConfig model, LearnerConfig learner, Action<long, double>? progress = null)
        => Compress(data, model, learner, out _, progress);

    public static byte[] Compress(ReadOnlySpan<byte> data, LmConfig model, LearnerConfig learner, out CompressionResult result, Action<long, double>? progress = null)
    {
        var sw = Stopwatch.StartNew();
        var ms = new MemoryStream();
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { model = JsonDocument.Parse(model.ToJson()).RootElement, learner = JsonDocument.Parse(learner.ToJson()).RootElement }));
        ms.Write(Magic);
        Span<byte> buf = stackalloc byte[8];
        BinaryPrimitives.WriteUInt16LittleEndian(buf, FormatVersion); ms.Write(buf[..2]);
        BinaryPrimitives.WriteUInt32LittleEndian(buf, (uint)json.Length); ms.Write(buf[..4]);
        ms.Write(json);
        BinaryPrimitives.WriteUInt64LittleEndian(buf, (ulong)data.Length); ms.Write(buf);
        BinaryPrimitives.WriteUInt32LittleEndian(buf, Crc32C.Compute(data)); ms.Write(buf[..4]);
        BinaryPrimitives.WriteUInt32LittleEndian(buf, Crc32C.Compute(ms.GetBuffer().AsSpan(0, (int)ms.Length))); ms.Write(buf[..4]);

        var learnerState = new OnlineLearner(model, learner);
        var encoder = new RangeEncoder(ms);
        for (int start = 0; start < data.Length; start += learner.Chunk)
        {
            var chunk = data.Slice(start, Math.Min(learner.Chunk, data.Length - start));
            var bytes = chunk.ToArray();
            learnerState.LearnChunk(chunk, (i, freq) =>
            {
                uint cum = 0;
                for (int s = 0; s < bytes[i]; s++) cum += freq[s];
                encoder.Encode(cum, freq[bytes[i]]);
            });
            progress?.Invoke(learnerState.Position, learnerState.BitsPerByte);
        }
        encoder.Finish();
        result = new CompressionResult(data.Length, ms.Length, learnerState.BitsPerByte, sw.Elapsed.TotalSeconds);
        return ms.ToArray();
    }

    public sealed record Header(LmConfig Model, LearnerConfig Learner, long Length, uint Checksum, int PayloadStart);

    /// <summary>Reads and validates the header; `name` names the input in errors.</summary>
    public static Header ReadHeader(byte[] file, string name)
    {
        if (file.Length < Magic.Length || !file.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new InvalidFileException($"{name}: not an Engram compressed file (wrong magic; expected it to start with \"ENGRAMZ\")");
        int p = Magic.Length;
        if (file.Length < p + 6) throw new InvalidFileException($"{name}: truncated header");
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(p)); p += 2;
        if (version != FormatVersion) throw new InvalidFileException($"{name}: compressed with format version {version}; this Engram reads version {FormatVersion}");
        uint jsonLength = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(p)); p += 4;
        if (jsonLength > file.Length - p - 16) throw new InvalidFileException($"{name}: truncated header (configuration of {jsonLength} bytes does not fit)");
        var json = file.AsSpan(p, (int)jsonLength); p += (int)jsonLength;
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(p)); p += 8;
        uint checksum = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(p)); p += 4;
        uint headerCrc = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(p));
        if (Crc32C.Compute(file.AsSpan(0, p)) != headerCrc) throw new InvalidFileException($"{name}: header is corrupt (its checksum does not match)");
        p += 4;
        if (length > int.MaxValue) throw new InvalidFileException($"{name}: original length {length} is larger than this version can decompress");
        try
        {
            using var doc = JsonDocument.Parse(json.ToArray());
            var model = LmConfig.FromJson(doc.RootElement.GetProperty("model").GetRawText());
            var learner = LearnerConfig.FromJson(doc.RootElement.GetProperty("learner").GetRawText());
            learner.Validate();
            return new Header(model, learner, (long)length, checksum, p);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or EngramException)
        {
            throw new InvalidFileException($"{name}: invalid configuration in header ({e.Message})");
        }
    }

    /// <summary>Decompresses a whole file; throws InvalidFileException (naming `name`) on any corruption, including a
    /// checksum mismatch of the result.</summary>
    public static byte[] Decompress(byte[] file, string name = "input", Action<long, long>? progress = null)
    {
        var h = ReadHeader(file, name);
        var output = new byte[h.Length];
        var learner = new OnlineLearner(h.Model, h.Learner);
        try
        {
            var decoder = new RangeDecoder(file, h.PayloadStart, file.Length);
            for (long start = 0; start < h.Length; start += h.Learner.Chunk)
            {
                int n = (int)Math.Min(h.Learner.Chunk, h.Length - start);
                var chunk = learner.DecodeChunk(n, freq => (byte)decoder.Decode(freq));
                chunk.CopyTo(output, start);
                progress?.Invoke(start + n, h.Length);
            }
        }
        catch (InvalidFileException e) { throw new InvalidFileException($"{name}: {e.Message}"); }
        if (Crc32C.Compute(output) != h.Checksum)
            throw new InvalidFileException($"{name}: checksum mismatch — the decompressed bytes differ from the original (corrupt file, or a model that computed differently here)");
        return output;
    }
}
