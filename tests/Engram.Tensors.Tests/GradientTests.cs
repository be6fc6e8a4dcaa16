// Every differentiable operation checked against finite differences (float64), and second-order checks
// for the operations that meta-learning and energy-based refinement differentiate twice.
using Engram.Tensors;
using static Engram.Tensors.Tests.GradCheck;

namespace Engram.Tensors.Tests;

public class GradientTests
{
    const double Tol = 1e-6;

    public static TheoryData<string> OpNames() { var d = new TheoryData<string>(); foreach (var k in Cases.Keys) d.Add(k); return d; }

    static readonly Dictionary<string, (Func<Tensor[], Tensor> F, Func<Tensor[]> Inputs)> Cases = new()
    {
        ["add_broadcast"] = (x => x[0] + x[1], () => [R(3, 4), R(4)]),
        ["sub_broadcast"] = (x => x[0] - x[1], () => [R(2, 1, 3), R(4, 1)]),
        ["mul_broadcast"] = (x => x[0] * x[1], () => [R(2, 3, 4), R(3, 1)]),
        ["div"] = (x => x[0] / x[1], () => [R(3, 4), AwayFromZero(3, 4)]),
        ["maximum"] = (x => Tensor.Maximum(x[0], x[1]), () => [R(5, 3), R(5, 3)]),
        ["minimum"] = (x => Tensor.Minimum(x[0], x[1]), () => [R(5, 3), R(3)]),
        ["neg"] = (x => -x[0], () => [R(4)]),
        ["square"] = (x => x[0].Square(), () => [R(5)]),
        ["clone"] = (x => x[0].Clone() * x[0], () => [R(5)]),
        ["flatten_range"] = (x => x[0].Flatten(1, 2) * x[1], () => [R(2, 3, 2), R(6)]),
        ["exp"] = (x => x[0].Exp(), () => [R(3, 3)]),
        ["log"] = (x => x[0].Log(), () => [Positive(3, 3)]),
        ["sqrt"] = (x => x[0].Sqrt(), () => [Positive(7)]),
        ["rsqrt"] = (x => x[0].Rsqrt(), () => [Positive(7)]),
        ["reciprocal"] = (x => x[0].Reciprocal(), () => [AwayFromZero(6)]),
        ["pow3"] = (x => x[0].Pow(3), () => [R(6)]),
        ["pow_tensor"] = (x => Tensor.Pow(x[0], x[1]), () => [Positive(3, 4), R(4)]),
        ["pow_half"] = (x => x[0].Pow(0.5), () => [Positive(6)]),
        ["abs"] = (x => x[0].Abs(), () => [AwayFromZero(8)]),
        ["clamp"] = (x => x[0].Clamp(-0.25, 0.3), () => [AwayFromZero(10) * 0.2]),
        ["relu"] = (x => x[0].Relu(), () => [AwayFromZero(8)]),
        ["gelu"] = (x => x[0].Gelu(), () => [R(9) * 2]),
        ["gelu_tanh"] = (x => x[0].Gelu(approximateTanh: true), () => [R(9) * 2]),
        ["silu"] = (x => x[0].Silu(), () => [R(9) * 2]),
        ["tanh"] = (x => x[0].Tanh(), () => [R(9)]),
        ["sigmoid"] = (x => x[0].Sigmoid(), () => [R(9)]),
        ["softplus"] = (x => x[0].Softplus(), () => [R(9) * 3]),
        ["erf"] = (x => x[0].Erf(), () => [R(9)]),
        ["add_scalar"] = (x => x[0] + 2.5, () => [R(3)]),
        ["rsub_scalar"] = (x => 1.0 - x[0], () => [R(3)]),
        ["mul_scalar"] = (x => x[0] * -1.5, () => [R(3)]),
        ["scalar_div"] = (x => 2.0 / x[0], () => [AwayFromZero(3)]),
        ["sum_all"] = (x => x[0].Sum(), () => [R(3, 4)]),
        ["sum_dims_keep"] = (x => x[0].Sum([0, 2], keepDim: true), () => [R(2, 3, 4)]),
        ["sum_dim"] = (x => x[0].Sum(1), () => [R(2, 3, 4)]),
        ["mean"] = (x => x[0].Mean(-1), () => [R(2, 5)]),
        ["var"] = (x => x[0].Var(1), () => [R(3, 6)]),
        ["var_all_biased"] = (x => x[0].Var(null, correction: 0), () => [R(3, 6)]),
        ["max_dim"] = (x => x[0].Max(1), () => [R(4, 6)]),
        ["max_all"] = (x => x[0].Max(), () => [R(4, 6)]),
        ["min_dim_keep"] = (x => x[0].Min(0, keepDim: true), () => [R(4, 6)]),
        ["logsumexp"] = (x => x[0].LogSumExp(1), () => [R(3, 5)]),
        ["softmax_last"] = (x => x[0].Softmax(-1), () => [R(3, 5)]),
        ["softmax_first"] = (x => x[0].Softmax(0), () => [R(3, 5)]),
        ["log_softmax"] = (x => x[0].LogSoftmax(-1), () => [R(2, 3, 4)]),
        ["matmul"] = (x => Tensor.Matmul(x[0], x[1]), () => [R(3, 4), R(4, 5)]),
        ["matmul_batched_broadcast"] = (x => Tensor.Matmul(x[0], x[1]), () => [R(2, 1, 3, 4), R(3, 4, 2)]),
        ["matmul_transposed"] = (x => Tensor.Matmul(x[0].MT, x[1].MT), () => [R(4, 3), R(5, 4)]),
        ["matmul_vec_mat"] = (x => Tensor.Matmul(x[0], x[1]), () => [R(4), R(4, 3)]),
        ["matmul_mat_vec"] = (x => Tensor.Matmul(x[0], x[1]), () => [R(2, 3, 4), R(4)]),
        ["matmul_vec_vec"] = (x => Tensor.Matmul(x[0], x[1]), () => [R(5), R(5)]),
        ["reshape"] = (x => x[0].Reshape(4, -1) * x[1], () => [R(2, 6), R(3)]),
        ["permute"] = (x => x[0].Permute(2, 0, 1), () => [R(2, 3, 4)]),
        ["transpose_contiguous"] = (x => x[0].Transpose(0, 1).Contiguous(), () => [R(3, 4)]),
        ["narrow"] = (x => x[0].Narrow(1, 1, 2), () => [R(3, 4)]),
        ["slice_negative"] = (x => x[0].Slice(0, -2, 100), () => [R(5, 2)]),
        ["expand"] = (x => x[0].Expand(3, 2, 4), () => [R(2, 1)]),
        ["unsqueeze_squeeze"] = (x => x[0].Unsqueeze(1).Squeeze(), () => [R(3, 4)]),
        ["concat"] = (x => Tensor.Concat([x[0], x[1], x[0]], 1), () => [R(2, 3), R(2, 1)]),
        ["stack"] = (x => Tensor.Stack([x[0], x[1]], 1), () => [R(2, 3), R(2, 3)]),
        ["split_chunk"] = (x => x[0].Chunk(3, 1)[2] * x[0].Split([1, 4], 1)[0], () => [R(2, 5)]),
        ["index_select"] = (x => x[0].IndexSelect(1, [2, 0, 2]), () => [R(3, 4)]),
        ["index_add"] = (x => x[0].IndexAdd(0, [1, 1, 0], x[1]), () => [R(2, 3), R(3, 3)]),
        ["gather"] = (x => x[0].Gather(1, [0, 2, 2, 1, 1, 0], [3, 2]), () => [R(3, 4)]),
        ["scatter_add"] = (x => x[0].ScatterAdd(0, [0, 1, 1, 0, 1, 1], [2, 3], x[1]), () => [R(2, 3), R(2, 3)]),
        ["embedding"] = (x => Tensor.Embedding(x[0], [3, 1, 3, 0], 2, 2), () => [R(4, 3)]),
        ["masked_fill"] = (x => x[0].MaskedFill(Tensor.FromArray(new double[] { 1, 0, 0, 1 }, 4), 3.0), () => [R(2, 4)]),
        ["where"] = (x => Tensor.Where(x[2].Gt(0), x[0], x[1]), () => [R(3, 4), R(4), R(3, 1)]),
        ["cross_entropy_ignore"] = (x => Functional.CrossEntropy(x[0], [1, -100, 3, 0]), () => [R(4, 5)]),
        ["stablemax_cross_entropy"] = (x => Functional.StablemaxCrossEntropy(x[0], [1, 2, -100, 0], -100), () => [AwayFromZero(2, 2, 3)]),
        ["mse"] = (x => Functional.MseLoss(x[0], x[1]), () => [R(3, 2), R(3, 2)]),
        ["bce_logits"] = (x => Functional.BinaryCrossEntropyWithLogits(x[0], Tensor.FromArray(new double[] { 1, 0, 0.3 }, 3)),
            () => [R(2, 3)]),
        ["bce_logits_at_zero_and_large"] = (x => Functional.BinaryCrossEntropyWithLogits(x[0], x[1]),
            () => [Tensor.FromArray(new double[] { 0, 0, 0, 40, -40, 0.5 }, 2, 3),
                   Tensor.FromArray(new double[] { 1, 0, 0.3, 0.2, 0.7, 1 }, 2, 3)]),
        ["pow_zero_exponent_at_zero"] = (x => x[0].Pow(0) * x[0] + x[0].Pow(1) + x[0].Pow(2) + x[0].Pow(3),
            () => [Tensor.FromArray(new double[] { 0, 0.5, -1.5 }, 3)]),
        ["pow_tensor_zero_exponent_at_zero"] = (x => Tensor.Pow(x[0], Tensor.FromArray(new double[] { 0, 0, 1, 1, 2, 0, 0.5, -1 }, 2, 4)),
            () => [Tensor.FromArray(new double[] { 0, 0, 0.5, 2 }, 4)]), // the exponent is constant: ∂/∂e at 0^0 is undefined
        ["rmsnorm_gain"] = (x => Functional.RmsNorm(x[0], x[1]), () => [R(3, 6), R(6)]),
        ["rmsnorm_plain"] = (x => Functional.RmsNorm(x[0]), () => [R(3, 6)]),
        ["rmsnorm_reference"] = (x => Functional.RmsNormReference(x[0], x[1], 1e-6), () => [R(3, 6), R(6)]),
        ["cross_entropy_reference"] = (x => Functional.CrossEntropyReference(x[0], [1, -100, 3, 0]), () => [R(4, 5)]),
        ["swiglu"] = (x => Functional.SwiGlu(x[0], x[1]), () => [R(3, 5), R(3, 5)]),
        ["swiglu_reference"] = (x => Functional.SwiGluReference(x[0], x[1]), () => [R(3, 5), R(3, 5)]),
        ["layernorm_affine"] = (x => Functional.LayerNorm(x[0], x[1], x[2]), () => [R(3, 6), R(6), R(6)]),
        ["layernorm_plain"] = (x => Functional.LayerNorm(x[0]), () => [R(2, 2, 5)]),
        ["rope"] = (x => { var (c, s) = Functional.RotaryTables(3, 4, dtype: DType.Float64); return Functional.ApplyRotary(x[0], c, s); },
            () => [R(2, 3, 4)]),
        ["rope_reference"] = (x =>
        {
            var (c, s) = Functional.RotaryTables(3, 6, dtype: DType.Float64);
            return Functional.ApplyRotaryReference(x[0], c, s);
        }, () => [R(2, 2, 3, 6)]),
        ["attention_full"] = (x => Functional.ScaledDotProductAttention(x[0], x[1], x[2]), () => [R(2, 3, 4), R(2, 5, 4), R(2, 5, 3)]),
        ["attention_causal"] = (x => Functional.ScaledDotProductAttention(x[0], x[1], x[2], AttentionMask.Causal),
            () => [R(2, 4, 4), R(2, 4, 4), R(2, 4, 2)]),
        ["attention_window"] = (x => Functional.ScaledDotProductAttention(x[0], x[1], x[2], AttentionMask.SlidingWindow, window: 2),
            () => [R(1, 2, 5, 4), R(1, 2, 5, 4), R(1, 2, 5, 3)]),
        ["dropout"] = (x => Functional.Dropout(x[0], 0.4, training: true, new Generator(5)), () => [R(4, 5)]),
    };

