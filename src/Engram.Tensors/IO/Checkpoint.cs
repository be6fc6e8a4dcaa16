// The one checkpoint format, for brains and training runs alike: a safetensors file in sections — "model.*" weights,
// "optim.*" optimizer state, "state.*" carried state (a stream's fast weights and caches, a trainer's slots), "blob.*"
// opaque byte arrays (context-count tables) — and metadata: the format version, the kind of checkpoint, the step, the
// generator state, the optimizer's hyperparameters ("optim.*"), the caller's own values ("user.*") and a CRC-32C of all
// of it. Written atomically, so a crash mid-write leaves the previous checkpoint intact; a flipped bit is refused.
using System.Globalization;
using System.Text;
using Engram.Tensors.Optim;

namespace Engram.Tensors.IO;

public sealed class Checkpoint
{
    /// <summary>2: sections for state and blobs, the kind, the checksum. Format 1 files (weights, optimizer, step,
    /// generator) still load.</summary>
    public const string FormatVersion = "2";
    const string ChecksumKey = "engram.crc32c";

    /// <summary>What the checkpoint holds, e.g. "brain" or "training"; loaders check it.</summary>
    public string Kind { get; init; } = "training";
    public required Dictionary<string, Tensor> Weights { get; init; }
    public Dictionary<string, Tensor> OptimizerState { get; init; } = new();
    public Dictionary<string, string> OptimizerHyperparameters { get; init; } = new();
    public Dictionary<string, Tensor> State { get; init; } = new();
    public Dictionary<string, byte[]> Blobs { get; init; } = new();
    public long Step { get; init; }
    public ulong[]? GeneratorState { get; init; }
    /// <summary>Caller's own string values (stored under "user.").</summary>
    public Dictionary<string, string> Extra { get; init; } = new();
    /// <summary>The format version the file was written in (for a loaded checkpoint).</summary>
    public string Format { get; init; } = FormatVersion;

    public static void Save(string path, IReadOnlyDictionary<string, Tensor> weights, Optimizer? optimizer = null, long step = 0,
        Generator? generator = null, IReadOnlyDictionary<string, string>? extra = null) => new Checkpoint
        {
            Weights = new(weights),
            OptimizerState = optimizer?.StateTensors().ToDictionary(kv => kv.Key, kv => kv.Value) ?? new(),
            OptimizerHyperparameters = optimizer?.Hyperparameters().ToDictionary(kv => kv.Key, kv => kv.Value) ?? new(),
            Step = step,
            GeneratorState = generator?.GetState(),
            Extra = extra is null ? new() : new(extra),
        }.Save(path);

    /// <summary>Writes every section atomically.</summary>
    public void Save(string path)
    {
        var (entries, meta) = Serialize();
        meta[ChecksumKey] = Checksum(entries, meta);
        Safetensors.Write(path, entries, meta);
    }

    /// <summary>SHA-256 (hexadecimal) of everything the checkpoint holds — every tensor's name and bytes in name order, then
    /// every metadata entry — so two checkpoints hash alike exactly when they would load into identical objects.</summary>
    public string ContentHash()
    {
        var (entries, meta) = Serialize();
        using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        var length = new byte[8];
        void Add(ReadOnlySpan<byte> bytes)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(length, bytes.Length);
            sha.AppendData(length);
            sha.AppendData(bytes);
        }
        foreach (var (name, e) in entries.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            Add(Encoding.UTF8.GetBytes(name + ":" + e.DType + ":" + string.Join(",", e.Shape)));
            Add(e.Bytes);
        }
        foreach (var (k, v) in meta.OrderBy(kv => kv.Key, StringComparer.Ordinal)) Add(Encoding.UTF8.GetBytes(k + "=" + v));
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    (List<KeyValuePair<string, SafetensorsEntry>> Entries, Dictionary<string, string> Meta) Serialize()
    {
        var entries = new List<KeyValuePair<string, SafetensorsEntry>>();
        void Add(string prefix, Dictionary<string, Tensor> section)
        {
            foreach (var (k, v) in section) entries.Add(new(prefix + k, SafetensorsEntry.FromTensor(v.Contiguous())));
        }
        Add("model.", Weights);
        Add("optim.", OptimizerState);
        Add("state.", State);
        foreach (var (k, v) in Blobs) entries.Add(new("blob." + k, new SafetensorsEntry(StDType.U8, [v.Length], v)));
        var meta = new Dictionary<string, string>
        {
            ["engram.format"] = FormatVersion,
            ["engram.kind"] = Kind,
            ["step"] = Step.ToString(CultureInfo.InvariantCulture),
        };
        foreach (var (k, v) in OptimizerHyperparameters) meta["optim." + k] = v;
        if (GeneratorState is not null)
            meta["rng"] = string.Join(",", GeneratorState.Select(w => w.ToString("x16", CultureInfo.InvariantCulture)));
        foreach (var (k, v) in Extra) meta["user." + k] = v;
        return (entries, meta);
    }

