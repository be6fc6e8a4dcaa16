// TRM, the Tiny Recursive Model (Jolicoeur-Martineau 2025, arXiv 2510.04871; docs/reasoning.md): one small net,
// answer y and latent z, n latent updates per recursion, T recursions per segment with the last one backpropagated
// in full, and one halt logit. Attention blocks, or for the MLP-T variant (trm-mlp) MLP-mixer blocks.
using Engram.Nn;
using Engram.Tensors;

namespace Engram.Models.Reasoning;

public sealed class Trm : Reasoner
{
    /// <summary>The one net (parameters "net"), used for both the latent and the answer updates.</summary>
    public ReasoningStack Net => Stacks[0];

    public Trm(ReasonerConfig config)
        : base(OfKind(config, "TRM", ReasonerKind.Trm, ReasonerKind.TrmMlp), [("net", config.Layers)], Block(config),
            haltOutputs: 1, states: 2)
    {
    }

    /// <summary>MLP-T mixes positions with a SwiGLU across the sequence in place of attention.</summary>
    static Func<Generator, Module> Block(ReasonerConfig c) => c.Kind == ReasonerKind.TrmMlp
        ? g => new MixerBlock(c.Tokens, c.Hidden, g)
        : g => AttentionBlock(c, g);

    /// <summary>States y, z. One recursion: n latent updates z ← net(z, y + x), then y ← net(y, z). T − 1 recursions
    /// without gradient, then one with it, in full.</summary>
    protected override (Tensor Answer, Tensor[] States) Think(Tensor[] states, Tensor x)
    {
        var c = Config;
        Tensor y = states[0], z = states[1];
        using (Autograd.NoGrad())
        {
            for (int r = 0; r < c.Recursions - 1; r++)
            {
                for (int i = 0; i < c.LatentSteps; i++) z = Net.Forward(z, y + x);
                y = Net.Forward(y, z);
            }
        }
        for (int i = 0; i < c.LatentSteps; i++) z = Net.Forward(z, y + x);
        y = Net.Forward(y, z);
        return (y, [y.Detach(), z.Detach()]);
    }
}
