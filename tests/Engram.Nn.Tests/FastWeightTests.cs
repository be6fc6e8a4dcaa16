// Fast-weight layers: the dual form against the per-token primal oracle, split invariance (token-by-token decoding
// equals the batched forward bit for bit), short streams still updating the memory, gradients through inner updates.
using Engram.Nn;
using Engram.Tensors;

namespace Engram.Nn.Tests;

public class FastWeightTests
{
    public static TheoryData<string> Variants
        => new() { "ttt-linear", "ttt-mlp", "titans", "delta", "gated-delta", "momentum-only", "position-scale" };

    static FastWeightOptions Options(string name) => name switch
    {
        "ttt-linear" => FastWeightOptions.TttLinear with { MiniBatch = 4 },
        "ttt-mlp" => FastWeightOptions.TttMlp with { MiniBatch = 4, EtaBase = 1 },
        "titans" => FastWeightOptions.Titans with { MiniBatch = 4, EtaBase = 1 },
        "delta" => FastWeightOptions.DeltaRule,
        "gated-delta" => FastWeightOptions.GatedDeltaRule with { MiniBatch = 3 },
        "momentum-only" => FastWeightOptions.TttLinear with { MiniBatch = 5, Momentum = true },
        "position-scale" => FastWeightOptions.TttLinear with { MiniBatch = 4, PositionScale = true },
        _ => throw new ArgumentException(name),
    };

    static (FastWeightLayer Layer, Tensor X) Make(string variant, int t = 11, int batch = 2, ulong seed = 3)
    {
        var g = new Generator(seed);
        var layer = new FastWeightLayer(16, Options(variant) with { Heads = 2 }, g);
        // large inner steps so that the updates visibly change the outputs
        layer.LrProj.Bias!.CopyFrom(Tensor.Full([2], 3.0));
        return (layer, Tensor.Randn(g, [batch, t, 16]));
    }

    static float MaxAbsDiff(Tensor a, Tensor b)
    {
        var x = a.ToFloatArray(); var y = b.ToFloatArray();
        Assert.Equal(x.Length, y.Length);
        float m = 0;
        for (int i = 0; i < x.Length; i++) m = Math.Max(m, Math.Abs(x[i] - y[i]));
        return m;
    }

    [Theory, MemberData(nameof(Variants))]
    public void DualFormEqualsPrimalForm(string variant)
    {
        var (layer, x) = Make(variant);
        using var _ = Autograd.NoGrad();
        var sDual = layer.InitialState(2); var sPrimal = layer.InitialState(2);
        var dual = layer.Forward(x, sDual);
        var primal = layer.ForwardPrimal(x, sPrimal);
        Assert.True(MaxAbsDiff(dual, primal) < 2e-5f, $"outputs differ by {MaxAbsDiff(dual, primal)}");
        for (int l = 0; l < sDual.Weights.Length; l++)
        {
            float scale = MathF.Max(1, sPrimal.Weights[l].Abs().Max().ToFloatArray()[0]);
            Assert.True(MaxAbsDiff(sDual.Weights[l], sPrimal.Weights[l]) < 2e-5f * scale,
                $"inner weights {l} differ by {MaxAbsDiff(sDual.Weights[l], sPrimal.Weights[l])} (largest {scale})");
        }
        // and a second call continues from the carried state the same way
        var x2 = Tensor.Randn(new Generator(9), [2, 6, 16]);
        Assert.True(MaxAbsDiff(layer.Forward(x2, sDual), layer.ForwardPrimal(x2, sPrimal)) < 2e-5f);
    }

    [Theory, MemberData(nameof(Variants))]
    public void TokenByTokenDecodingEqualsTheBatchedForwardBitForBit(string variant)
    {
        var (layer, x) = Make(variant, t: 13, batch: 1);
        using var _ = Autograd.NoGrad();
        var batched = layer.Forward(x, layer.InitialState()).ToFloatArray();
        var state = layer.InitialState();
        var pieces = new List<float>();
        for (int i = 0; i < 13; i++) pieces.AddRange(layer.Forward(x.Narrow(1, i, 1), state).ToFloatArray());
        Assert.Equal(batched, pieces.ToArray());
        // uneven pieces too
        state = layer.InitialState();
        var uneven = new List<float>();
        foreach (var (s, n) in new[] { (0, 5), (5, 2), (7, 6) }) uneven.AddRange(layer.Forward(x.Narrow(1, s, n), state).ToFloatArray());
        Assert.Equal(batched, uneven.ToArray());
    }

