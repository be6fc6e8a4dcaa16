// The MQAR benchmark: attention learns a small setting far above chance, every mixer trains, the same seed gives the same
// figures bit for bit (whether settings run side by side or not), and the grid keeps only settings with room for queries.
using Engram.Experiments;
using Engram.Tasks;
using Engram.Tensors;

namespace Engram.Experiments.Tests;

public class MqarBenchTests
{
    static readonly MqarBench.Options Tiny = new()
    {
        Layers = ["attention"], Widths = [32], Lengths = [32], Pairs = [4], Vocab = 64, Steps = 250, Batch = 16,
        LearningRate = 1e-2, TestSequences = 64, Parallel = 1,
    };

    [Fact]
    public void AttentionLearnsFewPairsFarAboveChance()
    {
        var r = MqarBench.Train(Tiny, new MqarBench.Setting("attention", 32, 32, 4));
        // Chance is 1/31 over the values, 1/4 for a model that knows only which values the sequence holds.
        Assert.True(r.Accuracy > 0.9, $"accuracy {r.Accuracy:P1}, train loss {r.TrainLoss:F3}");
        Assert.Equal(4 * 64, r.Queries);
    }

    [Fact]
    public void WithoutTrainingAccuracyIsAtChance()
    {
        var r = MqarBench.Train(Tiny with { LearningRate = 1e-6, Steps = 2 }, new MqarBench.Setting("attention", 32, 32, 4));
        Assert.True(r.Accuracy < 0.15, $"accuracy {r.Accuracy:P1}");
    }

    [Fact]
    public void TheSameSeedGivesTheSameFiguresSideBySideOrNot()
    {
        var o = Tiny with { Layers = [.. MqarLayer.Names], Lengths = [16], Pairs = [2], Steps = 3, TestSequences = 8, Batch = 4 };
        var alone = MqarBench.Run(o with { Parallel = 1 }, _ => { }, _ => { });
        var reported = new List<MqarBench.Result>();
        var together = MqarBench.Run(o with { Parallel = 2 }, _ => { }, reported.Add);
        Assert.Equal(MqarLayer.Names, alone.Select(r => r.Layer));
        Assert.Equal(alone.Select(r => r.Layer), reported.Select(r => r.Layer)); // reported in grid order
        foreach (var (a, b) in alone.Zip(together))
        {
            Assert.Equal(a.Accuracy, b.Accuracy);
            Assert.Equal(BitConverter.DoubleToInt64Bits(a.TrainLoss), BitConverter.DoubleToInt64Bits(b.TrainLoss));
            Assert.True(double.IsFinite(a.TrainLoss), $"{a.Layer}: train loss {a.TrainLoss}");
        }
        var other = MqarBench.Run(o with { Seed = 2, Layers = ["delta"] }, _ => { }, _ => { });
        Assert.NotEqual(alone.Single(r => r.Layer == "delta").TrainLoss, other[0].TrainLoss);
    }

    [Fact]
    public void TheGridKeepsSettingsWithRoomForEveryQuery()
    {
        var grid = MqarBench.Grid(new MqarBench.Options { Layers = ["gru"], Widths = [64], Lengths = [64, 128, 256], Pairs = [4, 16, 64] });
        Assert.Equal(new[] { (64, 4), (64, 16), (128, 4), (128, 16), (256, 4), (256, 16), (256, 64) },
            grid.Select(s => (s.Length, s.Pairs)));
        var e = Assert.Throws<EngramException>(() => MqarBench.Validate(new MqarBench.Options { Lengths = [16], Pairs = [8] }));
        Assert.Contains("length ≥ 4 × pairs", e.Message);
        Assert.Throws<EngramException>(() => MqarBench.Validate(new MqarBench.Options { Layers = ["nosuch"] }));
        Assert.Contains("multiple of 3 heads",
            Assert.Throws<EngramException>(() => MqarBench.Validate(new MqarBench.Options { Heads = 3 })).Message);
    }

    [Fact]
    public void ABatchTooLargeForOnePassIsSplitAndStillLearns()
    {
        var o = new MqarBench.Options { Batch = 32 };
        Assert.Equal(32, MqarBench.MicroBatch(o, new MqarBench.Setting("titans", 64, 256, 64)));
        Assert.Equal(4, MqarBench.MicroBatch(o, new MqarBench.Setting("titans", 128, 512, 64)));
        // a batch of 16 in four passes of 4 takes the same steps up to float rounding
        var setting = new MqarBench.Setting("delta", 32, 32, 4);
        var small = Tiny with { Steps = 20, PassLimit = 5.0 * 32 * 32 * 32 };
        Assert.Equal(4, MqarBench.MicroBatch(small, setting));
        var whole = MqarBench.Train(Tiny with { Steps = 20 }, setting);
        var split = MqarBench.Train(small, setting);
        Assert.Equal(whole.TrainLoss, split.TrainLoss, 1e-3);
    }

    [Fact]
    public void TheTableMarksCellsOnThePlateauAndCellsThatDiverged()
    {
        MqarBench.Result Cell(string layer, double accuracy, double loss, long steps = 250) =>
            new(layer, 64, 128, 16, accuracy, steps, 10, 1000, loss, 4096);
        var table = MqarBench.Table([Cell("delta", 0.979, 0.07), Cell("gru", 0.007, 2.7), Cell("gated-delta", 0, double.NaN, 86)]);
        var lines = table.Split('\n');
        Assert.Matches(@"^\s+64\s+128\s+16\s+97\.9% \s+0\.7%\*\s+0\.0%!$", lines[1]);
        Assert.Contains("* training ended on the plateau", table);
        Assert.Contains("! gated-delta at width 64, L=128, N=16: the training loss became NaN at step 86", table);
        Assert.False(Cell("gru", 0.3, 1.0).OnPlateau); // below ¾ ln 16 = 2.08
        Assert.DoesNotContain("\"on_plateau\":true", MqarBench.Json(Cell("delta", 0.979, 0.07)));
        Assert.Contains("\"diverged\":true", MqarBench.Json(Cell("gated-delta", 0, double.NaN, 86)));
    }

    [Theory]
    [InlineData("delta")]
    [InlineData("titans")]
    [InlineData("gru")]
    public void MixersReadInPiecesGiveTheOutputsOfOneCall(string name)
    {
        var mixer = MqarLayer.Get(name).Create(16, 2, new Generator(4));
        var x = Tensor.Randn(new Generator(5), [2, 37, 16]);
        using var scope = TensorScope.Begin();
        var pieces = mixer.Forward(x).ToFloatArray();
        var whole = mixer switch
        {
            FastWeightMixer f => f.Memory.Forward(x, f.Memory.InitialState(2)),
            GruMixer g => g.Gru.Forward(x, g.Gru.InitialState(2)),
            _ => throw new InvalidOperationException(name),
        };
        Assert.Equal(whole.ToFloatArray(), pieces);
    }

    [Fact]
    public void TheModelReadsOnlyTheQueryPositions()
    {
        var model = new MqarModel(new MqarModelConfig("delta", 32, 16), new Generator(1));
        var batch = Mqar.Generate(new MqarSpec(32, 16, 2), 3, new Generator(2));
        using var scope = TensorScope.Begin();
        var logits = model.Forward(batch.Inputs, batch.Count, batch.QueryPositions);
        Assert.Equal([6, 32], logits.Shape.ToArray());
    }
}
