// Safetensors read/write (the format PyTorch and Hugging Face use): 8-byte little-endian header length N,
// N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}, then the data.
// Reading validates every rule of the format before any tensor is returned, so a bad file never half-loads.
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Engram.Tensors.IO;

public enum StDType { F32, F64, F16, BF16, I64, I32, U8 }

/// <summary>One tensor of a safetensors file: dtype, shape and its raw little-endian bytes.</summary>
public sealed class SafetensorsEntry
{
    public StDType DType { get; }
    public int[] Shape { get; }
    public byte[] Bytes { get; }

    public SafetensorsEntry(StDType dtype, int[] shape, byte[] bytes)
    {
        long n = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new InvalidFileException($"safetensors: negative dimension in shape {Tensor.ShapeString(shape)}");
            n *= d;
        }
        if (n * Safetensors.ElementSize(dtype) != bytes.Length)
            throw new InvalidFileException($"safetensors: {bytes.Length} bytes do not match {dtype} shape {Tensor.ShapeString(shape)}");
        DType = dtype; Shape = shape; Bytes = bytes;
    }

    public int Numel { get { long n = 1; foreach (var d in Shape) n *= d; return checked((int)n); } }

    /// <summary>The values as a tensor: F64 stays float64; every other dtype becomes float32.</summary>
    public Tensor ToTensor()
    {
        int n = Numel;
        var b = Bytes.AsSpan();
        switch (DType)
        {
            case StDType.F64: return Tensor.FromArray(MemoryMarshal.Cast<byte, double>(b).ToArray(), Shape);
            case StDType.F32: return Tensor.FromArray(MemoryMarshal.Cast<byte, float>(b).ToArray(), Shape);
        }
        var f = new float[n];
        for (int i = 0; i < n; i++)
            f[i] = DType switch
            {
                StDType.F16 => (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(b.Slice(2 * i))),
                StDType.BF16 => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(b.Slice(2 * i)) << 16),
                StDType.I64 => BinaryPrimitives.ReadInt64LittleEndian(b.Slice(8 * i)),
                StDType.I32 => BinaryPrimitives.ReadInt32LittleEndian(b.Slice(4 * i)),
                _ => b[i],
            };
        return Tensor.FromArray(f, Shape);
    }

    /// <summary>Integer values (I64, I32, U8) as int32; out-of-range values are an error.</summary>
    public int[] ToInt32Array()
    {
        int n = Numel; var r = new int[n]; var b = Bytes.AsSpan();
        for (int i = 0; i < n; i++)
            r[i] = DType switch
            {
                StDType.I64 => checked((int)BinaryPrimitives.ReadInt64LittleEndian(b.Slice(8 * i))),
                StDType.I32 => BinaryPrimitives.ReadInt32LittleEndian(b.Slice(4 * i)),
                StDType.U8 => b[i],
                _ => throw new InvalidFileException($"safetensors: {DType} tensor read as integers"),
            };
        return r;
    }

    public static SafetensorsEntry FromTensor(Tensor t, StDType? dtype = null)
    {
        var dt = dtype ?? (t.DType == Tensors.DType.Float64 ? StDType.F64 : StDType.F32);
        var shape = t.Shape.ToArray();
        var vals = t.ToDoubleArray();
        var bytes = new byte[vals.Length * Safetensors.ElementSize(dt)];
        var s = bytes.AsSpan();
        for (int i = 0; i < vals.Length; i++)
        {
            double v = vals[i];
            switch (dt)
            {
                case StDType.F64: BinaryPrimitives.WriteDoubleLittleEndian(s.Slice(8 * i), v); break;
                case StDType.F32: BinaryPrimitives.WriteSingleLittleEndian(s.Slice(4 * i), (float)v); break;
                case StDType.F16:
                    BinaryPrimitives.WriteUInt16LittleEndian(s.Slice(2 * i), BitConverter.HalfToUInt16Bits((Half)(float)v)); break;
                case StDType.BF16: BinaryPrimitives.WriteUInt16LittleEndian(s.Slice(2 * i), Safetensors.FloatToBf16((float)v)); break;
                case StDType.I64: BinaryPrimitives.WriteInt64LittleEndian(s.Slice(8 * i), checked((long)v)); break;
                case StDType.I32: BinaryPrimitives.WriteInt32LittleEndian(s.Slice(4 * i), checked((int)v)); break;
                case StDType.U8: s[i] = checked((byte)v); break;
            }
        }
        return new SafetensorsEntry(dt, shape, bytes);
    }

    public static SafetensorsEntry FromInts(int[] values, int[] shape, StDType dtype = StDType.I64)
    {
        var t = Tensor.FromArray(Array.ConvertAll(values, v => (double)v), shape);
        return FromTensor(t, dtype);
    }
}

