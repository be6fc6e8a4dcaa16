// Modules: PyTorch-style state-dict names, all-or-nothing loading, initialisers.
using Engram.Tensors;
using Engram.Tensors.IO;

namespace Engram.Nn.Tests;

public class ModuleTests
{
    sealed class Block : Module
    {
        public Block(Generator g) { RegisterModule("attn", new Attn(g)); RegisterModule("norm", new RmsNorm(4)); }
    }
    sealed class Attn : Module
    {
        public Attn(Generator g) { RegisterModule("q_proj", new Linear(4, 4, false, g)); }
    }
    sealed class Net : Module
    {
        public readonly ModuleList<Block> Layers;
        public readonly Embedding Embed;
        public Net(Generator g)
        {
            Embed = RegisterModule("embed", new Embedding(10, 4, g));
            Layers = RegisterModule("layers", new ModuleList<Block>([new Block(g), new Block(g)]));
        }
    }

    [Fact]
    public void StateDictNamesFollowPyTorch()
    {
        var names = new Net(new Generator(1)).StateDict().Keys.ToArray();
        Assert.Equal(new[] { "embed.weight", "layers.0.attn.q_proj.weight", "layers.0.norm.weight", "layers.1.attn.q_proj.weight",
            "layers.1.norm.weight" }, names);
    }

    [Fact]
    public void LoadStateDictIsAllOrNothing()
    {
        var a = new Net(new Generator(1)); var b = new Net(new Generator(2));
        var before = b.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.ToFloatArray());
        var bad = a.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value);
        bad["layers.1.norm.weight"] = Tensor.Ones(5); // wrong shape, listed last
        var ex = Assert.Throws<ShapeMismatchException>(() => b.LoadStateDict(bad));
        Assert.Contains("layers.1.norm.weight", ex.Message);
        foreach (var (k, v) in b.StateDict()) Assert.Equal(before[k], v.ToFloatArray()); // nothing was written

        var missing = a.StateDict(); missing.Remove("embed.weight"); missing["extra"] = Tensor.Ones(1);
        var ex2 = Assert.Throws<EngramException>(() => b.LoadStateDict(missing));
        Assert.Contains("embed.weight", ex2.Message); Assert.Contains("extra", ex2.Message);

        b.LoadStateDict(a.StateDict());
        foreach (var (k, v) in a.StateDict()) Assert.Equal(v.ToFloatArray(), b.StateDict()[k].ToFloatArray());
    }

    [Fact]
    public void StateDictRoundTripsThroughSafetensors()
    {
        var a = new Net(new Generator(3));
        var path = Path.Combine(Path.GetTempPath(), $"engram-net-{Guid.NewGuid():N}.safetensors");
        try
        {
            Safetensors.Write(path, a.StateDict());
            var f = Safetensors.Read(path);
            var b = new Net(new Generator(4));
            b.LoadStateDict(f.Names.ToDictionary(n => n, n => f[n].ToTensor()));
            foreach (var (k, v) in a.StateDict()) Assert.Equal(v.ToFloatArray(), b.StateDict()[k].ToFloatArray());
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void InitialisersHaveTheIntendedScale()
    {
        var w = Init.TruncatedLeCunNormal(new Generator(1), [256, 400], fanIn: 400).ToDoubleArray();
        double std = Math.Sqrt(w.Select(v => v * v).Average());
        Assert.InRange(std, 0.048, 0.052); // 1/√400 = 0.05
        Assert.All(w, v => Assert.InRange(Math.Abs(v), 0, 2 * 0.05 / Init.TruncatedStdCorrection + 1e-6));
        var u = Init.Uniform(new Generator(2), [1000], -1, 1).ToDoubleArray();
        Assert.All(u, v => Assert.InRange(v, -1, 1));
        var lin = new Linear(3, 2, true, new Generator(5));
        Assert.Equal(new[] { 2, 3 }, lin.Weight.Shape.ToArray());
        Assert.All(lin.Bias!.ToDoubleArray(), v => Assert.Equal(0, v));
        Assert.Throws<ShapeMismatchException>(() => lin.Forward(Tensor.Zeros(2, 4)));
    }

    [Fact]
    public void EmbeddingRejectsOutOfVocabularyIds()
    {
        var e = new Embedding(5, 2, new Generator(1));
        Assert.Equal(new[] { 2, 3, 2 }, e.Forward([0, 1, 2, 3, 4, 0], 2, 3).Shape.ToArray());
        Assert.Contains("vocabulary", Assert.Throws<ShapeMismatchException>(() => e.Forward([5])).Message);
    }
}
