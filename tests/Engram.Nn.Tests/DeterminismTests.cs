// The same seed gives bit-identical weights whatever the number of threads.
using Engram.Tensors;
using Engram.Tensors.Optim;

namespace Engram.Nn.Tests;

public class DeterminismTests
{
    sealed class Net : Module
    {
        readonly Linear _a, _b, _c;
        readonly RmsNorm _n;
        public Net(Generator g)
        {
            _a = RegisterModule("a", new Linear(64, 256, true, g)); _n = RegisterModule("n", new RmsNorm(256));
            _b = RegisterModule("b", new Linear(256, 256, true, g)); _c = RegisterModule("c", new Linear(256, 10, true, g));
        }
        public Tensor Forward(Tensor x) => _c.Forward(_b.Forward(_n.Forward(_a.Forward(x)).Gelu()).Silu());
    }

    static float[][] Train(int threads)
    {
        int saved = Engine.MaxThreads;
        Engine.MaxThreads = threads;
        try
        {
            var g = new Generator(42);
            var net = new Net(g);
            var opt = new AdamW(net.Parameters(), lr: 1e-3);
            for (int step = 0; step < 4; step++)
            {
                var x = Tensor.Randn(g, [96, 64]);
                var y = Enumerable.Range(0, 96).Select(_ => g.NextInt(10)).ToArray();
                opt.ZeroGrad();
                var h = Functional.Dropout(net.Forward(x), 0.1, true, g);
                Functional.CrossEntropy(h, y).Backward();
                Optimizer.ClipGradNorm(net.Parameters(), 1.0);
                opt.Step();
            }
            return net.Parameters().Select(p => p.ToFloatArray()).ToArray();
        }
        finally { Engine.MaxThreads = saved; }
    }

    [Fact]
    public void OneAndTwoThreadsGiveIdenticalWeights()
    {
        var one = Train(1); var two = Train(2);
        Assert.Equal(one.Length, two.Length);
        for (int i = 0; i < one.Length; i++)
            Assert.True(one[i].AsSpan().SequenceEqual(two[i]), $"parameter {i} differs between 1 and 2 threads");
        Assert.True(one[0].AsSpan().SequenceEqual(Train(2)[0]), "same seed, same run, different result");
    }
}
