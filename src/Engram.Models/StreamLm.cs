// Byte-level language models that read a stream (docs/continual_learner.md): the continual LM (blocks of a
// short-range mixer — sliding-window attention or a causal convolution — plus a fast-weight layer and a SwiGLU MLP,
// pre-RMSNorm), and the two baselines on the same skeleton: the sliding-window Transformer (no fast weights) and the
// GRU. Inputs are bytes 0..255 plus 256 = start of stream; outputs are logits over the next byte.
using System.Text.Json;
using System.Text.Json.Serialization;
using Engram.Nn;
using Engram.Tensors;

namespace Engram.Models;

public enum LmKind { Continual, Transformer, Gru }
public enum MixerKind { Attention, Conv, None }

/// <summary>Architecture of a stream LM. Serialised as JSON into brains and compressed files.</summary>
public sealed record LmConfig
{
    public string Preset { get; init; } = "custom";
    public LmKind Kind { get; init; } = LmKind.Continual;
    public int Dim { get; init; } = 128;
    public int Layers { get; init; } = 2;
    public int Heads { get; init; } = 4;
    public MixerKind Mixer { get; init; } = MixerKind.Attention;
    public int Window { get; init; } = 64;
    public int ConvKernel { get; init; } = 4;
    public int MlpWidth { get; init; } = 256;
    public FastWeightOptions FastWeight { get; init; } = FastWeightOptions.TttLinear;
    /// <summary>Orders of the context-count memory mixed into the logits (empty: a purely neural model).</summary>
    public int[] ContextOrders { get; init; } = [];
    /// <summary>Word contexts of the count memory: each n in 0..3 adds the current word so far (letters, case folded)
    /// with the n words before it (empty: none).</summary>
    public int[] WordOrders { get; init; } = [];
    /// <summary>Shortest context the match model looks up (0: no match model).</summary>
    public int MatchMinLength { get; init; }
    /// <summary>The match model remembers the last 2^MatchWindowBits bytes (its index has as many entries, 4 bytes each).</summary>
    public int MatchWindowBits { get; init; } = 24;
    /// <summary>How the match model chooses between occurrences (MatchModel.Rule): null or 1 = the one agreeing furthest
    /// back; 2 = also the newest occurrence of a restated line (the presets). Brains and files made before rule 2 have no
    /// such field and keep rule 1; it is left out of the JSON when null, so their configurations — and the state hashes
    /// their audit logs hold — read back unchanged and their histories replay bit for bit.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? MatchRule { get; init; }

    /// <summary>The most contexts each count order holds; past it the least useful eighth is evicted.</summary>
    public int MaxContextsPerOrder { get; init; } = ContextCounts.DefaultMaxContexts;

    /// <summary>Experts mixed into the logits: one per context order, plus the match model.</summary>
    [JsonIgnore] public int CountExperts => ContextOrders.Length + WordOrders.Length + (MatchMinLength > 0 ? 1 : 0);

    /// <summary>A fresh count memory for this configuration (null when the model mixes none in).</summary>
    public ContextCounts? NewCounts() => CountExperts == 0 ? null
        : new ContextCounts([.. ContextOrders, .. WordOrders.Select(w => ContextCounts.WordBase + w)],
            MatchMinLength > 0 ? new MatchModel(MatchMinLength, MatchWindowBits, MatchRule ?? 1) : null,
            MaxContextsPerOrder);

    public const int Vocabulary = 256;
    public const int StartToken = 256;

    static readonly JsonSerializerOptions Json = new() { Converters = { new JsonStringEnumConverter() } };
    public string ToJson() => JsonSerializer.Serialize(this, Json);
    public static LmConfig FromJson(string json) => JsonSerializer.Deserialize<LmConfig>(json, Json)
        ?? throw new EngramException("model configuration: empty JSON");

