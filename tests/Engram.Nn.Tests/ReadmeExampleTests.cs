// The README's code is a test: this file runs the same code and checks the README still shows it verbatim.
using Engram.Tensors;
using Engram.Tensors.Optim;

namespace Engram.Nn.Tests;

public class ReadmeExampleTests
{
    [Fact]
    public void ReadmeExampleRunsAndIsVerbatim()
    {
        // README-BEGIN
        var g = new Generator(seed: 1);
        var layer = new Linear(4, 3, bias: true, g);
        var opt = new AdamW(layer.Parameters(), lr: 1e-2);
        var x = Tensor.Randn(g, [8, 4]);
        int[] targets = [0, 1, 2, 0, 1, 2, 0, 1];
        for (int step = 0; step < 20; step++)
        {
            opt.ZeroGrad();
            var loss = Functional.CrossEntropy(layer.Forward(x), targets);
            loss.Backward();
            opt.Step();
        }
        // Gradients of gradients: d²/dx² of x³ at x = 2 is 12.
        var v = Tensor.FromArray(new double[] { 2 }, 1).RequireGrad();
        var dv = Autograd.Grad(v.Pow(3).Sum(), v, createGraph: true);
        var d2v = Autograd.Grad(dv.Sum(), v);
        // README-END
        Assert.Equal(12, d2v.Item(), 10);
        using (Autograd.NoGrad())
            Assert.True(Functional.CrossEntropy(layer.Forward(x), targets).Item() < Math.Log(3),
                "the example's training lowered the loss below chance");

        var source = File.ReadAllLines(FindUp("tests/Engram.Nn.Tests/ReadmeExampleTests.cs"));
        int b = Array.FindIndex(source, l => l.Trim() == "// README-BEGIN"), e = Array.FindIndex(source, l => l.Trim() == "// README-END");
        var body = source[(b + 1)..e].Select(l => l.Trim()).ToArray();
        var readme = File.ReadAllText(FindUp("README.md"));
        var block = readme[(readme.IndexOf("```csharp") + 9)..];
        block = block[..block.IndexOf("```")];
        var lines = block.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith("using ")).ToArray();
        Assert.Equal(body, lines);
    }

    static string FindUp(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, relative))) return Path.Combine(dir.FullName, relative);
        throw new FileNotFoundException($"{relative} not found above {AppContext.BaseDirectory}");
    }
}
