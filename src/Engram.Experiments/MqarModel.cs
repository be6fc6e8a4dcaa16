// The small sequence model of the MQAR benchmark (Zoology's two-block recipe): token embedding → 2 blocks of
// (RMSNorm → short causal convolution → sequence mixer → residual, RMSNorm → SwiGLU → residual) → RMSNorm → logits
// through the embedding matrix (tied, as Zoology ties them), read only at the query positions. The mixer is the one
// thing that varies: a fast-weight layer under one of its presets, causal full attention with rotary positions, or a GRU.
// The convolution (4 taps, depthwise; Based, H3, Mamba, DeltaNet, TTT and Titans all place one before their mixer) lets a
// value's position see the key just before it, so one block can bind the pair; without it attention too has to learn a
// previous-token head first, which takes far longer than this benchmark's step budget. Every sequence is read from the
// mixer's start state (W₀, an empty cache, a zero hidden state).
using Engram.Nn;
using Engram.Tensors;

namespace Engram.Experiments;

/// <summary>A sequence mixer: x [B, T, D] → [B, T, D], causal, each of the B sequences read from the start state.</summary>
public abstract class SequenceMixer : Module
{
    public abstract Tensor Forward(Tensor x);

    /// <summary>Tokens per call of a recurrent layer. The layers promise the same outputs however a sequence is split into
    /// calls; splitting matters for training, because the gradient of each per-token slice of a [B, T, ·] tensor is
    /// materialised at the full size of that tensor: one call over T tokens costs O(T²) in backward, calls of 16 cost O(T²/16).</summary>
    protected const int Piece = 16;

    /// <summary>step applied to consecutive pieces of x [B, T, D] along T (the state it closes over carries from piece to
    /// piece, attached to the graph), the outputs joined.</summary>
    protected static Tensor InPieces(Tensor x, Func<Tensor, Tensor> step)
    {
        int t = x.Shape[1];
        if (t <= Piece) return step(x);
        var outputs = new List<Tensor>();
        for (int start = 0; start < t; start += Piece) outputs.Add(step(x.Narrow(1, start, Math.Min(Piece, t - start))));
        return Tensor.Concat(outputs, 1);
    }
}

/// <summary>Causal multi-head attention over the whole sequence, rotary positions.</summary>
public sealed class AttentionMixer : SequenceMixer
{
    public MultiHeadAttention Attn { get; }
    public AttentionMixer(int width, int heads, Generator g)
        => Attn = RegisterModule("attn", new MultiHeadAttention(width, heads, g, AttentionMask.Causal));
    public override Tensor Forward(Tensor x) => Attn.Forward(x);
}

/// <summary>A GRU run over the sequence from a zero hidden state.</summary>
public sealed class GruMixer : SequenceMixer
{
    public Gru Gru { get; }
    public GruMixer(int width, Generator g) => Gru = RegisterModule("gru", new Gru(width, g));
    public override Tensor Forward(Tensor x)
    {
        var state = Gru.InitialState(x.Shape[0]);
        return InPieces(x, piece => Gru.Forward(piece, state));
    }
}

/// <summary>A fast-weight layer, batched dual form from W₀.</summary>
public sealed class FastWeightMixer : SequenceMixer
{
    public FastWeightLayer Memory { get; }
    public FastWeightMixer(int width, FastWeightOptions options, Generator g)
        => Memory = RegisterModule("memory", new FastWeightLayer(width, options, g));
    public override Tensor Forward(Tensor x)
    {
        var state = Memory.InitialState(x.Shape[0]);
        return InPieces(x, piece => Memory.Forward(piece, state));
    }
}

/// <summary>A mixer the benchmark can compare: its name on the command line, how to build it at a width and a number of
/// heads, and its rough training cost per token relative to attention (measured at width 64, L = 128, one core; used only to
/// order the work and estimate the time left).</summary>
public sealed record MqarLayer(string Name, double Cost, Func<int, int, Generator, SequenceMixer> Create)
{
    static MqarLayer FastWeight(string name, double cost, FastWeightOptions preset) =>
        new(name, cost, (width, heads, g) => new FastWeightMixer(width, preset with { Heads = heads }, g));