    /// <summary>Checks every field against bounds that keep a model buildable on one machine, so a configuration read from
    /// a file cannot ask for unbounded memory or time. Throws an EngramException naming the field.</summary>
    public void Validate()
    {
        static void Check(string field, long value, long min, long max)
        {
            if (value < min || value > max) throw new EngramException($"model configuration: {field} must be in {min}..{max}, got {value}");
        }
        if (FastWeight is null || ContextOrders is null || Preset is null)
            throw new EngramException("model configuration: FastWeight, ContextOrders and Preset must be present");
        Check(nameof(Dim), Dim, 1, 4096);
        Check(nameof(Layers), Layers, 1, 64);
        Check(nameof(Heads), Heads, 1, 256);
        Check(nameof(Window), Window, 1, 1 << 16);
        Check(nameof(ConvKernel), ConvKernel, 1, 1024);
        Check(nameof(MlpWidth), MlpWidth, 1, 1 << 16);
        Check("FastWeight.Heads", FastWeight.Heads, 1, 256);
        Check("FastWeight.MiniBatch", FastWeight.MiniBatch, 1, 1 << 16);
        Check("FastWeight.MlpWidthFactor", FastWeight.MlpWidthFactor, 1, 64);
        if (!double.IsFinite(FastWeight.EtaBase) || FastWeight.EtaBase < 0)
            throw new EngramException($"model configuration: FastWeight.EtaBase must be finite and ≥ 0, got {FastWeight.EtaBase}");
        if (Kind != LmKind.Gru && Dim % Heads != 0)
            throw new EngramException($"model configuration: Dim ({Dim}) must be a multiple of Heads ({Heads})");
        Check("ContextOrders count", ContextOrders.Length, 0, 64);
        foreach (var o in ContextOrders) Check(nameof(ContextOrders), o, 1, ContextCounts.MaxOrder);
        if (WordOrders is null) throw new EngramException("model configuration: WordOrders must be present");
        Check("WordOrders count", WordOrders.Length, 0, ContextCounts.MaxWordContext + 1);
        foreach (var o in WordOrders) Check(nameof(WordOrders), o, 0, ContextCounts.MaxWordContext);
        Check("ContextOrders and WordOrders together", ContextOrders.Length + WordOrders.Length, 0, 64);
        if (ContextOrders.Distinct().Count() != ContextOrders.Length || WordOrders.Distinct().Count() != WordOrders.Length)
            throw new EngramException("model configuration: ContextOrders and WordOrders must not repeat an order");
        if (MatchMinLength != 0) Check(nameof(MatchMinLength), MatchMinLength, 2, MatchModel.LongLength);
        Check(nameof(MatchWindowBits), MatchWindowBits, 12, 26);
        if (MatchRule is int rule) Check(nameof(MatchRule), rule, 1, MatchModel.NewestRule);
        Check(nameof(MaxContextsPerOrder), MaxContextsPerOrder, 8, ContextCounts.DefaultMaxContexts * 8);
        long perBlock = 8L * Dim * Dim + 3L * Dim * MlpWidth + (long)Dim * Dim * FastWeight.MlpWidthFactor * 2;
        if (perBlock * Layers > 50_000_000) // with gradients and two moments, at most about 800 MB of float32
            throw new EngramException($"model configuration: about {perBlock * Layers:N0} parameters, over the limit of 50,000,000");
    }
}

/// <summary>The state a stream LM carries between calls: one entry per streaming layer, in block order.</summary>
public sealed class LmState
{
    public IStreamState[] Layers { get; }
    /// <summary>The context-count memory, when the model mixes one in.</summary>
    public ContextCounts? Counts { get; set; }
    public LmState(IStreamState[] layers, ContextCounts? counts) { Layers = layers; Counts = counts; }
    public void EndChunk() { foreach (var l in Layers) l.EndChunk(); }
    /// <summary>An independent deep copy (the count tables included: costly on a long stream).</summary>
    public LmState Clone() => new(Layers.Select(l => l.Clone()).ToArray(), Counts?.Clone());
    /// <summary>A copy of the layer states that shares the count tables: wrap its use in Counts.Mark()/Rollback().</summary>
    public LmState Fork() => new(Layers.Select(l => l.Clone()).ToArray(), Counts);
    public IEnumerable<(string Name, Tensor Value)> Tensors()
    {
        for (int i = 0; i < Layers.Length; i++)
            foreach (var (n, t) in Layers[i].Tensors()) yield return ($"{i}.{n}", t);
    }
    public void Load(IReadOnlyDictionary<string, Tensor> saved, string prefix)
    {
        for (int i = 0; i < Layers.Length; i++) Layers[i].Load(saved, $"{prefix}{i}.");
    }
}