/// <summary>A parsed safetensors file: tensors in file order plus the string metadata.</summary>
public sealed class SafetensorsFile
{
    public IReadOnlyDictionary<string, SafetensorsEntry> Tensors { get; }
    public IReadOnlyList<string> Names { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    internal SafetensorsFile(List<(string, SafetensorsEntry)> entries, Dictionary<string, string> metadata)
    {
        var d = new Dictionary<string, SafetensorsEntry>(StringComparer.Ordinal);
        foreach (var (n, e) in entries) d[n] = e;
        Tensors = d; Names = entries.ConvertAll(e => e.Item1); Metadata = metadata;
    }

    public SafetensorsEntry this[string name]
        => Tensors.TryGetValue(name, out var e) ? e : throw new InvalidFileException($"safetensors: no tensor named '{name}'");
}

public static class Safetensors
{
    /// <summary>Largest header accepted (the reference implementation's bound).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    public static int ElementSize(StDType d) => d switch
    {
        StDType.F64 or StDType.I64 => 8,
        StDType.F32 or StDType.I32 => 4,
        StDType.F16 or StDType.BF16 => 2,
        _ => 1,
    };

    internal static ushort FloatToBf16(float f)
    {
        uint bits = BitConverter.SingleToUInt32Bits(f);
        if (float.IsNaN(f)) return (ushort)((bits >> 16) | 0x40);
        bits += 0x7FFF + ((bits >> 16) & 1); // round to nearest even
        return (ushort)(bits >> 16);
    }

    public static SafetensorsFile Read(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidFileException($"safetensors: cannot read '{path}': {e.Message}", e);
        }
        try { return Parse(bytes); }
        catch (InvalidFileException e) { throw new InvalidFileException($"{path}: {e.Message}", e); }
    }

    public static SafetensorsFile Parse(ReadOnlySpan<byte> file)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors: big-endian hosts are not supported");
        if (file.Length < 8)
            throw new InvalidFileException($"safetensors: file is {file.Length} bytes, shorter than the 8-byte header length");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(file);
        if (n > MaxHeaderBytes)
            throw new InvalidFileException($"safetensors: header length {n} exceeds the limit of {MaxHeaderBytes} bytes");
        if ((ulong)file.Length - 8 < n)
            throw new InvalidFileException($"safetensors: header length {n} runs past the end of the {file.Length}-byte file (truncated?)");
        var header = file.Slice(8, (int)n);
        var data = file.Slice(8 + (int)n);
        if (header.Length == 0 || header[0] != (byte)'{') throw new InvalidFileException("safetensors: header does not start with '{'");
        if (!System.Text.Unicode.Utf8.IsValid(header)) throw new InvalidFileException("safetensors: header is not valid UTF-8");

