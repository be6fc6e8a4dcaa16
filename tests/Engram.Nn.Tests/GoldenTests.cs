// Golden tests against PyTorch (files from tools/reference/make_golden.py): a small MLP and a small attention
// block — forward output, loss, every gradient, and the loss after each of 5 AdamW steps.
using Engram.Tensors;
using Engram.Tensors.IO;
using Engram.Tensors.Optim;

namespace Engram.Nn.Tests;

public class GoldenTests
{
    static SafetensorsFile Load(string name) => Safetensors.Read(Path.Combine(AppContext.BaseDirectory, "Golden", name + ".safetensors"));

    static Dictionary<string, Tensor> Init(SafetensorsFile f) =>
        f.Names.Where(n => n.StartsWith("init.")).ToDictionary(n => n[5..], n => f[n].ToTensor());

    static void Close(Tensor expected, Tensor actual, string what, double rtol = 2e-5, double atol = 2e-6)
    {
        Assert.Equal(expected.Shape.ToArray(), actual.Shape.ToArray());
        var e = expected.ToDoubleArray(); var a = actual.ToDoubleArray();
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - a[i]) <= atol + rtol * Math.Abs(e[i]), $"{what}[{i}]: PyTorch {e[i]}, Engram {a[i]}");
    }

    sealed class Mlp : Module
    {
        public readonly Linear Fc1, Fc2;
        public Mlp(Generator g)
        {
            Fc1 = RegisterModule("fc1", new Linear(6, 8, true, g));
            Fc2 = RegisterModule("fc2", new Linear(8, 3, true, g));
        }
        public Tensor Forward(Tensor x) => Fc2.Forward(Fc1.Forward(x).Gelu());
    }

    sealed class Projections : Module
    {
        public readonly Linear Q, K, V, O;
        public Projections(Generator g)
        {
            Q = RegisterModule("q_proj", new Linear(8, 8, false, g)); K = RegisterModule("k_proj", new Linear(8, 8, false, g));
            V = RegisterModule("v_proj", new Linear(8, 8, false, g)); O = RegisterModule("o_proj", new Linear(8, 8, false, g));
        }
    }

    sealed class AttentionBlock : Module
    {
        const int B = 2, T = 5, C = 8, H = 2, D = 4;
        public readonly RmsNorm Norm; public readonly Projections Attn;
        readonly Tensor _cos, _sin;
        public AttentionBlock(Generator g)
        {
            Norm = RegisterModule("norm", new RmsNorm(C));
            Attn = RegisterModule("attn", new Projections(g));
            (_cos, _sin) = Functional.RotaryTables(T, D);
        }
        Tensor Heads(Linear proj, Tensor h) => proj.Forward(h).Reshape(B, T, H, D).Transpose(1, 2);
        public Tensor Forward(Tensor x)
        {
            var h = Norm.Forward(x);
            var q = Functional.ApplyRotary(Heads(Attn.Q, h), _cos, _sin);
            var k = Functional.ApplyRotary(Heads(Attn.K, h), _cos, _sin);
            var a = Functional.ScaledDotProductAttention(q, k, Heads(Attn.V, h), AttentionMask.Causal);
            return x + Attn.O.Forward(a.Transpose(1, 2).Reshape(B, T, C));
        }
    }

    static void CheckTraining(SafetensorsFile f, Module model, Func<Tensor> loss)
    {
        model.LoadStateDict(Init(f));
        var l = loss();
        Close(f["loss"].ToTensor(), l.Reshape(1), "loss");
        l.Backward();
        foreach (var (name, p) in model.NamedParameters()) Close(f["grad." + name].ToTensor(), p.Grad!, "grad." + name);

        model.LoadStateDict(Init(f));
        model.ZeroGrad();
        var opt = new AdamW(model.Parameters(), lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1);
        var expected = f["adamw_losses"].ToTensor().ToDoubleArray();
        for (int step = 0; step < 5; step++)
        {
            opt.ZeroGrad();
            loss().Backward();
            opt.Step();
            double after;
            using (Autograd.NoGrad()) after = loss().Item();
            Assert.True(Math.Abs(after - expected[step]) <= 1e-5 * Math.Abs(expected[step]) + 1e-6,
                $"loss after AdamW step {step + 1}: PyTorch {expected[step]}, Engram {after}");
        }
    }

    [Fact]
    public void MlpMatchesPyTorch()
    {
        var f = Load("mlp");
        var model = new Mlp(new Generator(0));
        var x = f["input.x"].ToTensor(); var targets = f["input.targets"].ToInt32Array();
        model.LoadStateDict(Init(f));
        Close(f["output"].ToTensor(), model.Forward(x), "output");
        CheckTraining(f, model, () => Functional.CrossEntropy(model.Forward(x), targets, ignoreIndex: -100));
    }

    [Fact]
    public void AttentionBlockMatchesPyTorch()
    {
        var f = Load("attention");
        var model = new AttentionBlock(new Generator(0));
        var x = f["input.x"].ToTensor(); var target = f["input.target"].ToTensor();
        model.LoadStateDict(Init(f));
        Close(f["output"].ToTensor(), model.Forward(x), "output");
        CheckTraining(f, model, () => Functional.MseLoss(model.Forward(x), target));
    }
}