/// <summary>One block: x += Mixer(N(x)); x += FastWeight(N(x)); x += SwiGLU(N(x)) — each part optional by kind.</summary>
public sealed class StreamBlock : Module
{
    public RmsNorm? MixerNorm { get; }
    public WindowAttention? Attention { get; }
    public CausalConv? Conv { get; }
    public Gru? Gru { get; }
    public RmsNorm? MemoryNorm { get; }
    public FastWeightLayer? Memory { get; }
    public RmsNorm MlpNorm { get; }
    public SwiGlu Mlp { get; }

    public StreamBlock(LmConfig c, Generator g)
    {
        if (c.Kind == LmKind.Gru)
        {
            MixerNorm = RegisterModule("gru_norm", new RmsNorm(c.Dim));
            Gru = RegisterModule("gru", new Gru(c.Dim, g));
        }
        else if (c.Mixer == MixerKind.Attention)
        {
            MixerNorm = RegisterModule("attn_norm", new RmsNorm(c.Dim));
            Attention = RegisterModule("attn", new WindowAttention(c.Dim, c.Heads, c.Window, g));
        }
        else if (c.Mixer == MixerKind.Conv)
        {
            MixerNorm = RegisterModule("conv_norm", new RmsNorm(c.Dim));
            Conv = RegisterModule("conv", new CausalConv(c.Dim, c.ConvKernel, g));
        }
        if (c.Kind == LmKind.Continual)
        {
            MemoryNorm = RegisterModule("memory_norm", new RmsNorm(c.Dim));
            Memory = RegisterModule("memory", new FastWeightLayer(c.Dim, c.FastWeight with { Heads = c.Heads }, g));
        }
        MlpNorm = RegisterModule("mlp_norm", new RmsNorm(c.Dim));
        Mlp = RegisterModule("mlp", new SwiGlu(c.Dim, c.MlpWidth, g));
    }

    public IEnumerable<IStreamState> InitialStates()
    {
        if (Attention is not null) yield return Attention.InitialState();
        if (Conv is not null) yield return Conv.InitialState();
        if (Gru is not null) yield return Gru.InitialState();
        if (Memory is not null) yield return new FastWeightStreamState(Memory.InitialState());
    }

    /// <summary>x [1, T, D]; consumes this block's states from `states` starting at index i.</summary>
    public Tensor Forward(Tensor x, IStreamState[] states, ref int i)
    {
        if (Attention is not null) x = x + Attention.Forward(MixerNorm!.Forward(x), (KvState)states[i++]);
        if (Conv is not null) x = x + Conv.Forward(MixerNorm!.Forward(x), (ConvState)states[i++]);
        if (Gru is not null) x = x + Gru.Forward(MixerNorm!.Forward(x), (GruState)states[i++]);
        if (Memory is not null) x = x + Memory.Forward(MemoryNorm!.Forward(x), ((FastWeightStreamState)states[i++]).Inner);
        return x + Mlp.Forward(MlpNorm.Forward(x));
    }
}

/// <summary>A byte-level stream LM: inputs (bytes, or 256 at the start of a stream) → next-byte logits [T, 256].
/// Forward over a chunk equals Forward token by token within that chunk, bit for bit.</summary>
public sealed class StreamLm : Module
{
    public LmConfig Config { get; }
    public Embedding Embed { get; }
    public ModuleList<StreamBlock> Blocks { get; }
    public RmsNorm FinalNorm { get; }
    public Linear Head { get; }

    public StreamLm(LmConfig config, Generator generator)
    {
        if (config.Dim <= 0 || config.Layers <= 0)
            throw new EngramException($"model: dim and layers must be positive, got dim {config.Dim}, layers {config.Layers}");
        Config = config;
        Embed = RegisterModule("embed", new Embedding(LmConfig.Vocabulary + 1, config.Dim, generator, std: 1.0));
        Blocks = RegisterModule("blocks",
            new ModuleList<StreamBlock>(Enumerable.Range(0, config.Layers).Select(_ => new StreamBlock(config, generator))));
        FinalNorm = RegisterModule("final_norm", new RmsNorm(config.Dim));
        Head = RegisterModule("head", new Linear(config.Dim, LmConfig.Vocabulary, false, generator));
        int k = config.CountExperts;
        if (k > 0)
        {
            MixGate = RegisterModule("mix_gate", new Linear(config.Dim + ContextCounts.ConfidenceFeatures * k, k, true, generator));
            // start with weak experts: softplus(−2) ≈ 0.13 each
            MixGate.Bias!.CopyFrom(Tensor.Full([k], -2.0));
        }
    }

