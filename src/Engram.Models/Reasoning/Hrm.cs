// HRM, the Hierarchical Reasoning Model (Wang et al. 2025, arXiv 2506.21734; docs/reasoning.md): two stacks, L (the
// fast low level) and H (the slow high level), N high-level cycles of T low-level steps per segment, the 1-step
// gradient, and a Q head with halt and continue logits.
using Engram.Tensors;

namespace Engram.Models.Reasoning;

public sealed class Hrm : Reasoner
{
    /// <summary>The high-level stack (parameters "H_level"); the answer is read from its state z_H.</summary>
    public ReasoningStack High => Stacks[0];
    /// <summary>The low-level stack (parameters "L_level").</summary>
    public ReasoningStack Low => Stacks[1];

    public Hrm(ReasonerConfig config)
        : base(OfKind(config, "HRM", ReasonerKind.Hrm), [("H_level", config.HLayers), ("L_level", config.LLayers)],
            g => AttentionBlock(config, g), haltOutputs: 2, states: 2)
    {
    }

    /// <summary>States z_H, z_L. N·T − 1 low-level and N − 1 high-level updates without gradient, then the last L and
    /// H updates with it (the 1-step gradient).</summary>
    protected override (Tensor Answer, Tensor[] States) Think(Tensor[] states, Tensor x)
    {
        var c = Config;
        Tensor zH = states[0], zL = states[1];
        using (Autograd.NoGrad())
        {
            for (int i = 0; i < c.HCycles; i++)
            {
                for (int j = 0; j < c.LCycles; j++)
                    if (i < c.HCycles - 1 || j < c.LCycles - 1) zL = Low.Forward(zL, zH + x);
                if (i < c.HCycles - 1) zH = High.Forward(zH, zL);
            }
        }
        zL = Low.Forward(zL, zH + x);
        zH = High.Forward(zH, zL);
        return (zH, [zH.Detach(), zL.Detach()]);
    }
}