    [Theory]
    [MemberData(nameof(OpNames))]
    public void GradientMatchesFiniteDifferences(string op)
    {
        var (f, inputs) = Cases[op];
        Assert.True(MaxError(f, inputs()) < Tol, $"{op}: relative error {MaxError(f, inputs())}");
    }

    public static TheoryData<string> SecondOrderNames() => new()
    {
        "matmul", "tanh", "softmax", "rmsnorm", "attention", "exp_log_mix", "layernorm", "gelu", "cross_entropy", "swiglu", "rope",
        "bce_logits",
    };

    [Theory]
    [MemberData(nameof(SecondOrderNames))]
    public void SecondOrderMatchesFiniteDifferences(string op)
    {
        (Func<Tensor[], Tensor> f, Tensor[] inputs) = op switch
        {
            "matmul" => ((Func<Tensor[], Tensor>)(x => Tensor.Matmul(x[0], x[1]).Square()), new[] { R(3, 4), R(4, 2) }),
            "tanh" => (x => x[0].Tanh(), new[] { R(6) }),
            "softmax" => (x => x[0].Softmax(-1), new[] { R(2, 5) }),
            "rmsnorm" => (x => Functional.RmsNorm(x[0], x[1]), new[] { R(2, 5), R(5) }),
            "attention" => (x => Functional.ScaledDotProductAttention(x[0], x[1], x[2], AttentionMask.Causal),
                new[] { R(1, 3, 4), R(1, 3, 4), R(1, 3, 2) }),
            "exp_log_mix" => (x => (x[0].Exp() + 1.0).Log() * x[1].Sigmoid(), new[] { R(4), R(4) }),
            "layernorm" => (x => Functional.LayerNorm(x[0], x[1], null), new[] { R(2, 5), R(5) }),
            "gelu" => (x => x[0].Gelu(), new[] { R(7) }),
            "cross_entropy" => (x => Functional.CrossEntropy(x[0], [2, 0, -100]) * x[1].Sum(), new[] { R(3, 4), R(2) }),
            "swiglu" => (x => Functional.SwiGlu(x[0], x[1]), new[] { R(2, 3), R(2, 3) }),
            "rope" => (x =>
            {
                var (c, s) = Functional.RotaryTables(3, 4, dtype: DType.Float64);
                return Functional.ApplyRotary(x[0], c, s).Square();
            }, new[] { R(2, 3, 4) }),
            "bce_logits" => (x => Functional.BinaryCrossEntropyWithLogits(x[0], x[1]) * x[0].Sum(),
                new[] { Tensor.FromArray(new double[] { 0, 0.3, -2, 0, 5, -0.1 }, 2, 3), R(2, 3).Sigmoid().Detach() }),
            _ => throw new ArgumentException(op),
        };
        double err = MaxSecondOrderError(f, inputs);
        Assert.True(err < 1e-5, $"{op}: second-order relative error {err}");
    }

