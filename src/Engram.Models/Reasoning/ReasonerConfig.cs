// The configuration of a reasoning model: architecture and training recipe, stored as JSON in every checkpoint
// (the property order is the JSON order; keep it).
using System.Text.Json;
using System.Text.Json.Serialization;
using Engram.Tensors;

namespace Engram.Models.Reasoning;

public enum ReasonerKind { Hrm, Trm, TrmMlp, Transformer }
public enum PositionEncoding { Rope, Learned, None }

/// <summary>Architecture and training recipe of a reasoning model. Defaults are the published Sudoku settings.</summary>
public sealed record ReasonerConfig
{
    public ReasonerKind Kind { get; init; } = ReasonerKind.Trm;
    public string Preset { get; init; } = "paper";
    public int Vocab { get; init; } = 11;
    /// <summary>Grid cells (81 for 9×9 Sudoku, 900 for 30×30 mazes).</summary>
    public int SeqLen { get; init; } = 81;
    /// <summary>Learned embedding positions prepended to the grid (one shared puzzle id).</summary>
    public int PuzzleTokens { get; init; } = 1;
    public int Hidden { get; init; } = 512;
    public int Heads { get; init; } = 8;
    public PositionEncoding Positions { get; init; } = PositionEncoding.Rope;
    /// <summary>HRM: blocks in the high- and low-level modules; N high-level cycles of T low-level steps.</summary>
    public int HLayers { get; init; } = 4;
    public int LLayers { get; init; } = 4;
    public int HCycles { get; init; } = 2;
    public int LCycles { get; init; } = 2;
    /// <summary>TRM: blocks of the one net; n latent updates per recursion; T recursions per segment. Transformer:
    /// depth.</summary>
    public int Layers { get; init; } = 2;
    public int LatentSteps { get; init; } = 6;
    public int Recursions { get; init; } = 3;
    /// <summary>Deep supervision: at most this many segments per example (1 for the direct Transformer).</summary>
    public int MaxSegments { get; init; } = 16;
    public double ExploreProbability { get; init; } = 0.1;
    /// <summary>Training: examples per optimizer step, Adam-atan2 rate, warm-up steps, weight decay, betas, EMA decay
    /// (0 = none).</summary>
    public int Batch { get; init; } = 768;
    public double LearningRate { get; init; } = 1e-4;
    public int WarmupSteps { get; init; } = 2000;
    public double WeightDecay { get; init; } = 1.0;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.95;
    public double EmaDecay { get; init; } = 0.999;
    public ulong Seed { get; init; } = 0;

    public int Tokens => SeqLen + PuzzleTokens;
    public bool UsesHalting => MaxSegments > 1;

    static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Converters = { new JsonStringEnumConverter() } };
    public string ToJson() => JsonSerializer.Serialize(this, Json);
    public static ReasonerConfig FromJson(string json)
        => JsonSerializer.Deserialize<ReasonerConfig>(json, Json) ?? throw new EngramException("reasoner config: empty JSON");

    public void Validate()
    {
        if (Hidden <= 0 || Heads <= 0 || Hidden % Heads != 0)
            throw new EngramException($"reasoner: hidden {Hidden} must be a positive multiple of heads {Heads}");
        if (Vocab < 2 || SeqLen < 1 || PuzzleTokens < 0)
            throw new EngramException("reasoner: vocab ≥ 2, seq_len ≥ 1, puzzle tokens ≥ 0 expected");
        if (MaxSegments < 1 || Batch < 1) throw new EngramException("reasoner: max segments and batch must be at least 1");
        if (Kind == ReasonerKind.Hrm && (HLayers < 1 || LLayers < 1 || HCycles < 1 || LCycles < 1))
            throw new EngramException("HRM: layers and cycles must be at least 1");
        if (Kind is ReasonerKind.Trm or ReasonerKind.TrmMlp && (Layers < 1 || LatentSteps < 1 || Recursions < 1))
            throw new EngramException("TRM: layers, latent steps and recursions must be at least 1");
        if (Kind == ReasonerKind.Transformer && Layers < 1) throw new EngramException("Transformer: at least one layer");
    }
}
