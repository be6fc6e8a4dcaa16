// Autograd entry points on the tensor itself.
namespace Engram.Tensors;

public sealed partial class Tensor
{
    /// <summary>Backpropagates from this tensor (a scalar unless gradOutput is given) into every leaf's .Grad.</summary>
    public void Backward(Tensor? gradOutput = null, bool retainGraph = false, bool createGraph = false)
        => Autograd.Backward(this, gradOutput, retainGraph, createGraph);

    /// <summary>Zeroes gradients in place where they are plain buffers; drops them when setToNone (or when a gradient has a
    /// graph).</summary>
    public static void ZeroGradients(IEnumerable<Tensor> parameters, bool setToNone)
    {
        if (parameters is IReadOnlyList<Tensor> list) // indexed: a foreach over the interface would box its enumerator
        {
            for (int i = 0; i < list.Count; i++) ZeroGradient(list[i], setToNone);
            return;
        }
        foreach (var p in parameters) ZeroGradient(p, setToNone);
    }

    static void ZeroGradient(Tensor p, bool setToNone)
    {
        var g = p.Grad;
        if (g is null) return;
        if (setToNone || g.RequiresGrad || !g.IsContiguous || g.IsReleased) p.Grad = null;
        else if (g.DType == DType.Float32) g.Span<float>().Clear();
        else g.Span<double>().Clear();
    }

    /// <summary>Marks this tensor as a leaf that needs gradients; returns it.</summary>
    public Tensor RequireGrad(bool on = true) { RequiresGrad = on; return this; }
}
