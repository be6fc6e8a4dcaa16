// A learner's whole state in a "brain" folder: brain.safetensors holds the slow weights ("model."), the optimizer
// moments ("optim."), the streaming states incl. fast weights ("state.") and, in its metadata, the format version,
// both configurations, stream position, code length so far, last byte, generator state and a CRC-32C of all of it.
// One file, written atomically (temp, flush, rename): a crash leaves the previous brain intact. A writer holds
// brain.lock in the folder for as long as it works on the brain, so two processes never write one brain.
using System.Globalization;
using Engram.Models;
using Engram.Tensors;
using Engram.Tensors.IO;

namespace Engram.Learning;

public static class Brain
{
    public const string FileName = "brain.safetensors";
    public const string LockName = "brain.lock";
    /// <summary>2: adds the checksum (format 1 brains still load, unchecked).</summary>
    public const int FormatVersion = 2;
    const string ChecksumKey = "engram.crc32c";

    public static bool Exists(string dir) => File.Exists(Path.Combine(dir, FileName));

    /// <summary>Takes the folder for writing: creates it, holds brain.lock until disposed (another process that tries
    /// gets an error at once), and removes temporary files a killed save left behind. Fails before any work is done
    /// when the folder cannot be a brain (a file, unwritable, or in use).</summary>
    public static IDisposable Lock(string dir)
    {
        if (File.Exists(dir)) throw new EngramException($"{dir}: is a file; a brain is a folder");
        try
        {
            Directory.CreateDirectory(dir);
            var handle = new FileStream(Path.Combine(dir, LockName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1,
                FileOptions.None);
            foreach (var stale in Directory.EnumerateFiles(dir, $".{FileName}.*.tmp")) File.Delete(stale);
            return handle;
        }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException
            && File.Exists(Path.Combine(dir, LockName)) && IsLocked(Path.Combine(dir, LockName)))
        {
            throw new EngramException($"{dir}: the brain is in use by another Engram process ({LockName} is held)");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new EngramException($"{dir}: cannot write a brain there ({e.Message})");
        }
    }

