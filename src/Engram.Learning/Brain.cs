// A learner's whole state in a "brain" folder: brain.safetensors is a checkpoint (Engram.Tensors.IO.Checkpoint, the one
// format of brains and training runs) of kind "brain": slow weights, optimizer moments, the streaming states incl. fast
// weights, the count tables as a blob, the generator, and as the caller's values both configurations, stream position,
// code length so far and last byte; checksummed, written atomically (a crash leaves the previous brain intact). A writer holds
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
    /// <summary>The checkpoint kind of a brain (Engram.Tensors.IO.Checkpoint).</summary>
    public const string Kind = "brain";

    public static bool Exists(string dir) => File.Exists(Path.Combine(dir, FileName));

    /// <summary>Takes the folder for writing: creates it, holds brain.lock until disposed (another process that tries
    /// gets an error at once), and removes temporary files a killed save left behind. Fails before any work is done
    /// when the folder cannot be a brain (a file, unwritable, or in use).</summary>
    public static IDisposable Lock(string dir)
    {
        if (File.Exists(dir)) throw new EngramException($"{dir}: is a file; a brain is a folder");
        var lockPath = Path.Combine(dir, LockName);
        FileStream handle;
        try
        {
            Directory.CreateDirectory(dir);
            handle = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
        }
        catch (IOException) when (File.Exists(lockPath)) // it exists and cannot be opened exclusively: someone holds it
        {
            throw new EngramException($"{dir}: the brain is in use by another Engram process ({LockName} is held)");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new EngramException($"{dir}: cannot write a brain there ({e.Message})");
        }
        foreach (var stale in Directory.EnumerateFiles(dir, $".{FileName}.*.tmp"))
        {
            try { File.Delete(stale); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // left for the next time
        }
        return handle;
    }

    /// <summary>What a brain holds, read without changing anything.</summary>
    public sealed record Info(string Format, LmConfig Model, LearnerConfig Learner, long Position, double BitsPerByte, long Parameters,
        long FileBytes, DateTime SavedUtc);

    public static Info ReadInfo(string dir)
    {
        var learner = Load(dir, out var format, out _);
        var path = Path.Combine(dir, FileName);
        return new Info(format, learner.ModelConfig, learner.Config, learner.Position, learner.BitsPerByte, learner.Model.ParameterCount(),
            new FileInfo(path).Length, File.GetLastWriteTimeUtc(path));
    }

    public static void Save(OnlineLearner learner, string dir) => Save(learner, dir, null);

    /// <summary>Saves the learner to dir/brain.safetensors, with the caller's own values (e.g. the brain's version in its
    /// audit log) beside the learner's.</summary>
    public static void Save(OnlineLearner learner, string dir, IReadOnlyDictionary<string, string>? extra)
    {
        Directory.CreateDirectory(dir);
        SaveFile(learner, Path.Combine(dir, FileName), extra);
    }

    /// <summary>Saves the learner as a brain checkpoint at any path (snapshots).</summary>
    public static void SaveFile(OnlineLearner learner, string path, IReadOnlyDictionary<string, string>? extra = null)
    {
        var ck = ToCheckpoint(learner);
        if (extra is not null) foreach (var (k, v) in extra) ck.Extra.TryAdd(k, v);
        ck.Save(path);
    }

    /// <summary>Saves the learner like SaveFile and returns its Hash, serializing it once.</summary>
    public static string SaveFileAndHash(OnlineLearner learner, string path, IReadOnlyDictionary<string, string>? extra)
    {
        var ck = ToCheckpoint(learner);
        var hash = ck.ContentHash();
        if (extra is not null) foreach (var (k, v) in extra) ck.Extra.TryAdd(k, v);
        ck.Save(path);
        return hash;
    }

    /// <summary>SHA-256 of the learner's whole state — slow weights, optimizer moments, streaming and fast-weight states,
    /// count tables, generator, position and configurations — as a brain file would hold it: equal hashes mean
    /// learners that continue identically.</summary>
    public static string Hash(OnlineLearner learner) => ToCheckpoint(learner).ContentHash();

    static Checkpoint ToCheckpoint(OnlineLearner learner)
    {
        if (learner.HasPendingChunk || learner.Failed)
            throw new InvalidOperationException("Brain.Save: the learner is in the middle of a chunk, or failed in one");
        var ck = new Checkpoint
        {
            Kind = Kind,
            Weights = learner.Model.NamedParameters().ToDictionary(p => p.Name, p => p.Param),
            OptimizerState = learner.Optimizer.StateTensors().ToDictionary(kv => kv.Key, kv => kv.Value),
            OptimizerHyperparameters = learner.Optimizer.Hyperparameters().ToDictionary(kv => kv.Key, kv => kv.Value),
            State = learner.State.Tensors().ToDictionary(kv => kv.Name, kv => kv.Value),
            Step = learner.Position,
            GeneratorState = learner.Generator.GetState(),
            Extra = new()
            {
                ["model"] = learner.ModelConfig.ToJson(),
                ["learner"] = learner.Config.ToJson(),
                ["position"] = learner.Position.ToString(CultureInfo.InvariantCulture),
                ["total_bits"] = BitConverter.DoubleToInt64Bits(learner.TotalBits).ToString(CultureInfo.InvariantCulture),
                ["previous_token"] = learner.PreviousToken.ToString(CultureInfo.InvariantCulture),
            },
        };
        if (learner.State.Counts is { } counts) ck.Blobs["counts"] = counts.Save();
        return ck;
    }

    /// <summary>Loads a brain (a checkpoint of kind "brain", or a format-1 brain); every error names the folder and what
    /// was wrong, and nothing on disk is touched.</summary>
    public static OnlineLearner Load(string dir) => Load(dir, out _, out _);

    /// <summary>Loads a brain and the caller's own values saved with it.</summary>
    public static OnlineLearner Load(string dir, out IReadOnlyDictionary<string, string> extra) => Load(dir, out _, out extra);

    /// <summary>Loads a brain checkpoint from any path (a snapshot); errors name `path`.</summary>
    public static OnlineLearner LoadFile(string path, out IReadOnlyDictionary<string, string> extra)
    {
        if (!File.Exists(path)) throw new InvalidFileException($"{path}: no such brain file");
        return Load(path, path, out _, out extra);
    }

    static OnlineLearner Load(string dir, out string format, out IReadOnlyDictionary<string, string> extra)
    {
        var path = Path.Combine(dir, FileName);
        if (!File.Exists(path)) throw new InvalidFileException($"{dir}: no brain here (expected {FileName})");
        return Load(path, dir, out format, out extra);
    }

    static OnlineLearner Load(string path, string dir, out string format, out IReadOnlyDictionary<string, string> extra)
    {
        Checkpoint ck;
        try
        {
            var file = Safetensors.Read(path);
            ck = Checkpoint.IsCheckpoint(file) ? Checkpoint.Load(file, dir) : FromFormat1(file, dir);
        }
        catch (InvalidFileException e) when (!e.Message.StartsWith(dir, StringComparison.Ordinal))
        {
            throw new InvalidFileException($"{dir}: the brain is unreadable or corrupt ({e.Message})");
        }
        if (ck.Kind != Kind) throw new InvalidFileException($"{dir}: {FileName} is a {ck.Kind} checkpoint, not a brain");
        format = ck.Format;
        extra = ck.Extra;
        string Need(string key) => ck.Extra.TryGetValue(key, out var v) ? v
            : throw new InvalidFileException($"{dir}: brain metadata lacks '{key}'");
        try
        {
            var learner = new OnlineLearner(LmConfig.FromJson(Need("model")), LearnerConfig.FromJson(Need("learner")));
            learner.Model.LoadStateDict(ck.Weights);
            ck.RestoreOptimizer(learner.Optimizer);
            var s = learner.Model.InitialState();
            s.Load(ck.State, "");
            var counts = ck.Blobs.TryGetValue("counts", out var blob) ? ContextCounts.Load(blob) : null;
            if ((s.Counts is null) != (counts is null))
                throw new InvalidFileException($"{dir}: the brain's context counts do not match its model configuration");
            if (counts is not null)
            {
                if (!counts.Orders.SequenceEqual(s.Counts!.Orders) || counts.Match?.MinLength != s.Counts.Match?.MinLength
                    || counts.Match?.WindowBits != s.Counts.Match?.WindowBits || counts.Match?.Rule != s.Counts.Match?.Rule
                    || counts.MaxContexts != s.Counts.MaxContexts)
                    throw new InvalidFileException(
                        $"{dir}: the brain's context-count orders or match model do not match its model configuration");
                s.Counts = counts;
            }
            learner.Position = long.Parse(Need("position"), CultureInfo.InvariantCulture);
            // A brain that has read nothing starts from the model's initial state, as a new learner does: its fast weights
            // are then W₀ itself (not a copy), so the first chunk trains W₀, and learning continues bit for bit as it would
            // have without the save. (The saved state holds the same values; loading it checked its shapes.)
            learner.ReplaceState(learner.Position == 0 ? learner.Model.InitialState() : s);
            learner.TotalBits = BitConverter.Int64BitsToDouble(long.Parse(Need("total_bits"), CultureInfo.InvariantCulture));
            learner.PreviousToken = int.Parse(Need("previous_token"), CultureInfo.InvariantCulture);
            ck.RestoreGenerator(learner.Generator);
            return learner;
        }
        catch (Exception e) when (e is FormatException or OverflowException or System.Text.Json.JsonException
            or EngramException and not InvalidFileException)
        {
            throw new InvalidFileException($"{dir}: the brain is corrupt ({e.Message})");
        }
        catch (InvalidFileException e) when (!e.Message.StartsWith(dir, StringComparison.Ordinal))
        {
            throw new InvalidFileException($"{dir}: the brain is corrupt ({e.Message})");
        }
    }

    /// <summary>A brain written before the one checkpoint format (metadata "engram.brain" = 1, counts as a tensor named
    /// "counts", no checksum), read into the same sections.</summary>
    static Checkpoint FromFormat1(SafetensorsFile file, string dir)
    {
        var meta = file.Metadata;
        if (!meta.TryGetValue("engram.brain", out var fmt))
            throw new InvalidFileException($"{dir}: {FileName} is not an Engram brain (no format version in its metadata)");
        if (fmt != "1")
            throw new InvalidFileException($"{dir}: the brain was written by a newer Engram (brain format {fmt}); " +
                $"this version reads checkpoint format {Checkpoint.FormatVersion} and brain format 1");
        if (!meta.TryGetValue("rng", out var rng)) throw new InvalidFileException($"{dir}: brain metadata lacks 'rng'");
        var ck = new Checkpoint { Kind = Kind, Format = "1", Weights = new(), GeneratorState = Checkpoint.ParseGeneratorState(rng, dir) };
        foreach (var name in file.Names)
        {
            if (name == "counts") { ck.Blobs["counts"] = file[name].Bytes; continue; }
            var t = file[name].ToTensor();
            if (name.StartsWith("model.", StringComparison.Ordinal)) ck.Weights[name[6..]] = t;
            else if (name.StartsWith("optim.", StringComparison.Ordinal)) ck.OptimizerState[name[6..]] = t;
            else if (name.StartsWith("state.", StringComparison.Ordinal)) ck.State[name[6..]] = t;
            else throw new InvalidFileException($"{dir}: unexpected tensor '{name}' in the brain");
        }
        foreach (var (k, v) in meta)
        {
            if (k.StartsWith("optim.", StringComparison.Ordinal)) ck.OptimizerHyperparameters[k[6..]] = v;
            else if (k is "model" or "learner" or "position" or "total_bits" or "previous_token") ck.Extra[k] = v;
        }
        return ck;
    }
}
