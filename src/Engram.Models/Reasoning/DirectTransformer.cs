// The direct-prediction Transformer baseline (docs/reasoning.md): the stack applied once to the input, with no
// carried states and no halting head, so it answers in one segment.
using Engram.Tensors;

namespace Engram.Models.Reasoning;

public sealed class DirectTransformer : Reasoner
{
    /// <summary>The stack of attention blocks (parameters "net").</summary>
    public ReasoningStack Net => Stacks[0];

    public DirectTransformer(ReasonerConfig config)
        : base(OfKind(config, "Transformer", ReasonerKind.Transformer), [("net", config.Layers)], g => AttentionBlock(config, g),
            haltOutputs: 0, states: 0)
    {
    }

    protected override (Tensor Answer, Tensor[] States) Think(Tensor[] states, Tensor x) => (Net.Forward(x, null), []);
}
