// Recursive reasoning models (docs/reasoning.md): HRM (two modules, N×T cycles, 1-step gradient, Q-learning halt and
// continue heads), TRM (one small net, answer y and latent z, n latent updates per recursion, T recursions with the
// last one backpropagated in full, one halt logit) with attention or an MLP-mixer, and the direct-prediction
// Transformer baseline. Each answers a whole grid: tokens [B, L] → logits [B, L, vocab], one "segment" of
// thinking per call, with states carried between segments.
using Engram.Nn;
using Engram.Tensors;

namespace Engram.Models.Reasoning;

/// <summary>One segment's output: logits over the grid [B, L, vocab], the halt logit [B] and (HRM) the continue logit [B].</summary>
public sealed record SegmentOutput(Tensor Logits, Tensor? QHalt, Tensor? QContinue);

/// <summary>Blocks applied to state + injection (the way HRM and TRM merge inputs).</summary>
public sealed class ReasoningStack : Module
{
    readonly List<ISequenceBlock> _blocks = new();

    public ReasoningStack(ReasonerConfig c, int layers, Generator g)
    {
        for (int i = 0; i < layers; i++)
        {
            Module block = c.Kind == ReasonerKind.TrmMlp
                ? new MixerBlock(c.Tokens, c.Hidden, g)
                : new TransformerBlock(c.Hidden, c.Heads, g, NormPlacement.Post, AttentionMask.None, normGain: false,
                    ropeTheta: c.Positions == PositionEncoding.Rope ? 10000 : null);
            RegisterModule(i.ToString(System.Globalization.CultureInfo.InvariantCulture), block);
            _blocks.Add((ISequenceBlock)block);
        }
    }

    public Tensor Forward(Tensor state, Tensor? injection)
    {
        var x = injection is null ? state : state + injection;
        foreach (var b in _blocks) x = b.Forward(x);
        return x;
    }
}

/// <summary>HRM, TRM (attention or MLP-mixer) or the direct Transformer, chosen by the config's Kind.</summary>
public sealed class Reasoner : Module
{
    public ReasonerConfig Config { get; }
    public Embedding TokenEmbedding { get; }
    public Tensor? PuzzleEmbedding { get; }
    public Tensor? PositionEmbedding { get; }
    /// <summary>HRM: H then L; TRM: the one net; Transformer: the stack.</summary>
    public ReasoningStack High { get; }
    public ReasoningStack? Low { get; }
    public Linear Head { get; }
    public Linear? QHead { get; }
    /// <summary>Fixed random initial states (not trained): HRM z_H, z_L; TRM y, z. [Hidden] each.</summary>
    readonly Tensor[] _init;

    public int StateCount => _init.Length;

    public Reasoner(ReasonerConfig config)
    {
        config.Validate();
        Config = config;
        var g = new Generator(config.Seed);
        int h = config.Hidden;
        TokenEmbedding = RegisterModule("embed_tokens", new Embedding(config.Vocab, h, g, std: 1.0 / Math.Sqrt(h)));
        if (config.PuzzleTokens > 0) PuzzleEmbedding = RegisterParameter("puzzle_emb", Init.Zeros([config.PuzzleTokens, h]));
        if (config.Positions == PositionEncoding.Learned) PositionEmbedding = RegisterParameter("embed_pos", Init.TruncatedNormal(g, [config.Tokens, h], 1.0 / Math.Sqrt(h)));
        switch (config.Kind)
        {
            case ReasonerKind.Hrm:
                High = RegisterModule("H_level", new ReasoningStack(config, config.HLayers, g));
                Low = RegisterModule("L_level", new ReasoningStack(config, config.LLayers, g));
                break;
            default:
                High = RegisterModule("net", new ReasoningStack(config, config.Layers, g));
                break;
        }
        Head = RegisterModule("lm_head", new Linear(h, config.Vocab, false, g));
        if (config.Kind != ReasonerKind.Transformer)
        {
            QHead = RegisterModule("q_head", new Linear(h, config.Kind == ReasonerKind.Hrm ? 2 : 1, true, g));
            using (Autograd.NoGrad()) { QHead.Weight.CopyFrom(Tensor.ZerosLike(QHead.Weight)); QHead.Bias!.CopyFrom(Tensor.Full(QHead.Bias.Shape, -5)); }
        }
        int states = config.Kind == ReasonerKind.Transformer ? 0 : 2;
        _init = new Tensor[states];
        var ig = new Generator(config.Seed ^ 0x5EED_0F_1A17UL);
        for (int i = 0; i < states; i++) _init[i] = Init.TruncatedNormal(ig, [h], 1.0);
    }

