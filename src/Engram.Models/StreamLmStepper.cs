// A stream LM one byte at a time without the tensor engine (Engram.Nn's steppers for its layers): the path the online
// learner predicts with, so that a decoder, which must predict each byte before it knows the next, runs as fast as
// the encoder. The stepper reads a copy of the layer states (the learner's own states advance only when it learns the
// chunk through the batched, differentiable forward) but advances the count memory for real, and keeps what the count
// memory said at each position — the learning pass reuses it instead of counting the chunk twice.
using System.Runtime.InteropServices;
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
    readonly List<MatchModel.Guess> _guesses = [];
    readonly float[] _conf;

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
        _conf = new float[k * ContextCounts.ConfidenceFeatures];
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
        Network(input, _h, _logits);
        if (_counts is not null)
        {
            Count(input);
            Mix(input, Steps, _h, _logits);
        }
        Steps++;
        return _logits;
    }

    /// <summary>Step over a whole piece whose inputs are known (the encoder's side): the count memory reads the piece on
    /// another core while the network steps, then the two are mixed position by position — the same bits as Step, input
    /// by input. Writes the logits of every position to `logits` ([T, 256]).</summary>
    public void StepAll(int[] inputs, Span<float> logits)
    {
        int t = inputs.Length, dim = _model.Config.Dim, v = LmConfig.Vocabulary;
        var hs = new float[t * dim];
        Task? counting = null;
        if (_counts is not null)
        {
            if (t >= 16 && StreamLm.OverlapCounts) counting = Task.Run(() => { foreach (var x in inputs) Count(x); });
            else foreach (var x in inputs) Count(x);
        }
        try
        {
            for (int p = 0; p < t; p++) Network(inputs[p], hs.AsSpan(p * dim, dim), logits.Slice(p * v, v));
        }
        finally
        {
            // never leave the counting task running on state the caller goes on to use; its own failure, if any, is
            // rethrown as itself just below (Wait would wrap it, and would hide the network's failure)
            ((IAsyncResult?)counting)?.AsyncWaitHandle.WaitOne();
        }
        counting?.GetAwaiter().GetResult();
        if (_counts is not null)
            for (int p = 0; p < t; p++) Mix(inputs[p], Steps + p, hs.AsSpan(p * dim, dim), logits.Slice(p * v, v));
        Steps += t;
    }

    /// <summary>The network alone: input → final hidden state h and the head's logits.</summary>
    void Network(int input, Span<float> h, Span<float> logits)
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
        StepMath.RmsNorm(_model.FinalNorm, _x, h);
        _head.Apply(h, logits);
    }

    void AddResidual()
    {
        for (int i = 0; i < _x.Length; i++) _x[i] += _t[i];
    }

    /// <summary>The count memory reads the input and says what it expects next (appended to the record).</summary>
    void Count(int input)
    {
        if (input != LmConfig.StartToken) _counts!.Update((byte)input);
        var confidence = _conf.AsSpan();
        _counts!.Predict(_experts!, confidence);
        foreach (var c in confidence) _confidence.Add(c);
        _guesses.Add(_counts.Match?.Current ?? new MatchModel.Guess(-1, 0, 0));
    }

    /// <summary>Mixes the record of position `row` into its logits: the gates from [h; confidence], the experts, then
    /// the match model's adaptive map (which learns in order, so rows are mixed in order).</summary>
    void Mix(int input, int row, ReadOnlySpan<float> h, Span<float> logits)
    {
        int dim = _model.Config.Dim, k = _gate.Length, f = k * ContextCounts.ConfidenceFeatures;
        h.CopyTo(_gateIn);
        CollectionsMarshal.AsSpan(_confidence).Slice(row * f, f).CopyTo(_gateIn.AsSpan(dim));
        _mixGate!.Apply(_gateIn, _gate);
        for (int j = 0; j < k; j++) _gate[j] = StepMath.Softplus(_gate[j]);
        _experts!.MixRow(row, _gate, logits, _scratch);
        if (_counts!.Match is not { } matcher) return;
        var guess = _guesses[row];
        float shift = matcher.RefineAt(logits, guess, input);
        if (guess.Byte < 0) return;
        logits[guess.Byte] += shift;
        _shifts.Add((row, guess.Byte, shift));
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
