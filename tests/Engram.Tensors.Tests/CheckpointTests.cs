// Checkpoints restore weights, optimizer state, step and generator exactly, and are written atomically.
using Engram.Tensors.IO;
using Engram.Tensors.Optim;

namespace Engram.Tensors.Tests;

public class CheckpointTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("engram-ckpt-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void SaveLoadRestoresEverything()
    {
        var g = new Generator(9);
        var w = Tensor.Randn(g, [3, 2]).RequireGrad();
        var opt = new AdamW([w], lr: 0.01);
        w.Grad = Tensor.Ones(3, 2); opt.Step();
        g.NextNormal(); // leave a spare normal cached
        var path = Path.Combine(_dir, "ck.safetensors");
        Checkpoint.Save(path, new Dictionary<string, Tensor> { ["layer.weight"] = w }, opt, step: 17, g,
            new Dictionary<string, string> { ["preset"] = "tiny" });

        var ck = Checkpoint.Load(path);
        Assert.Equal(17, ck.Step);
        Assert.Equal("tiny", ck.Extra["preset"]);
        Assert.Equal(w.ToFloatArray(), ck.Weights["layer.weight"].ToFloatArray());
        var g2 = new Generator(0); ck.RestoreGenerator(g2);
        Assert.Equal(g.NextNormal(), g2.NextNormal());
        Assert.Equal(g.NextUInt64(), g2.NextUInt64());
        var w2 = ck.Weights["layer.weight"].RequireGrad(); var opt2 = new AdamW([w2], lr: 0.01);
        ck.RestoreOptimizer(opt2);
        w.Grad = Tensor.Ones(3, 2); w2.Grad = Tensor.Ones(3, 2);
        opt.Step(); opt2.Step();
        Assert.Equal(w.ToFloatArray(), w2.ToFloatArray());
    }

    [Fact]
    public void FailedWriteLeavesThePreviousFileIntact()
    {
        var path = Path.Combine(_dir, "state.bin");
        AtomicFile.WriteAllBytes(path, [1, 2, 3]);
        Assert.Throws<IOException>(() => AtomicFile.Write(path,
            s => { s.Write(new byte[1000]); throw new IOException("disk full (simulated)"); }));
        Assert.Equal(new byte[] { 1, 2, 3 }, File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(_dir)); // no temp file left behind
    }

    [Fact]
    public void NotACheckpointOrTruncatedGivesClearErrors()
    {
        var path = Path.Combine(_dir, "plain.safetensors");
        Safetensors.Write(path, new Dictionary<string, Tensor> { ["x"] = Tensor.Ones(2) });
        Assert.Contains("not an Engram checkpoint", Assert.Throws<InvalidFileException>(() => Checkpoint.Load(path)).Message);
        var ck = Path.Combine(_dir, "ck.safetensors");
        Checkpoint.Save(ck, new Dictionary<string, Tensor> { ["x"] = Tensor.Ones(4) });
        var bytes = File.ReadAllBytes(ck);
        File.WriteAllBytes(ck, bytes[..^3]);
        var ex = Assert.Throws<InvalidFileException>(() => Checkpoint.Load(ck));
        Assert.Contains(ck, ex.Message);
        Assert.Throws<InvalidFileException>(() => Checkpoint.Load(Path.Combine(_dir, "missing.safetensors")));
    }
}
