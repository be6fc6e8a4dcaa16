// Training of the reasoning models (docs/reasoning.md): deep supervision with adaptive halting. Each optimizer step
// runs one segment for every slot of the batch; the carry (AdaptiveComputation.cs) keeps the states, detached, for
// the next step, and decides which slots halt; a slot that halts is refilled with a new augmented training example.
// Loss: stablemax cross-entropy over the grid, plus 0.5 × (BCE(q_halt, answer exactly right) + [HRM] BCE(q_continue,
// σ(next segment's max(q_halt, q_continue)))). Optimiser Adam-atan2 with linear warm-up; TRM keeps an EMA of the
// weights, which is what gets evaluated (ReasoningEvaluation.cs). Checkpoints continue a run bit for bit.
using System.Globalization;
using Engram.Models.Reasoning;
using Engram.Tasks;
using Engram.Tensors;
using Engram.Tensors.IO;
using Engram.Tensors.Optim;

namespace Engram.Learning;

/// <summary>What one training step did: losses, and over the batch the fraction of cells and of whole grids right,
/// the mean number of segments the slots had run, and how many slots halted.</summary>
public readonly record struct ReasoningStepStats(long Step, double Loss, double LmLoss, double QLoss, double CellAccuracy,
    double ExactAccuracy, double MeanSegments, int Halted);

public sealed class ReasoningTrainer
{
    public Reasoner Model { get; }
    public ReasonerConfig Config => Model.Config;
    public AdamAtan2 Optimizer { get; }
    public PuzzleSet Train { get; }
    public Generator Rng { get; }
    public long Step => Optimizer.StepCount;
    /// <summary>Training examples drawn so far (slot refills).</summary>
    public long Examples { get; private set; }
    /// <summary>Wall-clock seconds spent training, over every run that resumed this one.</summary>
    public double TrainSeconds { get; set; }

    readonly List<(string Name, Tensor Param)> _params;
    readonly Tensor[]? _ema;
    readonly int _batch;
    /// <summary>The batch slots' examples; their states, segment counts and halted flags are in the carry.</summary>
    readonly byte[][] _inputs, _labels;
    readonly ReasoningCarry _carry;

    public ReasoningTrainer(ReasonerConfig config, PuzzleSet train, ulong seed)
    {
        if (config.Vocab != train.Vocab || config.SeqLen != train.SeqLen)
            throw new EngramException($"reasoner: the model expects vocabulary {config.Vocab} and {config.SeqLen} cells, the data has "
                + $"{train.Vocab} and {train.SeqLen}");
        Model = Reasoner.Create(config);
        Train = train;
        Rng = new Generator(seed);
        _params = Model.NamedParameters().ToList();
        Optimizer = new AdamAtan2(_params.Select(p => p.Param), config.LearningRate, config.Beta1, config.Beta2, config.WeightDecay)
        {
            Schedule = new WarmupConstant(config.LearningRate, config.WarmupSteps),
        };
        if (config.EmaDecay > 0) _ema = _params.Select(p => p.Param.CloneDetached()).ToArray();
        _batch = config.Batch;
        _inputs = new byte[_batch][]; _labels = new byte[_batch][];
        _carry = new ReasoningCarry(Model, _batch);
    }