    [Theory, MemberData(nameof(Variants))]
    public void AStreamShorterThanOneMiniBatchStillUpdatesTheMemory(string variant)
    {
        var (layer, x) = Make(variant, t: 2, batch: 1);
        if (layer.Options.MiniBatch <= 2) layer = new FastWeightLayer(16, layer.Options with { MiniBatch = 8 }, new Generator(3));
        using var _ = Autograd.NoGrad();
        var probe = Tensor.Randn(new Generator(11), [1, 1, 16]);
        var fresh = layer.Forward(probe, layer.InitialState());
        var state = layer.InitialState();
        layer.Forward(x, state);
        Assert.Equal(2, state.PendingCount);
        var after = layer.Forward(probe, state);
        Assert.True(MaxAbsDiff(fresh, after) > 1e-4f, "reading two tokens did not change what the memory returns");
    }

    [Fact]
    public void DeltaRuleMemoryStoresAnAssociation()
    {
        // Each read of x moves the memory's answer for key k toward v: the error shrinks by |1 − θ‖k̃‖²| per read.
        var g = new Generator(5);
        var layer = new FastWeightLayer(8, FastWeightOptions.DeltaRule with { Heads = 1 }, g);
        layer.LrProj.Bias!.CopyFrom(Tensor.Full([1], 10.0)); // θ ≈ 1/8, about 1/‖k̃‖²
        var state = layer.InitialState();
        using var _ = Autograd.NoGrad();
        var x = Tensor.Randn(g, [1, 1, 8]);
        var k = Tensor.Concat([layer.KProj.Forward(x).Reshape(1, 1, 1, 8), Tensor.Ones(1, 1, 1, 1)], -1);
        var v = layer.VProj.Forward(x).Reshape(8);
        float Error() => MaxAbsDiff(Tensor.Matmul(k, state.Weights[0]).Reshape(8), v);
        float before = Error();
        for (int i = 0; i < 3; i++) layer.Forward(x, state);
        Assert.True(Error() < 0.2f * before, $"memory error went from {before} to {Error()} after three writes");
    }

    [Theory]
    [InlineData("ttt-linear")]
    [InlineData("ttt-mlp")]
    [InlineData("titans")]
    public void GradientsFlowThroughTheInnerUpdatesToEverySlowWeight(string variant)
    {
        var (layer, x) = Make(variant, t: 9, batch: 1);
        var y = layer.Forward(x, layer.InitialState());
        (y * Tensor.Randn(new Generator(2), [1, 9, 16])).Sum().Backward();
        foreach (var (name, p) in layer.NamedParameters())
        {
            Assert.True(p.Grad is not null, $"{name} got no gradient");
            Assert.True(p.Grad!.Abs().Sum().ToFloatArray()[0] > 0, $"{name} has an all-zero gradient");
        }
    }

    [Fact]
    public void DualFormGradientMatchesFiniteDifferences()
    {
        // float64 central differences on loss = Σ out ⊙ r, through two mini-batches of inner updates
        var g = new Generator(7);
        var layer = new FastWeightLayer(8, FastWeightOptions.Titans with { Heads = 2, MiniBatch = 3, EtaBase = 1 }, g, DType.Float64);
        var x = Tensor.Randn(g, [1, 7, 8], dtype: DType.Float64);
        var r = Tensor.Randn(g, [1, 7, 8], dtype: DType.Float64);
        double Loss() { using var _ = Autograd.NoGrad(); return (layer.Forward(x, layer.InitialState()) * r).Sum().ToDoubleArray()[0]; }
        layer.ZeroGrad(true);
        (layer.Forward(x, layer.InitialState()) * r).Sum().Backward();
        foreach (var (name, p) in layer.NamedParameters())
        {
            var data = p.ToDoubleArray();
            var grad = p.Grad!.ToDoubleArray();
            var shape = p.Shape.ToArray();
            void Set(int i, double value) { var copy = (double[])data.Clone(); copy[i] = value; p.CopyFrom(Tensor.FromArray(copy, shape)); }
            for (int i = 0; i < data.Length; i += Math.Max(1, data.Length / 5))
            {
                double old = data[i], h = 1e-6;
                Set(i, old + h); double up = Loss();
                Set(i, old - h); double down = Loss();
                Set(i, old);
                double fd = (up - down) / (2 * h);
                Assert.True(Math.Abs(fd - grad[i]) <= 1e-5 * Math.Max(1, Math.Abs(fd)),
                    $"{name}[{i}]: autograd {grad[i]}, finite differences {fd}");
            }
        }
    }
}
