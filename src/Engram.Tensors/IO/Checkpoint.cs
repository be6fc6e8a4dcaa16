// Training checkpoints: weights, optimizer state, step and random-generator state in one safetensors file
// ("model.*" and "optim.*" tensors; step, optimizer hyperparameters and generator state in the metadata),
// written atomically so a crash mid-write leaves the previous checkpoint intact.
using System.Globalization;
using Engram.Tensors.Optim;

namespace Engram.Tensors.IO;

public sealed class Checkpoint
{
    public const string FormatVersion = "1";

    public required Dictionary<string, Tensor> Weights { get; init; }
    public Dictionary<string, Tensor> OptimizerState { get; init; } = new();
    public Dictionary<string, string> OptimizerHyperparameters { get; init; } = new();
    public long Step { get; init; }
    public ulong[]? GeneratorState { get; init; }
    /// <summary>Caller's own string values (stored under "user.").</summary>
    public Dictionary<string, string> Extra { get; init; } = new();

    public static void Save(string path, IReadOnlyDictionary<string, Tensor> weights, Optimizer? optimizer = null, long step = 0,
        Generator? generator = null, IReadOnlyDictionary<string, string>? extra = null)
    {
        var tensors = new List<KeyValuePair<string, Tensor>>();
        foreach (var (k, v) in weights) tensors.Add(new("model." + k, v));
        var meta = new Dictionary<string, string>
        {
            ["engram.format"] = FormatVersion,
            ["step"] = step.ToString(CultureInfo.InvariantCulture)
        };
        if (optimizer is not null)
        {
            foreach (var (k, v) in optimizer.StateTensors()) tensors.Add(new("optim." + k, v));
            foreach (var (k, v) in optimizer.Hyperparameters()) meta["optim." + k] = v;
        }
        if (generator is not null)
            meta["rng"] = string.Join(",", generator.GetState().Select(w => w.ToString("x16", CultureInfo.InvariantCulture)));
        if (extra is not null) foreach (var (k, v) in extra) meta["user." + k] = v;
        Safetensors.Write(path, tensors, meta);
    }

    public static Checkpoint Load(string path)
    {
        var file = Safetensors.Read(path);
        var meta = file.Metadata;
        if (!meta.TryGetValue("engram.format", out var fmt))
            throw new InvalidFileException($"{path}: not an Engram checkpoint (no engram.format in metadata)");
        if (fmt != FormatVersion)
            throw new InvalidFileException($"{path}: checkpoint format {fmt} is not supported by this version (expected {FormatVersion})");
        if (!meta.TryGetValue("step", out var s) || !long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var step))
            throw new InvalidFileException($"{path}: checkpoint has no valid step");
        ulong[]? rng = null;
        if (meta.TryGetValue("rng", out var r))
        {
            var parts = r.Split(',');
            rng = new ulong[parts.Length];
            for (int i = 0; i < parts.Length; i++)
                if (!ulong.TryParse(parts[i], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out rng[i]))
                    throw new InvalidFileException($"{path}: invalid generator state");
        }
        var ck = new Checkpoint { Weights = new(), Step = step, GeneratorState = rng };
        foreach (var name in file.Names)
        {
            if (name.StartsWith("model.", StringComparison.Ordinal)) ck.Weights[name[6..]] = file[name].ToTensor();
            else if (name.StartsWith("optim.", StringComparison.Ordinal)) ck.OptimizerState[name[6..]] = file[name].ToTensor();
            else throw new InvalidFileException($"{path}: unexpected tensor '{name}' in checkpoint");
        }
        foreach (var (k, v) in meta)
        {
            if (k.StartsWith("optim.", StringComparison.Ordinal)) ck.OptimizerHyperparameters[k[6..]] = v;
            else if (k.StartsWith("user.", StringComparison.Ordinal)) ck.Extra[k[5..]] = v;
        }
        return ck;
    }

    /// <summary>Restores optimizer state (validated first; the optimizer is unchanged on error).</summary>
    public void RestoreOptimizer(Optimizer optimizer) => optimizer.LoadState(OptimizerState, OptimizerHyperparameters);

    public void RestoreGenerator(Generator generator)
    {
        if (GeneratorState is null) throw new InvalidFileException("checkpoint holds no generator state");
        generator.SetState(GeneratorState);
    }
}
