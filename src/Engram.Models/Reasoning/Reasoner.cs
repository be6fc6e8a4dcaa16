// What the recursive reasoning models (docs/reasoning.md) share: HRM (Hrm.cs), TRM with attention or an MLP-mixer
// (Trm.cs) and the direct-prediction Transformer baseline (DirectTransformer.cs) each answer a whole grid: tokens
// [B, L] → logits [B, L, vocab], one "segment" of thinking per call, from states carried between segments. They
// share the input embedding, the stacks of blocks that merge state and injection, the output head, the halting
// head and the fixed initial states; each model only says how one segment recurs over its stacks. Halting, and
// the carry of a batch between segments, are in AdaptiveComputation.cs.
using Engram.Nn;
using Engram.Tensors;

namespace Engram.Models.Reasoning;

/// <summary>One segment's output: logits over the grid [B, L, vocab], the halt logit [B] and (HRM) the continue
/// logit [B].</summary>
public sealed record SegmentOutput(Tensor Logits, Tensor? QHalt, Tensor? QContinue);

/// <summary>Blocks applied to state + injection (the way HRM and TRM merge inputs).</summary>
public sealed class ReasoningStack : Module
{
    readonly List<ISequenceBlock> _blocks = new();

    /// <summary>A stack of `layers` blocks made by `block` (a Module that is an ISequenceBlock) from g, in order.</summary>
    public ReasoningStack(int layers, Func<Generator, Module> block, Generator g)
    {
        for (int i = 0; i < layers; i++)
        {
            var b = block(g);
            RegisterModule(i.ToString(System.Globalization.CultureInfo.InvariantCulture), b);
            _blocks.Add((ISequenceBlock)b);
        }
    }

    public Tensor Forward(Tensor state, Tensor? injection)
    {
        var x = injection is null ? state : state + injection;
        foreach (var b in _blocks) x = b.Forward(x);
        return x;
    }
}

/// <summary>A reasoning model: HRM, TRM (attention or MLP-mixer) or the direct Transformer (Create picks by the
/// config's Kind). Parameters, in this order: the embeddings, the model's stacks, the output head, the halting
/// head; the random initialisation draws in the same order.</summary>
public abstract class Reasoner : Module
{
    public ReasonerConfig Config { get; }
    public Embedding TokenEmbedding { get; }
    public Tensor? PuzzleEmbedding { get; }
    public Tensor? PositionEmbedding { get; }
    public Linear Head { get; }
    /// <summary>The halting head (HRM: halt and continue; TRM: halt), read at position 0; none in the direct
    /// Transformer.</summary>
    public Linear? QHead { get; }
    /// <summary>The model's stacks, in the order the model gave them.</summary>
    protected IReadOnlyList<ReasoningStack> Stacks { get; }
    /// <summary>Fixed random initial states (not trained): HRM z_H, z_L; TRM y, z. [Hidden] each.</summary>
    readonly Tensor[] _init;

    /// <summary>States carried between segments (0 for the direct Transformer).</summary>
    public int StateCount => _init.Length;

    /// <summary>The model the config describes: Hrm, Trm (attention or MLP-T) or DirectTransformer.</summary>
    public static Reasoner Create(ReasonerConfig config) => config.Kind switch
    {
        ReasonerKind.Hrm => new Hrm(config),
        ReasonerKind.Trm or ReasonerKind.TrmMlp => new Trm(config),
        ReasonerKind.Transformer => new DirectTransformer(config),
        _ => throw new EngramException($"reasoner: unknown model kind {config.Kind}"),
    };

    /// <summary>stacks: the model's stacks, named (their parameters' prefix) and sized, each of blocks made by
    /// `block`; haltOutputs: 2 (halt, continue), 1 (halt) or 0 (no halting head); states: how many states it carries.
    /// </summary>
    protected Reasoner(ReasonerConfig config, IReadOnlyList<(string Name, int Layers)> stacks, Func<Generator, Module> block,
        int haltOutputs, int states)
    {
        config.Validate();
        Config = config;
        var g = new Generator(config.Seed);
        int h = config.Hidden;
        TokenEmbedding = RegisterModule("embed_tokens", new Embedding(config.Vocab, h, g, std: 1.0 / Math.Sqrt(h)));
        if (config.PuzzleTokens > 0) PuzzleEmbedding = RegisterParameter("puzzle_emb", Init.Zeros([config.PuzzleTokens, h]));
        if (config.Positions == PositionEncoding.Learned)
            PositionEmbedding = RegisterParameter("embed_pos", Init.TruncatedNormal(g, [config.Tokens, h], 1.0 / Math.Sqrt(h)));
        Stacks = stacks.Select(s => RegisterModule(s.Name, new ReasoningStack(s.Layers, block, g))).ToArray();
        Head = RegisterModule("lm_head", new Linear(h, config.Vocab, false, g));
        if (haltOutputs > 0)
        {
            QHead = RegisterModule("q_head", new Linear(h, haltOutputs, true, g));
            using (Autograd.NoGrad())
            {
                QHead.Weight.CopyFrom(Tensor.ZerosLike(QHead.Weight));
                QHead.Bias!.CopyFrom(Tensor.Full(QHead.Bias.Shape, -5));
            }
        }
        _init = new Tensor[states];
        var ig = new Generator(config.Seed ^ 0x5EED_0F_1A17UL);
        for (int i = 0; i < states; i++) _init[i] = Init.TruncatedNormal(ig, [h], 1.0);
    }

