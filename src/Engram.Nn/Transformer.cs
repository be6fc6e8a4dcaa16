// Transformer building blocks: multi-head attention with rotary positions, the SwiGLU feed-forward and a
// block that combines them (pre-norm or post-norm, as HRM/TRM use). Names follow the Llama convention
// (q_proj, k_proj, v_proj, o_proj; gate_proj, up_proj, down_proj) so weights map to PyTorch state dicts.
using Engram.Tensors;

namespace Engram.Nn;

/// <summary>Multi-head attention: x [B, T, C] → [B, T, C]; heads of dimension C/heads, optional RoPE, no biases.</summary>
public sealed class MultiHeadAttention : Module
{
    public int Hidden { get; }
    public int Heads { get; }
    public int HeadDim => Hidden / Heads;
    public AttentionMask Mask { get; }
    public int Window { get; }
    public double? RopeTheta { get; }
    public Linear QProj { get; }
    public Linear KProj { get; }
    public Linear VProj { get; }
    public Linear OProj { get; }
    (Tensor Cos, Tensor Sin, int T)? _rope;

    public MultiHeadAttention(int hidden, int heads, Generator generator, AttentionMask mask = AttentionMask.None, int window = 0,
        double? ropeTheta = 10000)
    {
        if (heads <= 0 || hidden % heads != 0)
            throw new ShapeMismatchException($"MultiHeadAttention: hidden {hidden} is not divisible by {heads} heads");
        Hidden = hidden; Heads = heads; Mask = mask; Window = window; RopeTheta = ropeTheta;
        QProj = RegisterModule("q_proj", new Linear(hidden, hidden, false, generator));
        KProj = RegisterModule("k_proj", new Linear(hidden, hidden, false, generator));
        VProj = RegisterModule("v_proj", new Linear(hidden, hidden, false, generator));
        OProj = RegisterModule("o_proj", new Linear(hidden, hidden, false, generator));
    }

    Tensor SplitHeads(Tensor x, int b, int t) => x.Reshape(b, t, Heads, HeadDim).Transpose(1, 2);

    public Tensor Forward(Tensor x)
    {
        if (x.Rank != 3 || x.Shape[2] != Hidden)
            throw new ShapeMismatchException($"MultiHeadAttention: input {x.ShapeText}, expected [B, T, {Hidden}]");
        int b = x.Shape[0], t = x.Shape[1];
        var q = SplitHeads(QProj.Forward(x), b, t);
        var k = SplitHeads(KProj.Forward(x), b, t);
        var v = SplitHeads(VProj.Forward(x), b, t);
        if (RopeTheta is double theta)
        {
            if (_rope is not { } r || r.T != t || r.Cos.DType != x.DType)
            {
                using var keep = TensorScope.Suspend(); // a cache that outlives the caller's TensorScope
                var (c, s) = Functional.RotaryTables(t, HeadDim, theta, dtype: x.DType);
                _rope = r = (c, s, t);
            }
            q = Functional.ApplyRotary(q, r.Cos, r.Sin);
            k = Functional.ApplyRotary(k, r.Cos, r.Sin);
        }
        var a = Functional.ScaledDotProductAttention(q, k, v, Mask, Window);
        return OProj.Forward(a.Transpose(1, 2).Reshape(b, t, Hidden));
    }
}

/// <summary>SwiGLU feed-forward: down(silu(gate(x)) ⊙ up(x)).</summary>
public sealed class SwiGlu : Module
{
    public Linear GateProj { get; }
    public Linear UpProj { get; }
    public Linear DownProj { get; }

    public SwiGlu(int hidden, int width, Generator generator)
    {
        GateProj = RegisterModule("gate_proj", new Linear(hidden, width, false, generator));
        UpProj = RegisterModule("up_proj", new Linear(hidden, width, false, generator));
        DownProj = RegisterModule("down_proj", new Linear(width, hidden, false, generator));
    }

