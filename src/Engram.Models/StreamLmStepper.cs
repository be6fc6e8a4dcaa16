// A stream LM one byte at a time without the tensor engine (Engram.Nn's steppers for its layers): the path the online
// learner predicts with, so that a decoder, which must predict each byte before it knows the next, runs as fast as
// the encoder. The stepper reads a copy of the layer states (the learner's own states advance only when it learns the
// chunk through the batched, differentiable forward) but advances the count memory for real, and keeps what the count
// memory said at each position — the learning pass reuses it instead of counting the chunk twice.
using Engram.Nn;
using Engram.Tensors;

namespace Engram.Models;

/// <summary>What the count memory and the match model contributed at each position of a piece: the experts, their
/// confidence features and the match model's logit shifts ([T, 256], or null when it guessed nothing).</summary>
public sealed record CountInputs(SparseExperts Experts, float[] Confidence, float[]? Shift);

public sealed class StreamLmStepper
{
    /// <summary>Whether a configuration has a stepper: the continual LM with a convolution (or no) mixer and a TTT-Linear
    /// fast-weight layer. Other models predict through the batched forward.</summary>
    public static bool Supports(LmConfig c) =>
        c.Kind == LmKind.Continual && c.Mixer != MixerKind.Attention && FastWeightStepper.Supports(c.FastWeight);

    readonly StreamLm _model;
    readonly ContextCounts? _counts;
    readonly ConvStepper?[] _convs;
    readonly FastWeightStepper[] _memories;
    readonly SwiGluStepper[] _mlps;
    readonly float[] _x, _n, _t, _h, _gateIn, _gate, _scratch;
    readonly float[] _logits = new float[LmConfig.Vocabulary];
    readonly StepLinear _head;
    readonly StepLinear? _mixGate;
    readonly SparseExperts? _experts;
    readonly List<float> _confidence = [];
    readonly List<(int Row, int Byte, float Shift)> _shifts = [];

    /// <summary>Positions stepped so far.</summary>
    public int Steps { get; private set; }

    public StreamLmStepper(StreamLm model, LmState state)
    {
        if (!Supports(model.Config)) throw new EngramException($"stream LM stepper: preset '{model.Config.Preset}' has none");
        _model = model;
        int blocks = model.Blocks.Count, i = 0, dim = model.Config.Dim;
        _convs = new ConvStepper?[blocks];
        _memories = new FastWeightStepper[blocks];
        _mlps = new SwiGluStepper[blocks];
        for (int b = 0; b < blocks; b++)
        {
            var block = model.Blocks[b];
            if (block.Conv is { } conv) _convs[b] = new ConvStepper(conv, (ConvState)state.Layers[i++]);
            _memories[b] = new FastWeightStepper(block.Memory!, ((FastWeightStreamState)state.Layers[i++]).Inner);
            _mlps[b] = new SwiGluStepper(block.Mlp);
        }
        _head = new StepLinear(model.Head);
        if (model.MixGate is { } mg) _mixGate = new StepLinear(mg);
        _x = new float[dim]; _n = new float[dim]; _t = new float[dim]; _h = new float[dim];
        int k = model.Config.CountExperts;
        _gateIn = new float[dim + k * ContextCounts.ConfidenceFeatures];
        _gate = new float[k];
        _scratch = new float[LmConfig.Vocabulary];
        if (model.MixGate is not null)
        {
            _counts = state.Counts ?? throw new EngramException("model: state has no context counts");
            _experts = new SparseExperts(k, LmConfig.Vocabulary);
        }
    }

    /// <summary>Reads one input (a byte, or the start token) and returns the logits of the byte that follows it. The
    /// span is overwritten by the next step.</summary>
    public ReadOnlySpan<float> Step(int input)
    {
        int dim = _model.Config.Dim;
        _model.Embed.Weight.AsSpanF32().Slice(input * dim, dim).CopyTo(_x);
        for (int b = 0; b < _memories.Length; b++)
        {
            var block = _model.Blocks[b];
            if (_convs[b] is { } conv)
            {
                StepMath.RmsNorm(block.MixerNorm!, _x, _n);
                conv.Step(_n, _t);
                AddResidual();
            }
            StepMath.RmsNorm(block.MemoryNorm!, _x, _n);
            _memories[b].Step(_n, _t);
            AddResidual();
            StepMath.RmsNorm(block.MlpNorm, _x, _n);
            _mlps[b].Step(_n, _t);
            AddResidual();
        }
        StepMath.RmsNorm(_model.FinalNorm, _x, _h);
        _head.Apply(_h, _logits);
        if (_counts is not null) MixCounts(input);
        Steps++;
        return _logits;
    }

    void AddResidual()
    {
        for (int i = 0; i < _x.Length; i++) _x[i] += _t[i];
    }

    void MixCounts(int input)
    {
        int dim = _model.Config.Dim, k = _gate.Length;
        if (input != LmConfig.StartToken) _counts!.Update((byte)input);
        var confidence = _gateIn.AsSpan(dim);
        _counts!.Predict(_experts!, confidence);
        foreach (var c in confidence) _confidence.Add(c);
        _h.CopyTo(_gateIn, 0);
        _mixGate!.Apply(_gateIn, _gate);
        for (int j = 0; j < k; j++) _gate[j] = StepMath.Softplus(_gate[j]);
        _experts!.MixRow(Steps, _gate, _logits, _scratch);
        if (_counts.Match is not { } matcher) return;
        var guess = matcher.Current;
        float shift = matcher.RefineAt(_logits, guess, input);
        if (guess.Byte < 0) return;
        _logits[guess.Byte] += shift;
        _shifts.Add((Steps, guess.Byte, shift));
    }

    /// <summary>What the count memory contributed at each position stepped, for the batched forward that learns them
    /// (null for a model without counts).</summary>
    public CountInputs? CountInputs()
    {
        if (_experts is null) return null;
        float[]? shift = null;
        if (_shifts.Count > 0)
        {
            shift = new float[Steps * LmConfig.Vocabulary];
            foreach (var (row, b, s) in _shifts) shift[row * LmConfig.Vocabulary + b] = s;
        }
        return new CountInputs(_experts, [.. _confidence], shift);
    }
}