    public ReasoningStepStats TrainStep()
    {
        var c = Config;
        int B = _batch, L = c.SeqLen;
        for (int s = 0; s < B; s++)
        {
            if (!_carry.Halted[s]) continue;
            (_inputs[s], _labels[s]) = Train.Augmented(Rng.NextInt(Train.Count), Rng);
            Examples++;
            _carry.Reset(s);
        }
        var tokens = new int[B * L]; var targets = new int[B * L];
        for (int s = 0; s < B; s++)
            for (int i = 0; i < L; i++) { tokens[s * L + i] = _inputs[s][i]; targets[s * L + i] = _labels[s][i]; }

        // Every tensor of the step comes from the scope's pool and goes back at its end; the carried states are copied out.
        using var scope = TensorScope.Begin();
        var x = Model.Embed(tokens, B);
        var (output, next) = Model.Segment(_carry.States, x);
        _carry.CountSegment();
        var predicted = output.Logits.Argmax(-1);
        var correct = new bool[B];
        int cellsRight = 0, gridsRight = 0;
        for (int s = 0; s < B; s++)
        {
            int right = 0;
            for (int i = 0; i < L; i++) if (predicted[s * L + i] == targets[s * L + i]) right++;
            cellsRight += right;
            correct[s] = right == L;
            if (correct[s]) gridsRight++;
        }
        double meanSegments = _carry.Segments.Average();

        var lmLoss = Functional.StablemaxCrossEntropy(output.Logits.Reshape(B * L, c.Vocab), targets);
        var loss = lmLoss;
        Tensor? qLoss = null;
        // Halting (and exploration, which draws from Rng) is decided before the Q loss, as it always was.
        var halted = AdaptiveComputation.TrainingHalts(c, output, _carry.Segments, Rng);
        if (AdaptiveComputation.LearnsHalting(c, output))
        {
            var correctTensor = Tensor.FromArray(correct.Select(b => b ? 1f : 0f).ToArray(), B);
            qLoss = Functional.BinaryCrossEntropyWithLogits(output.QHalt!, correctTensor);
            if (output.QContinue is not null)
            {
                var target = AdaptiveComputation.ContinueTarget(Model, next, x, _carry.Segments, c.MaxSegments);
                qLoss = qLoss + Functional.BinaryCrossEntropyWithLogits(output.QContinue, target);
            }
            loss = loss + qLoss * 0.5;
        }

        Optimizer.ZeroGrad();
        loss.Backward();
        Optimizer.Step();
        UpdateEma();
        int haltedCount = _carry.Advance(next, halted);
        return new ReasoningStepStats(Step, loss.Item(), lmLoss.Item(), qLoss?.Item() ?? 0, (double)cellsRight / (B * L),
            (double)gridsRight / B, meanSegments, haltedCount);
    }

    void UpdateEma()
    {
        if (_ema is null) return;
        float d = (float)Config.EmaDecay;
        for (int i = 0; i < _ema.Length; i++)
        {
            var e = _ema[i].AsSpanF32(); var p = _params[i].Param.AsSpanF32();
            for (int k = 0; k < e.Length; k++) e[k] = d * e[k] + (1 - d) * p[k];
        }
    }

    /// <summary>The weights to evaluate: the EMA copy when the recipe keeps one, else the trained weights.</summary>
    public Dictionary<string, Tensor> EvaluationWeights()
    {
        var d = new Dictionary<string, Tensor>();
        for (int i = 0; i < _params.Count; i++) d[_params[i].Name] = _ema?[i] ?? _params[i].Param;
        return d;
    }

    /// <summary>A copy of the model holding the evaluation weights (EMA where kept).</summary>
    public Reasoner EvaluationModel()
    {
        var m = Reasoner.Create(Config);
        m.LoadStateDict(EvaluationWeights());
        return m;
    }

    // ------------------------------------------------------------------ checkpoints

    /// <summary>Everything needed to continue bit for bit: weights, EMA, Adam-atan2 moments, step, generator, and every
    /// batch slot (its example, segment count, halted flag, carried states). Written atomically.</summary>
    public void Save(string path, IReadOnlyDictionary<string, string>? extra = null)
    {
        var t = new Dictionary<string, Tensor>();
        for (int i = 0; i < _params.Count; i++)
        {
            t["net." + _params[i].Name] = _params[i].Param;
            if (_ema is not null) t["ema." + _params[i].Name] = _ema[i];
        }
        for (int i = 0; i < _carry.States.Length; i++) t[$"carry.{i}"] = _carry.States[i];
        int L = Config.SeqLen;
        var inputs = new float[_batch * L]; var labels = new float[_batch * L];
        for (int s = 0; s < _batch; s++)
            if (_inputs[s] is not null)
                for (int i = 0; i < L; i++) { inputs[s * L + i] = _inputs[s][i]; labels[s * L + i] = _labels[s][i]; }
        t["slot.inputs"] = Tensor.FromArray(inputs, _batch, L);
        t["slot.labels"] = Tensor.FromArray(labels, _batch, L);
        t["slot.segments"] = Tensor.FromArray(_carry.Segments.Select(v => (float)v).ToArray(), _batch);
        t["slot.halted"] = Tensor.FromArray(_carry.Halted.Select(v => v ? 1f : 0f).ToArray(), _batch);
        var meta = new Dictionary<string, string>(extra ?? new Dictionary<string, string>())
        {
            ["reasoner"] = Config.ToJson(),
            ["examples"] = Examples.ToString(CultureInfo.InvariantCulture),
            ["train_seconds"] = TrainSeconds.ToString("R", CultureInfo.InvariantCulture),
        };
        Checkpoint.Save(path, t, Optimizer, Step, Rng, meta);
    }