        JsonDocument doc;
        try { doc = JsonDocument.Parse(header.ToArray(), new JsonDocumentOptions { MaxDepth = 8 }); }
        catch (JsonException e) { throw new InvalidFileException($"safetensors: header is not valid JSON: {e.Message}", e); }
        catch (ArgumentException e) { throw new InvalidFileException($"safetensors: header is not valid UTF-8 JSON: {e.Message}", e); }
        using (doc)
            try
            {
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                    throw new InvalidFileException("safetensors: header is not a JSON object");
                var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
                var specs = new List<(string name, StDType dt, int[] shape, long begin, long end)>();
                var names = new HashSet<string>(StringComparer.Ordinal);
                foreach (var prop in doc.RootElement.EnumerateObject())
                {
                    if (!names.Add(prop.Name))
                        throw new InvalidFileException($"safetensors: key '{prop.Name}' appears twice in the header");
                    if (prop.Name == "__metadata__")
                    {
                        if (prop.Value.ValueKind != JsonValueKind.Object)
                            throw new InvalidFileException("safetensors: __metadata__ is not an object");
                        foreach (var m in prop.Value.EnumerateObject())
                        {
                            if (m.Value.ValueKind != JsonValueKind.String)
                                throw new InvalidFileException($"safetensors: metadata value of '{m.Name}' is not a string");
                            metadata[m.Name] = m.Value.GetString()!;
                        }
                        continue;
                    }
                    specs.Add(ParseSpec(prop.Name, prop.Value));
                }
                specs.Sort((a, b) => a.begin != b.begin ? a.begin.CompareTo(b.begin) : a.end.CompareTo(b.end));
                long at = 0;
                foreach (var s in specs)
                {
                    if (s.begin != at)
                        throw new InvalidFileException($"safetensors: tensor '{s.name}' starts at byte {s.begin}, expected {at} (tensors " +
                            "must be contiguous and must not overlap)");
                    at = s.end;
                }
                if (at != data.Length)
                    throw new InvalidFileException($"safetensors: tensors cover {at} bytes but the data section holds {data.Length} " +
                        "(truncated or padded file)");

                var entries = new List<(string, SafetensorsEntry)>();
                foreach (var s in specs.OrderBy(s => s.begin))
                    entries.Add((s.name, new SafetensorsEntry(s.dt, s.shape, data.Slice((int)s.begin, (int)(s.end - s.begin)).ToArray())));
                return new SafetensorsFile(entries, metadata);
            }
            catch (InvalidOperationException e)
            {
                throw new InvalidFileException($"safetensors: header holds an invalid string: {e.Message}", e);
            }
    }

    static (string, StDType, int[], long, long) ParseSpec(string name, JsonElement v)
    {
        if (v.ValueKind != JsonValueKind.Object) throw new InvalidFileException($"safetensors: entry '{name}' is not an object");
        if (!v.TryGetProperty("dtype", out var dte) || dte.ValueKind != JsonValueKind.String)
            throw new InvalidFileException($"safetensors: entry '{name}' has no dtype string");
        var dt = dte.GetString() switch
        {
            "F32" => StDType.F32,
            "F64" => StDType.F64,
            "F16" => StDType.F16,
            "BF16" => StDType.BF16,
            "I64" => StDType.I64,
            "I32" => StDType.I32,
            "U8" => StDType.U8,
            var other => throw new InvalidFileException($"safetensors: entry '{name}' has unsupported dtype '{other}' " +
                "(supported: F32, F64, F16, BF16, I64, I32, U8)"),
        };
        if (!v.TryGetProperty("shape", out var she) || she.ValueKind != JsonValueKind.Array)
            throw new InvalidFileException($"safetensors: entry '{name}' has no shape array");
        var shape = new List<int>();
        long numel = 1;
        foreach (var d in she.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out var dim) || dim < 0 || dim > int.MaxValue)
                throw new InvalidFileException($"safetensors: entry '{name}' has an invalid dimension {d}");
            shape.Add((int)dim);
            numel = dim == 0 ? 0
                : numel > long.MaxValue / dim ? throw new InvalidFileException($"safetensors: entry '{name}' shape overflows")
                : numel * dim;
        }
        if (shape.Count > 16)
            throw new InvalidFileException($"safetensors: entry '{name}' has {shape.Count} dimensions (at most 16 supported)");
        if (!v.TryGetProperty("data_offsets", out var offs) || offs.ValueKind != JsonValueKind.Array || offs.GetArrayLength() != 2)
            throw new InvalidFileException($"safetensors: entry '{name}' needs data_offsets [begin, end]");
        if (offs[0].ValueKind != JsonValueKind.Number || offs[1].ValueKind != JsonValueKind.Number || !offs[0].TryGetInt64(out var begin)
            || !offs[1].TryGetInt64(out var end) || begin < 0 || end < begin)
            throw new InvalidFileException($"safetensors: entry '{name}' has invalid data_offsets {offs}");
        if (numel > int.MaxValue || numel * ElementSize(dt) != end - begin)
            throw new InvalidFileException($"safetensors: entry '{name}' is {dt} {Tensor.ShapeString(shape.ToArray())} ({numel} " +
                $"elements) but spans {end - begin} bytes");
        return (name, dt, shape.ToArray(), begin, end);
    }

    /// <summary>Serialises tensors (in the given order) and metadata.</summary>
    public static byte[] Serialize(IEnumerable<KeyValuePair<string, SafetensorsEntry>> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        var names = new HashSet<string>(StringComparer.Ordinal);
        using var headerStream = new MemoryStream();
        using (var w = new Utf8JsonWriter(headerStream))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long at = 0;
            foreach (var (name, e) in list)
            {
                if (name == "__metadata__" || !names.Add(name))
                    throw new EngramException($"safetensors: tensor name '{name}' is reserved or repeated");
                w.WriteStartObject(name);
                w.WriteString("dtype", e.DType.ToString());
                w.WriteStartArray("shape"); foreach (var d in e.Shape) w.WriteNumberValue(d); w.WriteEndArray();
                w.WriteStartArray("data_offsets"); w.WriteNumberValue(at); w.WriteNumberValue(at + e.Bytes.Length); w.WriteEndArray();
                w.WriteEndObject();
                at += e.Bytes.Length;
            }
            w.WriteEndObject();
        }
        var header = headerStream.ToArray();
        int padded = (header.Length + 7) / 8 * 8;
        long total = 8 + padded + list.Sum(kv => (long)kv.Value.Bytes.Length);
        var file = new byte[total];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)padded);
        header.CopyTo(file, 8);
        for (int i = 8 + header.Length; i < 8 + padded; i++) file[i] = (byte)' ';
        long p = 8 + padded;
        foreach (var (_, e) in list) { e.Bytes.CopyTo(file, p); p += e.Bytes.Length; }
        return file;
    }

    /// <summary>Writes atomically (temp file, flush, rename).</summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, SafetensorsEntry>> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
        => AtomicFile.WriteAllBytes(path, Serialize(tensors, metadata));

    /// <summary>Writes float tensors (F32, or F64 for float64 tensors) atomically.</summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
        => Write(path, tensors.Select(kv => new KeyValuePair<string, SafetensorsEntry>(kv.Key, SafetensorsEntry.FromTensor(kv.Value))),
            metadata);
}
