// The worker team behind the threaded kernels: every index runs exactly once, an exception inside a loop reaches
// the caller (and the team keeps working), and callers on several threads at once — one gets the team, the others
// run alone — all get the serial result bit for bit.
using Engram.Tensors.Kernels;

namespace Engram.Tensors.Tests;

public class WorkerTeamTests
{
    sealed class Count(int n) : ParallelWork
    {
        public readonly int[] Hits = new int[n];
        public override void Run(int index) => Interlocked.Increment(ref Hits[index]);
    }

    sealed class Throws : ParallelWork
    {
        public override void Run(int index) { if (index == 7) throw new InvalidOperationException("index 7 failed"); }
    }

    [Fact]
    public void EveryIndexRunsExactlyOnce()
    {
        foreach (int threads in new[] { 1, 2, 4 })
        {
            var work = new Count(1000);
            WorkerTeam.For(1000, threads, work);
            Assert.All(work.Hits, h => Assert.Equal(1, h));
        }
    }

    [Fact]
    public void AnExceptionReachesTheCallerAndTheTeamRecovers()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => WorkerTeam.For(100, 2, new Throws()));
        Assert.Equal("index 7 failed", ex.Message);
        var work = new Count(50);
        WorkerTeam.For(50, 2, work);
        Assert.All(work.Hits, h => Assert.Equal(1, h));
    }

    [Fact]
    public void ConcurrentCallersGetTheSerialResult()
    {
        const int n = 200; // above the GEMM's threading threshold
        var g = new Generator(5);
        var a = Tensor.Randn(g, [n, n]).ToFloatArray(); var b = Tensor.Randn(g, [n, n]).ToFloatArray();
        float[] Product(int threads)
        {
            var c = new float[n * n];
            Gemm.Run(n, n, n, new MatrixView<float>(a, 0, n, 1), new MatrixView<float>(b, 0, n, 1), c, n, accumulate: false, threads);
            return c;
        }
        var serial = Product(1);
        var results = new float[4][][];
        var callers = Enumerable.Range(0, 4)
            .Select(t => new Thread(() => results[t] = Enumerable.Range(0, 10).Select(_ => Product(2)).ToArray())).ToList();
        callers.ForEach(t => t.Start());
        callers.ForEach(t => t.Join());
        foreach (var r in results.SelectMany(x => x))
            Assert.True(r.AsSpan().SequenceEqual(serial), "a concurrent threaded product differs from the serial one");
    }
}