    /// <summary>Compute count features on another core while the blocks run (default: when there is more than one
    /// core). Results are identical either way.</summary>
    public static bool OverlapCounts { get; set; } = Environment.ProcessorCount > 1;

    /// <summary>The count memory's view of each position: its experts, their confidence features, and the match model's
    /// prediction (byte or −1, match length, and its own probability), all from the bytes before the position.</summary>
    sealed record CountView(SparseExperts Experts, float[] Confidence, MatchModel.Guess[] Match);

    CountView CountFeatures(ContextCounts counts, int[] inputs)
    {
        int t = inputs.Length, k = Config.CountExperts;
        var experts = new SparseExperts(k, LmConfig.Vocabulary);
        var confidence = new float[t * k * ContextCounts.ConfidenceFeatures];
        var match = new MatchModel.Guess[counts.Match is null ? 0 : t];
        for (int p = 0; p < t; p++)
        {
            if (inputs[p] != LmConfig.StartToken) counts.Update((byte)inputs[p]);
            counts.Predict(experts, confidence.AsSpan(p * k * ContextCounts.ConfidenceFeatures, k * ContextCounts.ConfidenceFeatures));
            if (counts.Match is { } m) match[p] = m.Current;
        }
        return new(experts, confidence, match);
    }

    /// <summary>Gates of the context-count experts: w = softplus(θ [h; confidence]), one per order.</summary>
    public Linear? MixGate { get; }

    /// <summary>logits + Σ_k w_k log p_k with w = softplus(MixGate [h; confidence]): the count experts mixed in.</summary>
    Tensor MixCounts(Tensor h, Tensor logits, SparseExperts experts, float[] confidence)
    {
        int t = h.Shape[0], f = Config.CountExperts * ContextCounts.ConfidenceFeatures;
        if (experts.Rows != t || confidence.Length != t * f)
            throw new ShapeMismatchException($"model: the count inputs cover {experts.Rows} positions, the piece {t}");
        var gate = MixGate!.Forward(Tensor.Concat([h, Tensor.FromArray(confidence, t, f)], 1)).Softplus();
        return logits + ExpertMix.Forward(gate, experts);
    }

    static Tensor Shifted(Tensor mixed, float[]? shift, int t)
        => shift is null ? mixed : mixed + Tensor.FromArray(shift, t, LmConfig.Vocabulary);

    public LmState InitialState() => new(Enumerable.Range(0, Blocks.Count).SelectMany(i => Blocks[i].InitialStates()).ToArray(),
        Config.NewCounts());

    /// <summary>The network's representation of each input: the final normalised hidden state [T, Dim], before the head
    /// and without the count memory (which is neither consulted nor advanced). Advances the layer states.</summary>
    public Tensor Hidden(int[] inputs, LmState state)
    {
        var x = Embed.Forward(inputs, 1, inputs.Length);
        int i = 0;
        foreach (var block in Blocks) x = block.Forward(x, state.Layers, ref i);
        return FinalNorm.Forward(x).Reshape(inputs.Length, Config.Dim);
    }

    /// <summary>inputs → logits [T, 256], advancing the state. With `given` (what a stepper's pass over the same inputs
    /// recorded), the count memory is not consulted or advanced again: its contribution is taken from `given`.</summary>
    public Tensor Forward(int[] inputs, LmState state, CountInputs? given = null)
    {
        // The count features depend only on the input bytes: on a long enough piece they are computed on another
        // core while the blocks run (the result is the same either way).
        var counts = MixGate is null ? null : state.Counts ?? throw new EngramException("model: state has no context counts");
        Task<CountView>? background = null;
        CountView? features = null;
        if (given is not null) counts = null;
        if (counts is not null)
        {
            if (inputs.Length >= 16 && OverlapCounts) background = Task.Run(() => CountFeatures(counts, inputs));
            else features = CountFeatures(counts, inputs);
        }
        var h = Hidden(inputs, state);
        var logits = Head.Forward(h);
        int t = inputs.Length;
        if (given is not null && MixGate is not null) return Shifted(MixCounts(h, logits, given.Experts, given.Confidence), given.Shift, t);
        if (counts is null) return logits;
        // logits += Σ_k w_k log p_k: each order's estimate from the counts of the bytes before this position
        var view = features ?? background!.GetAwaiter().GetResult();
        var mixed = MixCounts(h, logits, view.Experts, view.Confidence);
        if (counts.Match is not { } matcher) return mixed;
        // The match model's byte gets the probability its adaptive map gives (a constant shift of its logit: gradients
        // reach the mixture as if the shifted output were its own).
        return Shifted(mixed, matcher.Refine(mixed.Detach().Contiguous().AsSpanF32(), view.Match, inputs), t);
    }
}