    /// <summary>Loads a checkpoint written by Save into a fresh trainer on the same training set.</summary>
    public static ReasoningTrainer Resume(string path, PuzzleSet train)
    {
        var ck = Checkpoint.Load(path);
        var config = ConfigOf(ck, path);
        var trainer = new ReasoningTrainer(config, train, 0);
        try
        {
            trainer.Model.LoadStateDict(Strip(ck.Weights, "net."));
            if (trainer._ema is not null)
            {
                var ema = Strip(ck.Weights, "ema.");
                for (int i = 0; i < trainer._ema.Length; i++)
                    trainer._ema[i].CopyFrom(ema.TryGetValue(trainer._params[i].Name, out var e)
                        ? e : throw new InvalidFileException($"{path}: EMA weights missing"));
            }
            var states = trainer._carry.States;
            for (int i = 0; i < states.Length; i++)
                states[i] = ck.Weights.TryGetValue($"carry.{i}", out var cv) && Tensor.SameShapeAs(cv, states[i])
                    ? cv.Contiguous() : throw new InvalidFileException($"{path}: carried state {i} missing or misshapen");
            int L = config.SeqLen, B = config.Batch;
            float[] Get(string n, int len) => ck.Weights.TryGetValue(n, out var v) && v.Numel == len
                ? v.ToFloatArray() : throw new InvalidFileException($"{path}: '{n}' missing or misshapen");
            var inputs = Get("slot.inputs", B * L); var labels = Get("slot.labels", B * L);
            var segments = Get("slot.segments", B); var halted = Get("slot.halted", B);
            for (int s = 0; s < B; s++)
            {
                trainer._carry.Segments[s] = (int)segments[s]; trainer._carry.Halted[s] = halted[s] != 0;
                if (trainer._carry.Halted[s] && segments[s] == 0) { trainer._inputs[s] = null!; trainer._labels[s] = null!; continue; }
                trainer._inputs[s] = new byte[L]; trainer._labels[s] = new byte[L];
                for (int i = 0; i < L; i++)
                {
                    trainer._inputs[s][i] = (byte)inputs[s * L + i]; trainer._labels[s][i] = (byte)labels[s * L + i];
                }
            }
            ck.RestoreOptimizer(trainer.Optimizer);
            ck.RestoreGenerator(trainer.Rng);
            trainer.Examples = long.Parse(ck.Extra.GetValueOrDefault("examples", "0"), CultureInfo.InvariantCulture);
            trainer.TrainSeconds = double.Parse(ck.Extra.GetValueOrDefault("train_seconds", "0"), CultureInfo.InvariantCulture);
        }
        catch (FormatException) { throw new InvalidFileException($"{path}: invalid numbers in the checkpoint's metadata"); }
        return trainer;
    }

    static ReasonerConfig ConfigOf(Checkpoint ck, string path)
    {
        if (!ck.Extra.TryGetValue("reasoner", out var json))
            throw new InvalidFileException($"{path}: not a reasoning-model checkpoint (no model configuration)");
        try { return ReasonerConfig.FromJson(json); }
        catch (System.Text.Json.JsonException e) { throw new InvalidFileException($"{path}: invalid model configuration ({e.Message})"); }
    }

    static Dictionary<string, Tensor> Strip(Dictionary<string, Tensor> all, string prefix)
        => all.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal)).ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value);

    /// <summary>The model to evaluate from a checkpoint (EMA weights where the recipe keeps them).</summary>
    public static (Reasoner Model, Checkpoint Checkpoint) LoadForEvaluation(string path)
    {
        var ck = Checkpoint.Load(path);
        var config = ConfigOf(ck, path);
        var model = Reasoner.Create(config);
        var ema = Strip(ck.Weights, "ema.");
        model.LoadStateDict(ema.Count > 0 ? ema : Strip(ck.Weights, "net."));
        return (model, ck);
    }
}
