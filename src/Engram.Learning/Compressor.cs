// `engram compress` / `engram decompress`: the online learner drives a range coder, so the compressed size is the
// learner's prequential code length (plus a few bytes), and decompression must replay the identical learning
// trajectory. Both are Stream → Stream: compression is OnlineLearner.Learn(Stream) with an observer that codes each
// chunk's predictions; decompression decodes a chunk byte by byte, then learns it as the encoder did, and writes it out.
// Format 5 (little-endian; docs/formats.md; 3 was 2 with the match model and gradual eviction in the learner; 4 codes
// with the predictions of the model's single-token stepper where it has one; 5: the presets' match model lets a restated
// line win — LmConfig.MatchRule 2 — and format 4 files still decode, with rule 1):
//   "ENGRAMZ\0" magic · u16 format version · u8 configuration kind (0: a preset's name, meaning that preset with its
//   default learner; 1: JSON {"model":…, "learner":…}) · u16 configuration length · configuration · u64 original length ·
//   u32 CRC-32C of every header byte before it · range-coded payload · u32 CRC-32C of the original.
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
    public const ushort FormatVersion = 5;
    /// <summary>Format 4 files still decode: their presets meant match rule 1 (LmConfig.MatchRule), which is kept.</summary>
    public const ushort OldestReadable = 4;
    /// <summary>The most bytes one payload byte can stand for: every byte costs at least −log2((2^16 − 255) / 2^16) ≈
    /// 0.0056 bits, so P payload bytes decode to at most ≈ 1,421·P bytes. A header declaring more is refused at once.</summary>
    public const long MaxExpansion = 1_430;
    const int MaxConfigBytes = 1 << 15;

    /// <summary>Compresses `length` bytes of `input` with a fresh learner into `output`. Progress as in Learn(Stream).</summary>
    public static CompressionResult Compress(Stream input, long length, Stream output, LmConfig model, LearnerConfig learner,
        IProgress<LearnProgress>? progress = null)
    {
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length));
        var sw = Stopwatch.StartNew();
        var counted = new CountingStream(output);
        WriteHeader(counted, model, learner, length);
        var l = new OnlineLearner(model, learner);
        var encoder = new RangeEncoder(counted);
        uint crc = 0;
        var summary = l.Learn(input, new LearnOptions
        {
            ExpectedBytes = length,
            MaxBytes = length,
            Observe = p =>
            {
                for (int i = 0; i < p.Length; i++)
                {
                    var cumulative = p.Cumulative(i);
                    byte b = p.Bytes[i];
                    encoder.Encode(cumulative[b], cumulative[b + 1] - cumulative[b]);
                }
                crc = Crc32C.Compute(p.Bytes, crc);
            },
        }, progress);
        if (summary.Bytes != length) throw new EngramException($"the input ended after {summary.Bytes} of the {length} bytes expected");
        encoder.Finish();
        Span<byte> buf = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(buf, crc);
        counted.Write(buf);
        return new CompressionResult(length, counted.Count, l.BitsPerByte, sw.Elapsed.TotalSeconds);
    }

    /// <summary>Compresses a byte array (the same format).</summary>
    public static byte[] Compress(ReadOnlySpan<byte> data, LmConfig model, LearnerConfig learner) => Compress(data, model, learner, out _);

    public static byte[] Compress(ReadOnlySpan<byte> data, LmConfig model, LearnerConfig learner, out CompressionResult result)
    {
        var ms = new MemoryStream();
        result = Compress(new MemoryStream(data.ToArray(), writable: false), data.Length, ms, model, learner);
        return ms.ToArray();
    }

    static void WriteHeader(Stream output, LmConfig model, LearnerConfig learner, long length)
    {
        var header = new MemoryStream();
        header.Write(Magic);
        Span<byte> buf = stackalloc byte[8];
        BinaryPrimitives.WriteUInt16LittleEndian(buf, FormatVersion); header.Write(buf[..2]);
        // a preset with its default learner is stored by name: a small file stays small
        bool byName = Presets.All.TryGetValue(model.Preset, out var preset) && preset.ToJson() == model.ToJson()
            && LearnerConfig.ForPreset(model.Preset).ToJson() == learner.ToJson();
        var config = byName ? Encoding.UTF8.GetBytes(model.Preset)
            : Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new
            {
                model = JsonDocument.Parse(model.ToJson()).RootElement,
                learner = JsonDocument.Parse(learner.ToJson()).RootElement,
            }));
        if (config.Length > MaxConfigBytes) throw new EngramException($"configuration too large to store ({config.Length} bytes)");
        header.WriteByte(byName ? (byte)0 : (byte)1);
        BinaryPrimitives.WriteUInt16LittleEndian(buf, (ushort)config.Length); header.Write(buf[..2]);
        header.Write(config);
        BinaryPrimitives.WriteUInt64LittleEndian(buf, (ulong)length); header.Write(buf);
        BinaryPrimitives.WriteUInt32LittleEndian(buf, Crc32C.Compute(header.GetBuffer().AsSpan(0, (int)header.Length)));
        header.Write(buf[..4]);
        output.Write(header.GetBuffer().AsSpan(0, (int)header.Length));
    }

    static string NotCompressed(string name) =>
        $"{name}: not an Engram compressed file (wrong magic; expected it to start with \"ENGRAMZ\")";

    public sealed record Header(LmConfig Model, LearnerConfig Learner, long Length, int Size);

    /// <summary>Reads and validates the header from the start of `input`; `name` names the input in errors.
    /// `fileLength`, when known, bounds the original length the header may declare (see MaxExpansion).</summary>
    public static Header ReadHeader(Stream input, string name, long? fileLength = null)
    {
        var raw = new MemoryStream();
        byte[] Read(int n, string what)
        {
            var b = new byte[n];
            int got = input.ReadAtLeast(b, n, throwOnEndOfStream: false);
            if (got < n)
                throw new InvalidFileException(raw.Length == 0 ? NotCompressed(name) : $"{name}: truncated header ({what} missing)");
            raw.Write(b);
            return b;
        }
        if (!Read(Magic.Length, "magic").AsSpan().SequenceEqual(Magic)) throw new InvalidFileException(NotCompressed(name));
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(Read(2, "version"));
        if (version > FormatVersion)
            throw new InvalidFileException($"{name}: compressed with format version {version} by a newer Engram; " +
                $"this one reads version {FormatVersion}");
        if (version < OldestReadable)
            throw new InvalidFileException($"{name}: compressed with format version {version} by an older Engram, " +
                $"whose learner computed differently; decompress it with that version " +
                $"(this one reads versions {OldestReadable}–{FormatVersion})");
        byte kind = Read(1, "configuration kind")[0];
        ushort configLength = BinaryPrimitives.ReadUInt16LittleEndian(Read(2, "configuration length"));
        var config = Read(configLength, "configuration");
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(Read(8, "length"));
        uint headerCrc = BinaryPrimitives.ReadUInt32LittleEndian(Read(4, "checksum"));
        if (Crc32C.Compute(raw.GetBuffer().AsSpan(0, (int)raw.Length - 4)) != headerCrc)
            throw new InvalidFileException($"{name}: header is corrupt (its checksum does not match)");
        if (fileLength is long total && (double)length > (double)Math.Max(0, total - raw.Length) * MaxExpansion + 64)
            throw new InvalidFileException($"{name}: the header declares {length:N0} bytes, " +
                $"more than a payload of {total - raw.Length:N0} bytes can hold");
        if (length > long.MaxValue / 2) throw new InvalidFileException($"{name}: the header declares an impossible length ({length})");
        try
        {
            LmConfig model;
            LearnerConfig learner;
            if (kind == 0)
            {
                var preset = Encoding.UTF8.GetString(config);
                model = Presets.Get(preset);
                if (version < 5) model = model with { MatchRule = null };
                learner = LearnerConfig.ForPreset(preset);
            }
            else if (kind == 1)
            {
                using var doc = JsonDocument.Parse(config);
                model = LmConfig.FromJson(doc.RootElement.GetProperty("model").GetRawText());
                learner = LearnerConfig.FromJson(doc.RootElement.GetProperty("learner").GetRawText());
            }
            else throw new EngramException($"unknown configuration kind {kind}");
            model.Validate();
            learner.Validate();
            return new Header(model, learner, (long)length, (int)raw.Length);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or EngramException)
        {
            throw new InvalidFileException($"{name}: invalid configuration in header ({e.Message})");
        }
    }

    /// <summary>Decompresses `input` into `output` chunk by chunk; throws InvalidFileException naming `name` on any
    /// corruption, including a checksum mismatch found at the end (the bytes written before it are then wrong: write to a
    /// temporary place and keep it only on success). Refuses an original larger than maxBytes before decoding.</summary>
    public static CompressionResult Decompress(Stream input, Stream output, string name = "input", long maxBytes = long.MaxValue,
        IProgress<LearnProgress>? progress = null)
    {
        long? fileLength = input.CanSeek ? input.Length - input.Position : null;
        input = new CountingStream(input);
        var h = ReadHeader(input, name, fileLength);
        if (h.Length > maxBytes)
            throw new InvalidFileException($"{name}: decompresses to {h.Length:N0} bytes, over the limit of {maxBytes:N0}");
        var learner = new OnlineLearner(h.Model, h.Learner);
        var sw = Stopwatch.StartNew();
        uint crc = 0;
        var chunk = new byte[h.Learner.Chunk];
        double lastReport = 0;
        try
        {
            var decoder = new RangeDecoder(input);
            for (long start = 0; start < h.Length; start += chunk.Length)
            {
                int n = (int)Math.Min(chunk.Length, h.Length - start);
                using (var next = learner.BeginByteByByte())
                {
                    for (int i = 0; i < n; i++)
                    {
                        chunk[i] = (byte)decoder.Decode(next.NextCumulative());
                        next.Accept(chunk[i]);
                    }
                    next.Learn();
                }
                output.Write(chunk, 0, n);
                crc = Crc32C.Compute(chunk.AsSpan(0, n), crc);
                if (progress is not null && (sw.Elapsed.TotalSeconds - lastReport >= 1 || start + n == h.Length))
                {
                    lastReport = sw.Elapsed.TotalSeconds;
                    progress.Report(new LearnProgress(start + n, learner.TotalBits, lastReport, h.Length, learner.Position,
                        start + n == h.Length));
                }
            }
        }
        catch (InvalidFileException e) { throw new InvalidFileException($"{name}: {e.Message}"); }
        Span<byte> trailer = stackalloc byte[4];
        if (input.ReadAtLeast(trailer, 4, throwOnEndOfStream: false) < 4)
            throw new InvalidFileException($"{name}: truncated (the checksum after the payload is missing)");
        if (input.ReadByte() >= 0) throw new InvalidFileException($"{name}: unexpected bytes after the end of the compressed stream");
        if (BinaryPrimitives.ReadUInt32LittleEndian(trailer) != crc)
            throw new InvalidFileException($"{name}: checksum mismatch — the decompressed bytes differ from the original " +
                "(corrupt file, or a model that computed differently here)");
        return new CompressionResult(h.Length, ((CountingStream)input).Count, learner.BitsPerByte, sw.Elapsed.TotalSeconds);
    }

    /// <summary>Decompresses a whole file held in memory.</summary>
    public static byte[] Decompress(byte[] file, string name = "input")
    {
        var output = new MemoryStream();
        Decompress(new MemoryStream(file, writable: false), output, name);
        return output.ToArray();
    }

    /// <summary>Counts the bytes written to, or read from, a stream.</summary>
    sealed class CountingStream(Stream inner) : Stream
    {
        public long Count { get; private set; }
        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = inner.Read(buffer, offset, count);
            Count += n;
            return n;
        }
        public override int Read(Span<byte> buffer)
        {
            int n = inner.Read(buffer);
            Count += n;
            return n;
        }
        public override int ReadByte()
        {
            int b = inner.ReadByte();
            if (b >= 0) Count++;
            return b;
        }
        public override void Write(byte[] buffer, int offset, int count) { inner.Write(buffer, offset, count); Count += count; }
        public override void Write(ReadOnlySpan<byte> buffer) { inner.Write(buffer); Count += buffer.Length; }
        public override void WriteByte(byte value) { inner.WriteByte(value); Count++; }
        public override void Flush() => inner.Flush();
        public override bool CanRead => inner.CanRead;
        public override bool CanSeek => false;
        public override bool CanWrite => inner.CanWrite;
        public override long Length => Count;
        public override long Position { get => Count; set => throw new NotSupportedException(); }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
