// The single-token stepper computes the same function as the batched, differentiable forward (to float rounding),
// for every option it covers, across mini-batch boundaries and from a state with pending fast-weight tokens.
using Engram.Learning;
using Engram.Models;
using Engram.Nn;
using Engram.Tensors;

namespace Engram.Learning.Tests;

public class StepperTests
{
    public static IEnumerable<object[]> Variants() => new (string, LmConfig)[]
    {
        ("conv", TestModels.Stepped),
        ("no mixer, no counts", TestModels.Stepped with { Mixer = MixerKind.None, ContextOrders = [], MatchMinLength = 0 }),
        ("kernel 1, two layers", TestModels.Stepped with { ConvKernel = 1, Layers = 2 }),
        ("no residual norm, no gate", TestModels.Stepped with
            { FastWeight = TestModels.Stepped.FastWeight with { NormResidual = false, OutputGate = false } }),
        ("position scale, mini-batch 3", TestModels.Stepped with
            { FastWeight = TestModels.Stepped.FastWeight with { PositionScale = true, MiniBatch = 3 } }),
    }.Select(v => new object[] { v.Item1, v.Item2 });

    [Theory, MemberData(nameof(Variants))]
    public void TheStepperComputesTheBatchedForward(string name, LmConfig config)
    {
        // 3 bytes: the fast weights are still W₀'s view; 203: the last chunk is partial. Either way tokens are pending,
        // with their rows cached by the batched forward, or recomputed after the state is reloaded.
        foreach (int length in new[] { 3, 203 })
            foreach (bool reload in new[] { false, true })
            {
                var learner = new OnlineLearner(config, TestModels.Learner);
                Assert.True(learner.Stepped, name);
                learner.Learn(TestModels.Text(length));
                if (reload) learner.State.Load(learner.State.Tensors().ToDictionary(t => t.Name, t => t.Value), "");
                var worst = Difference(learner);
                Assert.True(worst < 2e-4, $"{name}, {length} bytes, reloaded {reload}: stepper and batched forward differ by " +
                    $"{worst:E2} (relative)");
            }
    }

    static double Difference(OnlineLearner learner)
    {
        var next = TestModels.Text(40, seed: 7);
        var inputs = new int[next.Length];
        inputs[0] = learner.PreviousToken;
        for (int i = 1; i < inputs.Length; i++) inputs[i] = next[i - 1];
        var counts = learner.State.Counts;
        counts?.Mark();
        float[] batched;
        using (Autograd.NoGrad()) batched = learner.Model.Forward(inputs, learner.State.Fork()).ToFloatArray();
        counts?.Rollback();
        counts?.Mark();
        var stepper = new StreamLmStepper(learner.Model, learner.State);
        var stepped = inputs.SelectMany(x => stepper.Step(x).ToArray()).ToArray();
        counts?.Rollback();
        Assert.Equal(inputs.Length, stepper.Steps);
        double worst = 0;
        for (int i = 0; i < batched.Length; i++) worst = Math.Max(worst, Math.Abs(batched[i] - stepped[i]) / (1 + Math.Abs(batched[i])));
        return worst;
    }

    [Fact]
    public void SteppingAWholePieceWithTheCountsOnAnotherCoreGivesTheBitsOfSteppingInputByInput()
    {
        var learner = new OnlineLearner(TestModels.Stepped, TestModels.Learner);
        learner.Learn(TestModels.Text(300));
        var inputs = TestModels.Text(48, seed: 3).Select(b => (int)b).ToArray();
        var counts = learner.State.Counts!;
        counts.Mark();
        var whole = new float[inputs.Length * LmConfig.Vocabulary];
        var a = new StreamLmStepper(learner.Model, learner.State);
        a.StepAll(inputs, whole); // 48 ≥ 16 inputs: counted on another core when there is one
        var recordA = a.CountInputs()!;
        counts.Rollback();
        counts.Mark();
        var b = new StreamLmStepper(learner.Model, learner.State);
        var one = inputs.SelectMany(x => b.Step(x).ToArray()).ToArray();
        var recordB = b.CountInputs()!;
        counts.Rollback();
        Assert.Equal(one, whole);
        Assert.Equal(recordB.Confidence, recordA.Confidence);
        Assert.Equal(recordB.Shift, recordA.Shift);
    }

    [Fact]
    public void ModelsWithoutAStepperPredictThroughTheBatchedForward()
    {
        Assert.False(new OnlineLearner(TestModels.Continual, TestModels.Learner).Stepped); // attention mixer
        Assert.False(new OnlineLearner(TestModels.Titans, TestModels.Learner).Stepped);   // momentum and forgetting
        Assert.True(StreamLmStepper.Supports(Presets.Get("small")));
        Assert.True(StreamLmStepper.Supports(Presets.Get("neural")));
    }

    [Fact]
    public void AbandoningADecodedChunkHalfWayStopsTheLearner()
    {
        var learner = new OnlineLearner(TestModels.Stepped, TestModels.Learner);
        using (var next = learner.BeginByteByByte())
        {
            next.NextCumulative();
            next.Accept((byte)'a');
        }
        Assert.Throws<InvalidOperationException>(() => learner.Predict("abc"u8));
        Assert.True(learner.Failed);
    }

    [Fact]
    public void NothingReadsOrSavesALearnerInTheMiddleOfADecodedChunk()
    {
        var learner = new OnlineLearner(TestModels.Stepped, TestModels.Learner);
        learner.Learn(TestModels.Text(100));
        var next = learner.BeginByteByByte();
        next.NextCumulative();
        next.Accept((byte)'t');
        Assert.True(learner.HasPendingChunk);
        Assert.Throws<InvalidOperationException>(() => learner.Predict("x"u8));
        Assert.Throws<InvalidOperationException>(() => learner.PeekNext());
        Assert.Throws<InvalidOperationException>(() => learner.Continue("the"u8, 3));
        Assert.Throws<InvalidOperationException>(() => learner.BeginByteByByte());
        Assert.Throws<InvalidOperationException>(() => Brain.Save(learner, Path.Combine(Path.GetTempPath(), "never-" + Guid.NewGuid())));
        next.Learn();
        Assert.False(learner.HasPendingChunk);
        learner.PeekNext();
    }
}