    /// <summary>Throws unless the config is of one of the kinds a model class implements.</summary>
    protected static ReasonerConfig OfKind(ReasonerConfig config, string model, params ReasonerKind[] kinds)
        => kinds.Contains(config.Kind) ? config
            : throw new EngramException($"{model}: expected a config of kind {string.Join(" or ", kinds)}, not {config.Kind}");

    /// <summary>The attention block of all three models: post-norm, RMSNorm without gain, non-causal, RoPE unless the
    /// config says otherwise.</summary>
    protected static Module AttentionBlock(ReasonerConfig c, Generator g)
        => new TransformerBlock(c.Hidden, c.Heads, g, NormPlacement.Post, AttentionMask.None, normGain: false,
            ropeTheta: c.Positions == PositionEncoding.Rope ? 10000 : null);

    /// <summary>Tokens [B·L] → input embedding [B, P + L, H]: puzzle embedding prepended, token embeddings scaled by
    /// √H.</summary>
    public Tensor Embed(int[] tokens, int batch)
    {
        var c = Config;
        if (tokens.Length != batch * c.SeqLen)
            throw new ShapeMismatchException($"reasoner: {tokens.Length} tokens for a batch of {batch} grids of {c.SeqLen}");
        var x = TokenEmbedding.Forward(tokens, batch, c.SeqLen) * Math.Sqrt(c.Hidden);
        if (PuzzleEmbedding is not null) x = Tensor.Concat([PuzzleEmbedding.Unsqueeze(0).Expand(batch, c.PuzzleTokens, c.Hidden), x], 1);
        if (PositionEmbedding is not null) x = (x + PositionEmbedding) * Math.Sqrt(0.5);
        return x;
    }

    /// <summary>The initial states for a batch: every state at its fixed initial vector, [B, P + L, H] each.</summary>
    public Tensor[] InitialStates(int batch)
    {
        var states = new Tensor[_init.Length];
        for (int i = 0; i < states.Length; i++)
            states[i] = _init[i].Reshape(1, 1, Config.Hidden).Expand(batch, Config.Tokens, Config.Hidden).Contiguous();
        return states;
    }

    /// <summary>Sets the states of one batch slot back to the initial ones (in place; the states are detached and
    /// contiguous).</summary>
    public void ResetStates(Tensor[] states, int slot)
    {
        int rows = Config.Tokens * Config.Hidden;
        for (int i = 0; i < states.Length; i++)
        {
            var slotRows = states[i].AsSpanF32().Slice(slot * rows, rows);
            var v = _init[i].AsSpanF32();
            for (int t = 0; t < Config.Tokens; t++) v.CopyTo(slotRows.Slice(t * Config.Hidden, Config.Hidden));
        }
    }

    /// <summary>One segment of thinking from the states (detached, [B, P + L, H]) on input embedding x: the model's
    /// recursion (Think), then the grid's logits and the halting logits from position 0 of the answer state.
    /// Returns the output and the new states (detached).</summary>
    public (SegmentOutput Output, Tensor[] States) Segment(Tensor[] states, Tensor x)
    {
        var c = Config;
        var (answer, next) = Think(states, x);
        var grid = c.PuzzleTokens > 0 ? answer.Narrow(1, c.PuzzleTokens, c.SeqLen) : answer;
        var logits = Head.Forward(grid);
        Tensor? qHalt = null, qContinue = null;
        if (QHead is not null)
        {
            var q = QHead.Forward(answer.Narrow(1, 0, 1).Reshape(answer.Shape[0], c.Hidden));
            if (q.Shape[1] == 2) { qHalt = q.Narrow(1, 0, 1).Reshape(-1); qContinue = q.Narrow(1, 1, 1).Reshape(-1); }
            else qHalt = q.Reshape(-1);
        }
        return (new SegmentOutput(logits, qHalt, qContinue), next);
    }

    /// <summary>The model's own recursion over its stacks for one segment: the state the heads read [B, P + L, H]
    /// (with its graph for the gradient) and the new states, detached.</summary>
    protected abstract (Tensor Answer, Tensor[] States) Think(Tensor[] states, Tensor x);
}
