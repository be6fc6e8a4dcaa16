using Engram.Learning;
using Engram.Models.Reasoning;
using Engram.Tasks;
using Engram.Tensors;

namespace Engram.Learning.Tests;

public class ReasoningTests
{
    static readonly Lazy<PuzzleSet> Easy4 = new(() => new PuzzleSpec(PuzzleTask.Sudoku, 4, "easy", 40, 10, 1).Make().Train);

    static ReasonerConfig Tiny(ReasonerKind kind) => ReasonerPresets.Get(kind, "cpu", 6, 16, false) with
    {
        Hidden = 16,
        Heads = 2,
        Batch = 4,
        MaxSegments = kind == ReasonerKind.Transformer ? 1 : 3,
        WarmupSteps = 2,
        LearningRate = 3e-3,
        Seed = 3,
    };

    static (Tensor Loss, Tensor[] Carry) SegmentLoss(Reasoner m, Tensor[] carry, int seed = 1)
    {
        var rng = new Generator((ulong)seed);
        int B = carry.Length > 0 ? carry[0].Shape[0] : 2;
        var tokens = Enumerable.Range(0, B * m.Config.SeqLen).Select(_ => 1 + rng.NextInt(5)).ToArray();
        var (o, next) = m.Segment(carry, m.Embed(tokens, B));
        var w = Tensor.Randn(new Generator(99), o.Logits.Shape);
        return ((o.Logits * w).Sum() + (o.QHalt?.Sum() ?? Tensor.Scalar(0)), next);
    }

    static Tensor[] LeafCarry(Reasoner m, int batch)
    {
        var c = m.InitialStates(batch);
        var g = new Generator(5);
        for (int i = 0; i < c.Length; i++) { c[i] = (c[i] + Tensor.Randn(g, c[i].Shape) * 0.1).Detach(); c[i].RequiresGrad = true; }
        return c;
    }

    [Fact]
    public void HrmOneStepGradientStopsAtTheNoGradSteps()
    {
        var m = new Hrm(Tiny(ReasonerKind.Hrm));
        var carry = LeafCarry(m, 2);
        SegmentLoss(m, carry).Loss.Backward();
        Assert.Null(carry[0].Grad); Assert.Null(carry[1].Grad); // the carry only feeds no-grad updates (N·T = 4 > 1)

        // Same gradient as running the no-grad updates by hand, then the last L and H updates from detached states.
        var grads = m.Parameters().Select(p => p.Grad!.ToFloatArray()).ToList();
        m.ZeroGrad(setToNone: true);
        var rng = new Generator(1);
        var tokens = Enumerable.Range(0, 2 * 16).Select(_ => 1 + rng.NextInt(5)).ToArray();
        var x = m.Embed(tokens, 2);
        Tensor zH = carry[0].Detach(), zL = carry[1].Detach();
        using (Autograd.NoGrad())
        {
            zL = m.Low.Forward(zL, zH + x); zL = m.Low.Forward(zL, zH + x); zH = m.High.Forward(zH, zL);
            zL = m.Low.Forward(zL, zH + x);
        }
        zL = m.Low.Forward(zL, zH + x); zH = m.High.Forward(zH, zL);
        var logits = m.Head.Forward(zH.Narrow(1, 1, 16));
        var q = m.QHead!.Forward(zH.Narrow(1, 0, 1).Reshape(2, 16)).Narrow(1, 0, 1).Reshape(-1);
        ((logits * Tensor.Randn(new Generator(99), logits.Shape)).Sum() + q.Sum()).Backward();
        var manual = m.Parameters().Select(p => p.Grad!.ToFloatArray()).ToList();
        for (int i = 0; i < grads.Count; i++) Assert.Equal(manual[i], grads[i]);
        Assert.All(m.Low.Parameters(), p => Assert.Contains(p.Grad!.ToFloatArray(), v => v != 0));
    }