    public static readonly IReadOnlyList<MqarLayer> All =
    [
        FastWeight("ttt-linear", 1.0, FastWeightOptions.TttLinear),
        FastWeight("ttt-mlp", 3.3, FastWeightOptions.TttMlp),
        FastWeight("titans", 4.2, FastWeightOptions.Titans),
        FastWeight("delta", 1.7, FastWeightOptions.DeltaRule),
        FastWeight("gated-delta", 2.5, FastWeightOptions.GatedDeltaRule),
        new("attention", 1.0, (width, heads, g) => new AttentionMixer(width, heads, g)),
        new("gru", 0.9, (width, _, g) => new GruMixer(width, g)),
    ];

    public static IReadOnlyList<string> Names => All.Select(l => l.Name).ToArray();

    public static MqarLayer Get(string name) => All.FirstOrDefault(l => l.Name == name)
        ?? throw new EngramException($"MQAR: no layer named '{name}' (expected one of {string.Join(", ", Names)})");
}

/// <summary>Shape of an MQAR model. Heads: of the attention and fast-weight mixers (head dimension Width / Heads).
/// Conv: taps of the causal convolution before each mixer (0: none). MlpWidth: hidden width of each SwiGLU (0: 2 × Width).</summary>
public sealed record MqarModelConfig(string Layer, int Vocab, int Width, int Heads = 2, int Blocks = 2, int Conv = 4, int MlpWidth = 0)
{
    public int MlpHidden => MlpWidth > 0 ? MlpWidth : 2 * Width;
}

/// <summary>x = mixer(conv(N(x))) + x; x = SwiGLU(N(x)) + x (conv: a depthwise causal convolution, when Conv &gt; 0).</summary>
public sealed class MqarBlock : Module
{
    public RmsNorm MixerNorm { get; }
    public CausalConv? Conv { get; }
    public SequenceMixer Mixer { get; }
    public RmsNorm MlpNorm { get; }
    public SwiGlu Mlp { get; }

    public MqarBlock(MqarModelConfig c, Generator g)
    {
        MixerNorm = RegisterModule("mixer_norm", new RmsNorm(c.Width));
        if (c.Conv > 0) Conv = RegisterModule("conv", new CausalConv(c.Width, c.Conv, g));
        Mixer = RegisterModule("mixer", MqarLayer.Get(c.Layer).Create(c.Width, c.Heads, g));
        MlpNorm = RegisterModule("mlp_norm", new RmsNorm(c.Width));
        Mlp = RegisterModule("mlp", new SwiGlu(c.Width, c.MlpHidden, g));
    }

    public Tensor Forward(Tensor x)
    {
        var h = MixerNorm.Forward(x);
        if (Conv is not null) h = Conv.Forward(h, Conv.InitialState(h.Shape[0]));
        x = x + Mixer.Forward(h);
        return x + Mlp.Forward(MlpNorm.Forward(x));
    }
}

public sealed class MqarModel : Module
{
    /// <summary>Standard deviation of the initial embeddings (small, as the logits are read through them).</summary>
    public const double EmbeddingStd = 0.1;

    public MqarModelConfig Config { get; }
    public Embedding Embed { get; }
    public ModuleList<MqarBlock> Blocks { get; }
    public RmsNorm FinalNorm { get; }

    public MqarModel(MqarModelConfig config, Generator g)
    {
        if (config.Width % config.Heads != 0)
            throw new EngramException($"MQAR model: width {config.Width} is not a multiple of {config.Heads} heads");
        Config = config;
        Embed = RegisterModule("embed", new Embedding(config.Vocab, config.Width, g, EmbeddingStd));
        Blocks = RegisterModule("blocks",
            new ModuleList<MqarBlock>(Enumerable.Range(0, config.Blocks).Select(_ => new MqarBlock(config, g))));
        FinalNorm = RegisterModule("final_norm", new RmsNorm(config.Width));
    }

    /// <summary>tokens [batch, T] (row-major) → logits [positions.Length, Vocab] at the flat positions s·T + t asked for.</summary>
    public Tensor Forward(int[] tokens, int batch, int[] positions)
    {
        int t = tokens.Length / batch;
        var x = Embed.Forward(tokens, batch, t);
        foreach (var block in Blocks) x = block.Forward(x);
        var rows = x.Reshape(batch * t, Config.Width).IndexSelect(0, positions);
        return Tensor.Matmul(FinalNorm.Forward(rows), Embed.Weight.MT);
    }
}