    /// <summary>The width HRM/TRM use: 8/3 of hidden, rounded up to a multiple of 256.</summary>
    public static int DefaultWidth(int hidden) => (int)Math.Ceiling(hidden * 8.0 / 3 / 256) * 256;

    public Tensor Forward(Tensor x) => DownProj.Forward(Functional.SwiGlu(GateProj.Forward(x), UpProj.Forward(x)));
}

public enum NormPlacement { Pre, Post }

/// <summary>One Transformer block. Post-norm (HRM/TRM): x = N(x + Attn(x)); x = N(x + MLP(x)).
/// Pre-norm: x = x + Attn(N(x)); x = x + MLP(N(x)).</summary>
public sealed class TransformerBlock : Module, ISequenceBlock
{
    public MultiHeadAttention Attn { get; }
    public SwiGlu Mlp { get; }
    public RmsNorm AttnNorm { get; }
    public RmsNorm MlpNorm { get; }
    public NormPlacement Placement { get; }

    public TransformerBlock(int hidden, int heads, Generator generator, NormPlacement placement = NormPlacement.Pre,
        AttentionMask mask = AttentionMask.Causal, int window = 0, int? mlpWidth = null, double normEps = 1e-5, bool normGain = true,
        double? ropeTheta = 10000)
    {
        Placement = placement;
        Attn = RegisterModule("attn", new MultiHeadAttention(hidden, heads, generator, mask, window, ropeTheta));
        Mlp = RegisterModule("mlp", new SwiGlu(hidden, mlpWidth ?? SwiGlu.DefaultWidth(hidden), generator));
        AttnNorm = RegisterModule("attn_norm", new RmsNorm(hidden, normEps, normGain));
        MlpNorm = RegisterModule("mlp_norm", new RmsNorm(hidden, normEps, normGain));
    }

    public Tensor Forward(Tensor x)
    {
        if (Placement == NormPlacement.Post)
        {
            x = AttnNorm.Forward(x + Attn.Forward(x));
            return MlpNorm.Forward(x + Mlp.Forward(x));
        }
        x = x + Attn.Forward(AttnNorm.Forward(x));
        return x + Mlp.Forward(MlpNorm.Forward(x));
    }
}

/// <summary>A block that maps a sequence [B, T, C] to a sequence of the same shape.</summary>
public interface ISequenceBlock
{
    Tensor Forward(Tensor x);
}

/// <summary>MLP-mixer block for fixed-length sequences (TRM's "MLP-T"), post-norm: x = N(x + TokenMlp(xᵀ)ᵀ), mixing
/// positions with a SwiGLU across the sequence dimension in place of attention; then x = N(x + ChannelMlp(x)).</summary>
public sealed class MixerBlock : Module, ISequenceBlock
{
    public int SeqLen { get; }
    public SwiGlu TokenMlp { get; }
    public SwiGlu ChannelMlp { get; }
    public RmsNorm TokenNorm { get; }
    public RmsNorm ChannelNorm { get; }

    public MixerBlock(int seqLen, int hidden, Generator generator, double normEps = 1e-5, bool normGain = false)
    {
        SeqLen = seqLen;
        TokenMlp = RegisterModule("token_mlp", new SwiGlu(seqLen, SwiGlu.DefaultWidth(seqLen), generator));
        ChannelMlp = RegisterModule("mlp", new SwiGlu(hidden, SwiGlu.DefaultWidth(hidden), generator));
        TokenNorm = RegisterModule("token_norm", new RmsNorm(hidden, normEps, normGain));
        ChannelNorm = RegisterModule("mlp_norm", new RmsNorm(hidden, normEps, normGain));
    }

    public Tensor Forward(Tensor x)
    {
        if (x.Rank != 3 || x.Shape[1] != SeqLen)
            throw new ShapeMismatchException($"MixerBlock: input {x.ShapeText}, expected [B, {SeqLen}, C]");
        x = TokenNorm.Forward(x + TokenMlp.Forward(x.Transpose(1, 2)).Transpose(1, 2));
        return ChannelNorm.Forward(x + ChannelMlp.Forward(x));
    }
}