    [Fact]
    public void TrmBackpropagatesThroughTheWholeLastRecursionOnly()
    {
        // One recursion: the carry starts the last recursion, so the gradient reaches it through all n + 1 net calls.
        var full = new Trm(Tiny(ReasonerKind.Trm) with { Recursions = 1, LatentSteps = 3 });
        var carry = LeafCarry(full, 2);
        SegmentLoss(full, carry).Loss.Backward();
        Assert.Contains(carry[0].Grad!.ToFloatArray(), v => v != 0); // y
        Assert.Contains(carry[1].Grad!.ToFloatArray(), v => v != 0); // z, through the three latent updates
        // The gradient is the full one, not a 1-step approximation: detaching z between latent updates changes it.
        var cut = new Trm(Tiny(ReasonerKind.Trm) with { Recursions = 1, LatentSteps = 3 });
        var c2 = LeafCarry(cut, 2);
        var rng = new Generator(1);
        var tokens = Enumerable.Range(0, 2 * 16).Select(_ => 1 + rng.NextInt(5)).ToArray();
        var x = cut.Embed(tokens, 2);
        Tensor y = c2[0], z = c2[1];
        for (int i = 0; i < 3; i++) z = cut.Net.Forward(i < 2 ? z.Detach() : z, y + x);
        y = cut.Net.Forward(y, z);
        var logits = cut.Head.Forward(y.Narrow(1, 1, 16));
        var q = cut.QHead!.Forward(y.Narrow(1, 0, 1).Reshape(2, 16)).Reshape(-1);
        ((logits * Tensor.Randn(new Generator(99), logits.Shape)).Sum() + q.Sum()).Backward();
        Assert.NotEqual(full.Net.Parameters().First().Grad!.ToFloatArray(), cut.Net.Parameters().First().Grad!.ToFloatArray());

        // Three recursions: the first two run without gradient, so nothing reaches the carry.
        var three = new Trm(Tiny(ReasonerKind.Trm) with { Recursions = 3 });
        var c3 = LeafCarry(three, 2);
        SegmentLoss(three, c3).Loss.Backward();
        Assert.Null(c3[0].Grad); Assert.Null(c3[1].Grad);
    }

    [Fact]
    public void HaltingStopsAtTheMaximumAndEvaluationRunsIt()
    {
        foreach (var kind in new[] { ReasonerKind.Hrm, ReasonerKind.Trm })
        {
            var t = new ReasoningTrainer(Tiny(kind) with { ExploreProbability = 0, LearningRate = 1e-5 }, Easy4.Value, 1);
            for (int step = 1; step <= 7; step++)
            {
                var s = t.TrainStep();
                Assert.True(s.MeanSegments <= 3);
                // q_halt starts at −5 (bias), so nothing halts early; at the maximum every slot halts.
                Assert.Equal(step % 3 == 0 ? 4 : 0, s.Halted);
            }
            var e = ReasoningEvaluation.Evaluate(t.EvaluationModel(), Easy4.Value, 3);
            Assert.Equal(3, e.ExactBySegment.Length);
            Assert.Equal(3.0, e.MeanHaltSegments);
        }
    }

    [Fact]
    public void EmaWeightsDifferFromTheRawOnesAndAreEvaluated()
    {
        var dir = Directory.CreateTempSubdirectory("engram-ema");
        try
        {
            var t = new ReasoningTrainer(Tiny(ReasonerKind.Trm) with { EmaDecay = 0.9 }, Easy4.Value, 1);
            for (int i = 0; i < 5; i++) t.TrainStep();
            var raw = t.Model.StateDict(); var ema = t.EvaluationWeights();
            Assert.Contains(raw.Keys, k => !raw[k].ToFloatArray().SequenceEqual(ema[k].ToFloatArray()));
            var path = Path.Combine(dir.FullName, "ck.safetensors");
            t.Save(path);
            var (loaded, _) = ReasoningTrainer.LoadForEvaluation(path);
            foreach (var (name, p) in loaded.NamedParameters()) Assert.Equal(ema[name].ToFloatArray(), p.ToFloatArray());
            // A recipe without EMA evaluates the raw weights.
            var h = new ReasoningTrainer(Tiny(ReasonerKind.Hrm) with { EmaDecay = 0 }, Easy4.Value, 1);
            h.TrainStep();
            Assert.Same(h.Model.StateDict().First().Value, h.EvaluationWeights().First().Value);
        }
        finally { dir.Delete(true); }
    }

