// Presets of the reasoning models and the names of the model kinds, in one place.
using Engram.Tensors;

namespace Engram.Models.Reasoning;

/// <summary>Presets: "paper" (the published sizes) and "cpu" (small enough to learn in minutes on two cores).</summary>
public static class ReasonerPresets
{
    public static readonly string[] Names = ["cpu", "paper"];

    /// <summary>Throws a user-facing error unless the preset exists (checked before any data is made).</summary>
    public static void CheckName(string preset)
    {
        if (!Names.Contains(preset)) throw Unknown(preset);
    }

    static EngramException Unknown(string preset)
        => new($"preset '{preset}' is not known (expected {string.Join(" or ", Names)})");

    public static ReasonerKind ParseKind(string name) => name.ToLowerInvariant() switch
    {
        "hrm" => ReasonerKind.Hrm,
        "trm" => ReasonerKind.Trm,
        "trm-mlp" => ReasonerKind.TrmMlp,
        "transformer" => ReasonerKind.Transformer,
        _ => throw new EngramException($"model '{name}' is not known (expected hrm, trm, trm-mlp or transformer)"),
    };

    public static string KindName(ReasonerKind k) => k switch
    {
        ReasonerKind.Hrm => "hrm",
        ReasonerKind.Trm => "trm",
        ReasonerKind.TrmMlp => "trm-mlp",
        _ => "transformer",
    };

    /// <summary>The configuration for a model kind, preset and task (maze: true for mazes, which use n = 4 latent
    /// steps in TRM).</summary>
    public static ReasonerConfig Get(ReasonerKind kind, string preset, int vocab, int seqLen, bool maze)
    {
        bool trm = kind is ReasonerKind.Trm or ReasonerKind.TrmMlp;
        var c = preset switch
        {
            // HRM: 4+4 blocks, hidden 512 (27.3M); TRM: 2 blocks (7M attention, 5M MLP); Transformer: 8 blocks, as HRM.
            "paper" => new ReasonerConfig
            {
                Hidden = 512, Heads = 8, HLayers = 4, LLayers = 4, Layers = kind == ReasonerKind.Transformer ? 8 : 2,
                LatentSteps = maze ? 4 : 6, Recursions = 3, Batch = 768, LearningRate = 1e-4, WarmupSteps = 2000,
                WeightDecay = 1.0, EmaDecay = trm ? 0.999 : 0,
            },
            // Same parameter budget for all three: two blocks of hidden 64 (HRM: one H block and one L block).
            "cpu" => new ReasonerConfig
            {
                Hidden = 64, Heads = 2, HLayers = 1, LLayers = 1, Layers = 2, HCycles = 2, LCycles = 2,
                LatentSteps = 3, Recursions = 2, Batch = 32, LearningRate = 1e-3, WarmupSteps = 100, WeightDecay = 0.1,
                EmaDecay = trm ? 0.995 : 0, MaxSegments = 8,
            },
            _ => throw Unknown(preset),
        };
        return c with
        {
            Kind = kind,
            Preset = preset,
            Vocab = vocab,
            SeqLen = seqLen,
            Positions = kind == ReasonerKind.TrmMlp ? PositionEncoding.None : PositionEncoding.Rope,
            MaxSegments = kind == ReasonerKind.Transformer ? 1 : c.MaxSegments,
        };
    }
}