    /// <summary>CRC-32C over every tensor's name and bytes (in name order) and every other metadata entry.</summary>
    static string Checksum(IEnumerable<KeyValuePair<string, SafetensorsEntry>> entries, IReadOnlyDictionary<string, string> meta)
    {
        uint crc = 0;
        foreach (var (name, e) in entries.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            crc = Crc32C.Compute(Encoding.UTF8.GetBytes(name), crc);
            crc = Crc32C.Compute(e.Bytes, crc);
        }
        foreach (var (k, v) in meta.Where(kv => kv.Key != ChecksumKey).OrderBy(kv => kv.Key, StringComparer.Ordinal))
            crc = Crc32C.Compute(Encoding.UTF8.GetBytes(k + "=" + v), crc);
        return crc.ToString("x8", CultureInfo.InvariantCulture);
    }

    /// <summary>Whether a file is a checkpoint (of either format), judged by its metadata alone.</summary>
    public static bool IsCheckpoint(SafetensorsFile file) => file.Metadata.ContainsKey("engram.format");

    public static Checkpoint Load(string path) => Load(Safetensors.Read(path), path);

    public static Checkpoint Load(SafetensorsFile file, string path)
    {
        var meta = file.Metadata;
        if (!meta.TryGetValue("engram.format", out var fmt))
            throw new InvalidFileException($"{path}: not an Engram checkpoint (no engram.format in metadata)");
        if (fmt != FormatVersion && fmt != "1")
            throw new InvalidFileException(int.TryParse(fmt, CultureInfo.InvariantCulture, out int v) && v > 2
                ? $"{path}: written by a newer Engram (checkpoint format {fmt}); this version reads formats 1 and {FormatVersion}"
                : $"{path}: checkpoint format '{fmt}' is not one this version reads (1 or {FormatVersion})");
        if (fmt != "1")
        {
            if (!meta.TryGetValue(ChecksumKey, out var stored)) throw new InvalidFileException($"{path}: the checkpoint has no checksum");
            if (Checksum(file.Names.Select(n => new KeyValuePair<string, SafetensorsEntry>(n, file[n])), meta) != stored)
                throw new InvalidFileException($"{path}: the checkpoint is corrupt (its checksum does not match)");
        }
        if (!meta.TryGetValue("step", out var s) || !long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var step))
            throw new InvalidFileException($"{path}: checkpoint has no valid step");
        ulong[]? rng = meta.TryGetValue("rng", out var r) ? ParseGeneratorState(r, path) : null;
        var ck = new Checkpoint
        {
            Weights = new(), Step = step, GeneratorState = rng, Format = fmt,
            Kind = meta.TryGetValue("engram.kind", out var kind) ? kind : "training",
        };
        foreach (var name in file.Names)
        {
            if (name.StartsWith("model.", StringComparison.Ordinal)) ck.Weights[name[6..]] = file[name].ToTensor();
            else if (name.StartsWith("optim.", StringComparison.Ordinal)) ck.OptimizerState[name[6..]] = file[name].ToTensor();
            else if (name.StartsWith("state.", StringComparison.Ordinal)) ck.State[name[6..]] = file[name].ToTensor();
            else if (name.StartsWith("blob.", StringComparison.Ordinal)) ck.Blobs[name[5..]] = file[name].Bytes;
            else throw new InvalidFileException($"{path}: unexpected tensor '{name}' in checkpoint");
        }
        foreach (var (k, v) in meta)
        {
            if (k.StartsWith("optim.", StringComparison.Ordinal)) ck.OptimizerHyperparameters[k[6..]] = v;
            else if (k.StartsWith("user.", StringComparison.Ordinal)) ck.Extra[k[5..]] = v;
        }
        return ck;
    }

    /// <summary>The generator state as stored in metadata: comma-separated hexadecimal words.</summary>
    public static ulong[] ParseGeneratorState(string text, string path) =>
        text.Split(',').Select(w => ulong.TryParse(w, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var x) ? x
            : throw new InvalidFileException($"{path}: invalid generator state")).ToArray();

    /// <summary>Restores optimizer state (validated first; the optimizer is unchanged on error).</summary>
    public void RestoreOptimizer(Optimizer optimizer) => optimizer.LoadState(OptimizerState, OptimizerHyperparameters);

    public void RestoreGenerator(Generator generator)
    {
        if (GeneratorState is null) throw new InvalidFileException("checkpoint holds no generator state");
        generator.SetState(GeneratorState);
    }
}