    [Theory]
    [InlineData(ReasonerKind.Hrm)]
    [InlineData(ReasonerKind.Trm)]
    [InlineData(ReasonerKind.TrmMlp)]
    [InlineData(ReasonerKind.Transformer)]
    public void SaveAndResumeGivesIdenticalWeights(ReasonerKind kind)
    {
        var dir = Directory.CreateTempSubdirectory("engram-resume");
        try
        {
            var config = Tiny(kind) with { ExploreProbability = 0.5 };
            var straight = new ReasoningTrainer(config, Easy4.Value, 7);
            for (int i = 0; i < 6; i++) straight.TrainStep();
            var first = new ReasoningTrainer(config, Easy4.Value, 7);
            for (int i = 0; i < 4; i++) first.TrainStep();
            var path = Path.Combine(dir.FullName, "ck.safetensors");
            first.Save(path);
            var resumed = ReasoningTrainer.Resume(path, Easy4.Value);
            ReasoningStepStats a = default, b = default;
            for (int i = 0; i < 2; i++) { a = resumed.TrainStep(); }
            for (int i = 0; i < 2; i++) { b = first.TrainStep(); }
            Assert.Equal(b.Loss, a.Loss);
            var s = straight.EvaluationWeights(); var r = resumed.EvaluationWeights();
            foreach (var (name, p) in straight.Model.NamedParameters())
            {
                Assert.Equal(p.ToFloatArray(), resumed.Model.StateDict()[name].ToFloatArray());
                Assert.Equal(s[name].ToFloatArray(), r[name].ToFloatArray());
            }
            Assert.Equal(straight.Examples, resumed.Examples);
        }
        finally { dir.Delete(true); }
    }

    [Theory]
    [InlineData(ReasonerKind.Trm)]
    [InlineData(ReasonerKind.Hrm)]
    public void ATinyFourByFourRunLearns(ReasonerKind kind)
    {
        var t = new ReasoningTrainer(Tiny(kind) with { Hidden = 32, Batch = 16, LearningRate = 3e-3, WarmupSteps = 10 }, Easy4.Value, 2);
        var stats = Enumerable.Range(0, 120).Select(_ => t.TrainStep()).ToList();
        double lossBefore = stats.Take(10).Average(s => s.LmLoss), lossAfter = stats.TakeLast(10).Average(s => s.LmLoss);
        double cellsBefore = stats.Take(10).Average(s => s.CellAccuracy), cellsAfter = stats.TakeLast(10).Average(s => s.CellAccuracy);
        Assert.True(lossAfter < 0.7 * lossBefore, $"loss {lossBefore:F3} → {lossAfter:F3}");
        Assert.True(cellsAfter > cellsBefore + 0.2, $"cell accuracy {cellsBefore:P0} → {cellsAfter:P0}");
    }

    [Fact]
    public void MazesTrainAndEvaluate()
    {
        var (train, test) = new PuzzleSpec(PuzzleTask.Maze, 7, "easy", 12, 4, 2).Make();
        foreach (var kind in new[] { ReasonerKind.Hrm, ReasonerKind.Trm, ReasonerKind.Transformer })
        {
            var c = ReasonerPresets.Get(kind, "cpu", train.Vocab, train.SeqLen, maze: true)
                with
            { Hidden = 16, Heads = 2, Batch = 3, MaxSegments = kind == ReasonerKind.Transformer ? 1 : 2 };
            var t = new ReasoningTrainer(c, train, 1);
            for (int i = 0; i < 3; i++) Assert.True(double.IsFinite(t.TrainStep().Loss));
            var e = ReasoningEvaluation.Evaluate(t.EvaluationModel(), test, 2);
            Assert.Equal(4, e.Count);
            Assert.InRange(e.CellAccuracy, 0, 1);
        }
    }

    [Fact]
    public void PaperPresetsHaveThePublishedSizes()
    {
        long Count(ReasonerKind k) => Reasoner.Create(ReasonerPresets.Get(k, "paper", 11, 81, false)).ParameterCount();
        long hrm = Count(ReasonerKind.Hrm), trm = Count(ReasonerKind.Trm), mlp = Count(ReasonerKind.TrmMlp),
            direct = Count(ReasonerKind.Transformer);
        Assert.InRange(hrm, 27_000_000, 27_600_000);   // HRM: 27.3M
        Assert.InRange(trm, 6_500_000, 7_500_000);     // TRM attention: 7M
        Assert.InRange(mlp, 4_500_000, 5_500_000);     // TRM MLP-T: 5M
        Assert.InRange(direct, 27_000_000, 27_600_000); // the direct Transformer matches HRM
    }

    [Fact]
    public void CpuPresetsHaveEqualParameterBudgets()
    {
        var counts = new[] { ReasonerKind.Hrm, ReasonerKind.Trm, ReasonerKind.Transformer }
            .Select(k => Reasoner.Create(ReasonerPresets.Get(k, "cpu", 8, 36, false)).ParameterCount()).ToArray();
        Assert.True(counts.Max() - counts.Min() < 0.01 * counts.Max(), string.Join(", ", counts));
    }
}