/// <summary>A named stream-LM configuration with the learning chunk it was tuned with.</summary>
public sealed record StreamPreset(string Name, LmConfig Model, int Chunk, string Description);

/// <summary>The stream-LM presets, in one table.</summary>
public static class Presets
{
    public const string Default = "small";

    static readonly int[] Orders = [1, 2, 3, 4, 5, 6, 8, 12, 16, 24];
    static readonly int[] MoreOrders = [1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16, 20, 24, 32];
    static readonly FastWeightOptions OneMiniBatchPerChunk = FastWeightOptions.TttLinear with { MiniBatch = 64 };

    /// <summary>Every preset. Chunks are a multiple of the preset's fast-weight mini-batch, so mini-batches stay
    /// inside chunks.</summary>
    public static readonly IReadOnlyList<StreamPreset> Table =
    [
        new("tiny", new() { Preset = "tiny", Dim = 32, Layers = 1, Heads = 2, Mixer = MixerKind.Conv, MlpWidth = 64,
            FastWeight = OneMiniBatchPerChunk, ContextOrders = Orders, MatchMinLength = 7, MatchWindowBits = 20, MatchRule = 2 }, 64,
            "small at dim 32, with a 1 MB match window"),
        new("small", new() { Preset = "small", Dim = 64, Layers = 1, Heads = 4, Mixer = MixerKind.Conv, MlpWidth = 128,
            FastWeight = OneMiniBatchPerChunk, ContextOrders = Orders, MatchMinLength = 7, MatchRule = 2 }, 64,
            "one block: causal convolution, TTT-Linear fast weights (one 64-token mini-batch per chunk), SwiGLU; " +
                "context counts of orders 1–24; a match model over the last 16 MB"),
        new("base", new() { Preset = "base", Dim = 96, Layers = 2, Heads = 4, Mixer = MixerKind.Conv, MlpWidth = 192,
            FastWeight = FastWeightOptions.TttLinear with { MiniBatch = 32 }, ContextOrders = MoreOrders, MatchMinLength = 7,
            MatchRule = 2 }, 32,
            "two wider blocks, more count orders, one 32-token mini-batch per 32-byte chunk"),
        new("neural", new() { Preset = "neural", Dim = 64, Layers = 1, Heads = 4, Mixer = MixerKind.Conv, MlpWidth = 128,
            FastWeight = OneMiniBatchPerChunk }, 64, "small without the context counts: the fast-weight network alone"),
        new("transformer", new() { Preset = "transformer", Kind = LmKind.Transformer, Dim = 128, Layers = 2, Heads = 4, Window = 64,
            MlpWidth = 384 }, 64, "baseline: two sliding-window attention blocks (W = 64), no fast weights"),
        new("gru", new() { Preset = "gru", Kind = LmKind.Gru, Dim = 192, Layers = 1, MlpWidth = 384 }, 64, "baseline: one GRU block"),
    ];

    /// <summary>Model configurations by preset name.</summary>
    public static readonly IReadOnlyDictionary<string, LmConfig> All = Table.ToDictionary(p => p.Name, p => p.Model);

    public static StreamPreset Find(string name) => Table.FirstOrDefault(p => p.Name == name)
        ?? throw new EngramException($"unknown model preset '{name}' (expected one of: {string.Join(", ", All.Keys)})");

    /// <summary>Bytes per learning chunk the preset was tuned with.</summary>
    public static int ChunkFor(string name) => Find(name).Chunk;

    public static LmConfig Get(string name) => Find(name).Model;
}
