// Fused RMSNorm, cross-entropy, SwiGLU and rotary embeddings against their references (float32), output and gradients,
// at every row length 1..256.
namespace Engram.Tensors.Tests;

[Trait("Category", "Kernels")]
public class FusedTests
{
    static (double[] Out, double[][] Grads) Run(bool fused, Func<Tensor[], Tensor> f, Tensor[] inputs, ulong seed)
    {
        var xs = inputs.Select(t => t.CloneDetached().RequireGrad()).ToArray();
        Functional.UseFused = fused;
        try
        {
            var y = f(xs);
            var w = Tensor.Randn(new Generator(seed), y.Shape);
            (y * w).Sum().Backward();
            return (y.ToDoubleArray(), xs.Select(x => x.Grad!.ToDoubleArray()).ToArray());
        }
        finally { Functional.UseFused = true; }
    }

    static void Same(Func<Tensor[], Tensor> f, Tensor[] inputs, string what)
    {
        var a = Run(false, f, inputs, 9); var b = Run(true, f, inputs, 9);
        void Close(double[] e, double[] x, string part)
        {
            double scale = Math.Max(1, e.Length == 0 ? 0 : e.Max(Math.Abs));
            for (int i = 0; i < e.Length; i++)
                Assert.True(Math.Abs(e[i] - x[i]) <= 3e-6 * scale, $"{what} {part}[{i}]: reference {e[i]}, fused {x[i]}");
        }
        Close(a.Out, b.Out, "output");
        for (int i = 0; i < a.Grads.Length; i++) Close(a.Grads[i], b.Grads[i], $"grad {i}");
    }

    [Fact]
    public void FusedKernelsMatchReferenceAtEveryLength()
    {
        for (int c = 1; c <= 256; c++)
        {
            var g = new Generator((ulong)c);
            var x = Tensor.Randn(g, [3, c]); var w = Tensor.Randn(g, [c]); var u = Tensor.Randn(g, [3, c]);
            Same(t => Functional.RmsNorm(t[0], t[1], 1e-5), [x, w], $"rmsnorm C={c}");
            Same(t => Functional.RmsNorm(t[0], null, 1e-5), [x], $"rmsnorm (no gain) C={c}");
            Same(t => Functional.SwiGlu(t[0], t[1]), [x, u], $"swiglu C={c}");
            if (c % 2 == 0)
            {
                var (cos, sin) = Functional.RotaryTables(3, c, theta: 100);
                Same(t => Functional.ApplyRotary(t[0], cos, sin), [Tensor.Randn(g, [2, 3, c])], $"rotary D={c}");
            }
            int[] targets = [c - 1, -100, c / 2];
            Same(t => Functional.CrossEntropy(t[0], targets), [x * 3.0], $"cross-entropy C={c}");
        }
    }
}