    static bool IsLocked(string path)
    {
        try { using var _ = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None); return false; }
        catch (IOException) { return true; }
    }

    /// <summary>What a brain holds, read without changing anything.</summary>
    public sealed record Info(int Format, LmConfig Model, LearnerConfig Learner, long Position, double BitsPerByte, long Parameters,
        long FileBytes, DateTime SavedUtc);

    public static Info ReadInfo(string dir)
    {
        var learner = Load(dir);
        var path = Path.Combine(dir, FileName);
        int format = int.Parse(Safetensors.Read(path).Metadata["engram.brain"], CultureInfo.InvariantCulture);
        return new Info(format, learner.ModelConfig, learner.Config, learner.Position, learner.BitsPerByte, learner.Model.ParameterCount(),
            new FileInfo(path).Length, File.GetLastWriteTimeUtc(path));
    }

    static uint Checksum(IEnumerable<KeyValuePair<string, SafetensorsEntry>> entries, IReadOnlyDictionary<string, string> meta)
    {
        uint crc = 0;
        foreach (var (name, e) in entries.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            crc = Crc32C.Compute(System.Text.Encoding.UTF8.GetBytes(name), crc);
            crc = Crc32C.Compute(e.Bytes, crc);
        }
        foreach (var (k, v) in meta.Where(kv => kv.Key != ChecksumKey).OrderBy(kv => kv.Key, StringComparer.Ordinal))
            crc = Crc32C.Compute(System.Text.Encoding.UTF8.GetBytes(k + "=" + v), crc);
        return crc;
    }

    public static void Save(OnlineLearner learner, string dir)
    {
        Directory.CreateDirectory(dir);
        var tensors = new List<KeyValuePair<string, Tensor>>();
        foreach (var (n, p) in learner.Model.NamedParameters()) tensors.Add(new("model." + n, p));
        foreach (var (n, t) in learner.Optimizer.StateTensors()) tensors.Add(new("optim." + n, t));
        foreach (var (n, t) in learner.State.Tensors()) tensors.Add(new("state." + n, t.Contiguous()));
        var meta = new Dictionary<string, string>
        {
            ["engram.brain"] = FormatVersion.ToString(CultureInfo.InvariantCulture),
            ["model"] = learner.ModelConfig.ToJson(),
            ["learner"] = learner.Config.ToJson(),
            ["position"] = learner.Position.ToString(CultureInfo.InvariantCulture),
            ["total_bits"] = BitConverter.DoubleToInt64Bits(learner.TotalBits).ToString(CultureInfo.InvariantCulture),
            ["previous_token"] = learner.PreviousToken.ToString(CultureInfo.InvariantCulture),
            ["rng"] = string.Join(",", learner.Generator.GetState().Select(w => w.ToString("x16", CultureInfo.InvariantCulture))),
        };
        foreach (var (k, v) in learner.Optimizer.Hyperparameters()) meta["optim." + k] = v;
        var entries = tensors.Select(kv => new KeyValuePair<string, SafetensorsEntry>(kv.Key, SafetensorsEntry.FromTensor(kv.Value)))
            .ToList();
        if (learner.State.Counts is { } counts)
        {
            var blob = counts.Save();
            entries.Add(new("counts", new SafetensorsEntry(StDType.U8, [blob.Length], blob)));
        }
        meta[ChecksumKey] = Checksum(entries, meta).ToString("x8", CultureInfo.InvariantCulture);
        Safetensors.Write(Path.Combine(dir, FileName), entries, meta);
    }

    /// <summary>Loads a brain; every error names the folder and what was wrong, and nothing on disk is touched.</summary>
    public static OnlineLearner Load(string dir)
    {
        var path = Path.Combine(dir, FileName);
        if (!File.Exists(path)) throw new InvalidFileException($"{dir}: no brain here (expected {FileName})");
        SafetensorsFile file;
        try { file = Safetensors.Read(path); }
        catch (InvalidFileException e) { throw new InvalidFileException($"{dir}: the brain is unreadable or corrupt ({e.Message})"); }
        var meta = file.Metadata;
        if (!meta.TryGetValue("engram.brain", out var fmt)
            || !int.TryParse(fmt, NumberStyles.Integer, CultureInfo.InvariantCulture, out int version))
            throw new InvalidFileException($"{dir}: {FileName} is not an Engram brain (no engram.brain version in its metadata)");
        if (version > FormatVersion)
            throw new InvalidFileException($"{dir}: the brain was written by a newer Engram (format {version}); " +
                $"this version reads format {FormatVersion}");
        if (version < 1) throw new InvalidFileException($"{dir}: invalid brain format version {version}");
        if (version >= 2)
        {
            if (!meta.TryGetValue(ChecksumKey, out var stored)) throw new InvalidFileException($"{dir}: the brain has no checksum");
            var entries = file.Names.Select(n => new KeyValuePair<string, SafetensorsEntry>(n, file[n]));
            if (Checksum(entries, meta).ToString("x8", CultureInfo.InvariantCulture) != stored)
                throw new InvalidFileException($"{dir}: the brain is corrupt (its checksum does not match)");
        }
        string Need(string key) => meta.TryGetValue(key, out var v) ? v
            : throw new InvalidFileException($"{dir}: brain metadata lacks '{key}'");
        try
        {
            var learner = new OnlineLearner(LmConfig.FromJson(Need("model")), LearnerConfig.FromJson(Need("learner")));
            var weights = new Dictionary<string, Tensor>();
            var optim = new Dictionary<string, Tensor>();
            var state = new Dictionary<string, Tensor>();
            ContextCounts? counts = null;
            foreach (var name in file.Names)
            {
                if (name == "counts") { counts = ContextCounts.Load(file[name].Bytes); continue; }
                var t = file[name].ToTensor();
                if (name.StartsWith("model.", StringComparison.Ordinal)) weights[name[6..]] = t;
                else if (name.StartsWith("optim.", StringComparison.Ordinal)) optim[name[6..]] = t;
                else if (name.StartsWith("state.", StringComparison.Ordinal)) state[name[6..]] = t;
                else throw new InvalidFileException($"{dir}: unexpected tensor '{name}' in the brain");
            }
            learner.Model.LoadStateDict(weights);
            learner.Optimizer.LoadState(optim, meta.Where(kv => kv.Key.StartsWith("optim.", StringComparison.Ordinal))
                .ToDictionary(kv => kv.Key[6..], kv => kv.Value));
            var s = learner.Model.InitialState();
            s.Load(state, "");
            if ((s.Counts is null) != (counts is null))
                throw new InvalidFileException($"{dir}: the brain's context counts do not match its model configuration");
            if (counts is not null)
            {
                if (!counts.Orders.SequenceEqual(s.Counts!.Orders))
                    throw new InvalidFileException($"{dir}: the brain's context-count orders do not match its model configuration");
                s.Counts = counts;
            }
            learner.ReplaceState(s);
            learner.Position = long.Parse(Need("position"), CultureInfo.InvariantCulture);
            learner.TotalBits = BitConverter.Int64BitsToDouble(long.Parse(Need("total_bits"), CultureInfo.InvariantCulture));
            learner.PreviousToken = int.Parse(Need("previous_token"), CultureInfo.InvariantCulture);
            learner.Generator.SetState(Need("rng").Split(',')
                .Select(w => ulong.Parse(w, NumberStyles.HexNumber, CultureInfo.InvariantCulture)).ToArray());
            return learner;
        }
        catch (Exception e) when (e is FormatException or OverflowException or System.Text.Json.JsonException
            or EngramException and not InvalidFileException)
        {
            throw new InvalidFileException($"{dir}: the brain is corrupt ({e.Message})");
        }
    }
}