    /// <summary>Tokens [B·L] → input embedding [B, P + L, H]: puzzle embedding prepended, token embeddings scaled by √H.</summary>
    public Tensor Embed(int[] tokens, int batch)
    {
        var c = Config;
        if (tokens.Length != batch * c.SeqLen) throw new ShapeMismatchException($"reasoner: {tokens.Length} tokens for a batch of {batch} grids of {c.SeqLen}");
        var x = TokenEmbedding.Forward(tokens, batch, c.SeqLen) * Math.Sqrt(c.Hidden);
        if (PuzzleEmbedding is not null) x = Tensor.Concat([PuzzleEmbedding.Unsqueeze(0).Expand(batch, c.PuzzleTokens, c.Hidden), x], 1);
        if (PositionEmbedding is not null) x = (x + PositionEmbedding) * Math.Sqrt(0.5);
        return x;
    }

    /// <summary>The initial carry for a batch: every state at its fixed initial vector, [B, P + L, H] each.</summary>
    public Tensor[] InitialCarry(int batch)
    {
        var carry = new Tensor[_init.Length];
        for (int i = 0; i < carry.Length; i++) carry[i] = _init[i].Reshape(1, 1, Config.Hidden).Expand(batch, Config.Tokens, Config.Hidden).Contiguous();
        return carry;
    }

    /// <summary>Sets the carry of one batch slot back to the initial states (in place; the carry is detached).</summary>
    public void ResetSlot(Tensor[] carry, int slot)
    {
        for (int i = 0; i < carry.Length; i++)
        {
            var rows = carry[i].AsSpanF32().Slice(slot * Config.Tokens * Config.Hidden, Config.Tokens * Config.Hidden);
            var v = _init[i].AsSpanF32();
            for (int t = 0; t < Config.Tokens; t++) v.CopyTo(rows.Slice(t * Config.Hidden, Config.Hidden));
        }
    }

    /// <summary>One segment of thinking from the carry (detached states [B, P + L, H]) on input embedding x.
    /// HRM: N·T − 1 low-level and N − 1 high-level updates without gradient, then the last L and H updates with it.
    /// TRM: T − 1 recursions without gradient, then one recursion (n latent updates and one answer update) with it.
    /// Returns the output and the new carry (detached).</summary>
    public (SegmentOutput Output, Tensor[] Carry) Segment(Tensor[] carry, Tensor x)
    {
        var c = Config;
        Tensor answer;
        Tensor[] next;
        switch (c.Kind)
        {
            case ReasonerKind.Hrm:
            {
                Tensor zH = carry[0], zL = carry[1];
                using (Autograd.NoGrad())
                {
                    for (int i = 0; i < c.HCycles; i++)
                    {
                        for (int j = 0; j < c.LCycles; j++)
                            if (i < c.HCycles - 1 || j < c.LCycles - 1) zL = Low!.Forward(zL, zH + x);
                        if (i < c.HCycles - 1) zH = High.Forward(zH, zL);
                    }
                }
                zL = Low!.Forward(zL, zH + x);
                zH = High.Forward(zH, zL);
                answer = zH; next = [zH.Detach(), zL.Detach()];
                break;
            }
            case ReasonerKind.Trm or ReasonerKind.TrmMlp:
            {
                Tensor y = carry[0], z = carry[1];
                using (Autograd.NoGrad())
                {
                    for (int r = 0; r < c.Recursions - 1; r++)
                    {
                        for (int i = 0; i < c.LatentSteps; i++) z = High.Forward(z, y + x);
                        y = High.Forward(y, z);
                    }
                }
                for (int i = 0; i < c.LatentSteps; i++) z = High.Forward(z, y + x);
                y = High.Forward(y, z);
                answer = y; next = [y.Detach(), z.Detach()];
                break;
            }
            default:
                answer = High.Forward(x, null); next = [];
                break;
        }
        var grid = c.PuzzleTokens > 0 ? answer.Narrow(1, c.PuzzleTokens, c.SeqLen) : answer;
        var logits = Head.Forward(grid);
        Tensor? qHalt = null, qContinue = null;
        if (QHead is not null)
        {
            var q = QHead.Forward(answer.Narrow(1, 0, 1).Reshape(answer.Shape[0], c.Hidden));
            if (c.Kind == ReasonerKind.Hrm) { qHalt = q.Narrow(1, 0, 1).Reshape(-1); qContinue = q.Narrow(1, 1, 1).Reshape(-1); }
            else qHalt = q.Reshape(-1);
        }
        return (new SegmentOutput(logits, qHalt, qContinue), next);
    }
}
