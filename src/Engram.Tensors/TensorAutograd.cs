// Autograd entry points on the tensor itself.
namespace Engram.Tensors;

public sealed partial class Tensor
{
    /// <summary>Backpropagates from this tensor (a scalar unless gradOutput is given) into every leaf's .Grad.</summary>
    public void Backward(Tensor? gradOutput = null, bool retainGraph = false, bool createGraph = false)
        => Autograd.Backward(this, gradOutput, retainGraph, createGraph);

    /// <summary>Marks this tensor as a leaf that needs gradients; returns it.</summary>
    public Tensor RequireGrad(bool on = true) { RequiresGrad = on; return this; }
}