    [Fact]
    public void BinaryCrossEntropyWithLogitsValueAndGradientFollowTheFormula()
    {
        // loss = mean(log(1 + e^x) − x·t), d loss/dx = (σ(x) − t)/N everywhere, also at x = 0 and at large |x|.
        double[] xs = [0, 0, 0, 1e-300, -1e-300, 2.5, -2.5, 30, -30, 100, -100, 1000, -1000, 50, -50];
        double[] ts = [0, 1, 0.25, 0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 0.5, 0.5];
        int n = xs.Length;
        static double Softplus(double v) => Math.Max(v, 0) + Math.Log(1 + Math.Exp(-Math.Abs(v)));
        static double Sigmoid(double v) => v >= 0 ? 1 / (1 + Math.Exp(-v)) : Math.Exp(v) / (1 + Math.Exp(v));
        double want = 0;
        for (int i = 0; i < n; i++) want += Softplus(xs[i]) - xs[i] * ts[i];
        want /= n;
        foreach (var dtype in new[] { DType.Float64, DType.Float32 })
        {
            double tol = dtype == DType.Float64 ? 1e-14 : 1e-6;
            var x = Tensor.FromArray(xs, n).To(dtype).RequireGrad();
            var t = Tensor.FromArray(ts, n).To(dtype).RequireGrad();
            var loss = Functional.BinaryCrossEntropyWithLogits(x, t);
            Assert.True(Math.Abs(loss.Item() - want) <= tol * Math.Abs(want), $"{dtype}: loss {loss.Item()} vs {want}");
            loss.Backward();
            var gx = x.Grad!.ToDoubleArray(); var gt = t.Grad!.ToDoubleArray();
            for (int i = 0; i < n; i++)
            {
                double wx = (Sigmoid((double)(dtype == DType.Float32 ? (float)xs[i] : xs[i])) - ts[i]) / n;
                Assert.True(Math.Abs(gx[i] - wx) <= tol * (Math.Abs(wx) + 1.0 / n),
                    $"{dtype}: d/dx at x={xs[i]}, t={ts[i]}: {gx[i]} vs {wx}");
                Assert.True(Math.Abs(gt[i] + xs[i] / n) <= tol * Math.Abs(xs[i] / n) + 1e-300, $"{dtype}: d/dt at x={xs[i]}: {gt[i]}");
            }
        }
    }

    [Fact]
    public void Float32SoftplusGradientUsesThePortableExponential()
    {
        // softplus' (and so BinaryCrossEntropyWithLogits') float32 gradient σ(x) = 1/(1 + e^−x) takes e^−x from
        // PortableExp, like the forward, so it is the same on every machine (no libm expf).
        var g = new Generator(12);
        var xs = new float[20000];
        for (int i = 0; i < xs.Length; i++) xs[i] = (float)(g.NextDouble() * 60 - 30);
        var x = Tensor.FromArray(xs, xs.Length).RequireGrad();
        x.Softplus().Sum().Backward();
        var grad = x.Grad!.ToFloatArray();
        for (int i = 0; i < xs.Length; i++)
        {
            float want = 1f / (1f + Kernels.PortableExp.Exp(-xs[i]));
            Assert.True(BitConverter.SingleToInt32Bits(want) == BitConverter.SingleToInt32Bits(grad[i]),
                $"softplus'({xs[i]}) = {grad[i]}, want {want}");
        }
    }

    [Fact]
    public void PowGradientAtZeroFollowsPyTorch()
    {
        // d/dx x^p = p·x^(p−1), and exactly 0 for p = 0 (not 0·∞ = NaN): at x = 0 that is 0 (p = 0), 1 (p = 1),
        // 0 (p = 2, 3), ∞ (p = 0.5).
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
        {
            double Grad0(double p)
            {
                var x = Tensor.FromArray(new double[] { 0, 2 }, 2).To(dtype).RequireGrad();
                x.Pow(p).Sum().Backward();
                var g = x.Grad!.ToDoubleArray();
                Assert.Equal(p == 0 ? 0 : p * Math.Pow(2, p - 1), g[1], 6);
                return g[0];
            }
            Assert.Equal(0, Grad0(0)); Assert.Equal(1, Grad0(1)); Assert.Equal(0, Grad0(2)); Assert.Equal(0, Grad0(3));
            Assert.Equal(double.PositiveInfinity, Grad0(0.5));
            var xt = Tensor.FromArray(new double[] { 0, 0, 3 }, 3).To(dtype).RequireGrad();
            Tensor.Pow(xt, Tensor.FromArray(new double[] { 0, 1, 0 }, 3).To(dtype)).Sum().Backward();
            Assert.Equal(new double[] { 0, 1, 0 }, xt.Grad!.ToDoubleArray());
            var second = Tensor.FromArray(new double[] { 0, 1.5 }, 2).To(dtype).RequireGrad(); // x^0 twice differentiated
            var g1 = Autograd.Grad(second.Pow(0).Sum(), second, createGraph: true);
            Assert.Equal(new double[] { 0, 0 }, g1.ToDoubleArray());
        }
    }

    [Fact]
    public void GradCheckDetectsAWrongBackward()
    {
        // A deliberately wrong backward (2x instead of x) must be caught: the check can fail.
        Func<Tensor[], Tensor> wrong = x => Autograd.Record(x[0].Detach().Square(), "bad_square", static (n, g) => [g * n.Inputs[0]], x[0]);
        Assert.True(MaxError(wrong, R(5)) > 0.1);
    }
}
