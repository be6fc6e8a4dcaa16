// The prequential online learner (docs/continual_learner.md): the stream is cut into chunks; for each chunk the model
// first predicts every byte from what came before (and is charged −log2 p), then the slow weights take optimizer
// steps on the chunk's loss. Fast weights move inside the forward pass; states carry into the next chunk detached;
// nothing is reset and nothing is revisited.
using System.Text.Json;
using Engram.Models;
using Engram.Tensors;
using Engram.Tensors.Optim;

namespace Engram.Learning;

/// <summary>How the learner learns. Serialised with the model configuration into brains and compressed files.</summary>
public sealed record LearnerConfig
{
    /// <summary>Bytes per chunk (a multiple of the fast-weight mini-batch keeps mini-batches inside chunks).</summary>
    public int Chunk { get; init; } = 64;
    public double LearningRate { get; init; } = 6e-3;
    public double Beta1 { get; init; } = 0.7;
    public double Beta2 { get; init; } = 0.999;
    public double Eps { get; init; } = 1e-8;
    public double WeightDecay { get; init; }
    /// <summary>Linear warm-up of the learning rate over this many optimizer steps.</summary>
    public int WarmupSteps { get; init; } = 50;
    /// <summary>Global gradient-norm clip (0: none).</summary>
    public double Clip { get; init; } = 1.0;
    /// <summary>Optimizer steps per chunk (the extra steps re-run the chunk from its starting state).</summary>
    public int StepsPerChunk { get; init; } = 1;
    public ulong Seed { get; init; } = 1;

    /// <summary>The defaults, with the chunk length the preset was tuned with.</summary>
    public static LearnerConfig ForPreset(string preset) => new() { Chunk = Presets.ChunkFor(preset) };

    public string ToJson() => JsonSerializer.Serialize(this);
    public static LearnerConfig FromJson(string json) => JsonSerializer.Deserialize<LearnerConfig>(json)
        ?? throw new EngramException("learner configuration: empty JSON");

    /// <summary>Checks every field against bounds (a configuration read from a file cannot ask for unbounded work).</summary>
    public void Validate()
    {
        if (Chunk < 1 || Chunk > 1 << 16) throw new EngramException($"learner configuration: Chunk must be in 1..65536 bytes, got {Chunk}");
        if (StepsPerChunk < 0 || StepsPerChunk > 64)
            throw new EngramException($"learner configuration: StepsPerChunk must be in 0..64, got {StepsPerChunk}");
        if (WarmupSteps < 0) throw new EngramException($"learner configuration: WarmupSteps must be ≥ 0, got {WarmupSteps}");
        static void Finite(string field, double v, double min, double max)
        {
            if (!(v >= min && v <= max)) throw new EngramException($"learner configuration: {field} must be in {min}..{max}, got {v}");
        }
        Finite(nameof(LearningRate), LearningRate, 0, 10);
        Finite(nameof(Beta1), Beta1, 0, 1);
        Finite(nameof(Beta2), Beta2, 0, 1);
        Finite(nameof(Eps), Eps, 0, 1);
        Finite(nameof(WeightDecay), WeightDecay, 0, 10);
        Finite(nameof(Clip), Clip, 0, double.MaxValue);
    }
}

public sealed class OnlineLearner
{
    public LmConfig ModelConfig { get; }
    public LearnerConfig Config { get; }
    public StreamLm Model { get; }
    public Optimizer Optimizer { get; }
    public LmState State { get; private set; }
    public Generator Generator { get; }
    /// <summary>Bytes read so far.</summary>
    public long Position { get; internal set; }
    /// <summary>Σ −log2 p over every byte read so far (the prequential code length).</summary>
    public double TotalBits { get; internal set; }
    /// <summary>The last byte read (the next input), or the start token.</summary>
    public int PreviousToken { get; internal set; } = LmConfig.StartToken;

    readonly uint[] _freq = new uint[LmConfig.Vocabulary];
    readonly float[] _scratch = new float[LmConfig.Vocabulary];

    // The chunk between Predict and Learn: its graph lives in _scope until Learn ends it.
    readonly ChunkPrediction _prediction = new();
    TensorScope? _scope;
    bool _marked;
    string? _failure;
    Tensor? _logits;
    CountInputs? _given;
    LmState? _start;
    int[] _inputs = [], _targets = [];

    public OnlineLearner(LmConfig model, LearnerConfig config)
    {
        model.Validate();
        config.Validate();
        ModelConfig = model; Config = config;
        Generator = new Generator(config.Seed);
        Model = new StreamLm(model, Generator);
        Optimizer = new Adam(Model.Parameters(), config.LearningRate, config.Beta1, config.Beta2, config.Eps, config.WeightDecay,
            decoupled: true)
        { Schedule = new WarmupConstant(config.LearningRate, config.WarmupSteps) };
        State = Model.InitialState();
        Stepped = StreamLmStepper.Supports(model);
        // Every parameter gets a gradient buffer now: a parameter the loss no longer reaches (W₀ once the stream has
        // moved on) then takes the same optimizer step whether or not the learner was saved and reloaded in between.
        foreach (var p in Model.Parameters()) p.Grad = Tensor.ZerosLike(p);
    }

    public double BitsPerByte => Position == 0 ? 0 : TotalBits / Position;

    /// <summary>Whether a chunk has been predicted and not yet learned.</summary>
    public bool HasPendingChunk => _scope is not null || _decoding;

    /// <summary>Whether a chunk failed half-way: the learner refuses further work and must not be saved.</summary>
    public bool Failed => _failure is not null;

    // A stepped decoder is mid-chunk: the counts are advanced, the layer states are not (nothing may read or save the
    // learner until its Learn() or its failure).
    bool _decoding;

    /// <summary>The model's inputs for a chunk: the byte before each one (`previous` for the first).</summary>
    static int[] Inputs(ReadOnlySpan<byte> chunk, int previous)
    {
        var inputs = new int[chunk.Length];
        inputs[0] = previous;
        for (int i = 1; i < chunk.Length; i++) inputs[i] = chunk[i - 1];
        return inputs;
    }

    /// <summary>Step one of the cycle: the distribution of every byte of `chunk` (1..Config.Chunk bytes, the bytes that
    /// follow the stream so far), each computed from the bytes before it only — nothing has learned from the chunk yet.
    /// The result is valid until the next Predict; call Learn() before predicting again. The chunk's computation graph is
    /// kept (in a TensorScope of this thread) for Learn, so call both on the same thread.</summary>
    public ChunkPrediction Predict(ReadOnlySpan<byte> chunk)
    {
        CheckCanPredict(chunk.Length);
        if (Stepped)
        {
            var inputs = Inputs(chunk, PreviousToken);
            var stepper = new StreamLmStepper(Model, State);
            var logits = new float[chunk.Length * LmConfig.Vocabulary];
            try { stepper.StepAll(inputs, logits); }
            catch (Exception e) { Fail(e.Message); throw; }
            return PredictedBy(stepper, inputs, logits, chunk);
        }
        _inputs = Inputs(chunk, PreviousToken);
        _targets = Targets(chunk);
        // The chunk's tensors live in a TensorScope (recycled by the next chunk); the carried state is copied out of it
        // by EndChunk under Suspend, and gradients and optimizer state are persistent anyway.
        _scope = TensorScope.Begin();
        try
        {
            // Extra steps re-run the chunk from its starting state; the count tables are shared and rolled back instead
            // of copied, so they end the chunk having counted it once.
            if (Config.StepsPerChunk > 1) { _start = State.Fork(); State.Counts?.Mark(); _marked = State.Counts is not null; }
            _logits = Model.Forward(_inputs, State);
            _prediction.Fill(_logits.Contiguous().ToFloatArray(), chunk, Position);
        }
        catch (Exception e) { Fail(e.Message); throw; }
        return _prediction;
    }

    /// <summary>Whether predictions come from the model's single-token stepper (StreamLmStepper) rather than its batched
    /// forward: for the models that have one. The batched forward then only learns, reusing the count memory's view.</summary>
    public bool Stepped { get; }

    void CheckCanPredict(int length)
    {
        if (_scope is not null || _decoding)
            throw new InvalidOperationException("Predict: the previous chunk has not been learned yet (call Learn() first)");
        if (_failure is not null)
            throw new InvalidOperationException($"the learner failed in the middle of a chunk ({_failure}); load it again from its brain");
        if (length == 0 || length > Config.Chunk)
            throw new ArgumentException($"Predict: a chunk has 1 to {Config.Chunk} bytes, got {length}", "chunk");
    }

    static int[] Targets(ReadOnlySpan<byte> chunk)
    {
        var targets = new int[chunk.Length];
        for (int i = 0; i < chunk.Length; i++) targets[i] = chunk[i];
        return targets;
    }

    /// <summary>The chunk's prediction from a stepper that has read its inputs; Learn then learns it.</summary>
    ChunkPrediction PredictedBy(StreamLmStepper stepper, int[] inputs, float[] logits, ReadOnlySpan<byte> chunk)
    {
        _inputs = inputs;
        _targets = Targets(chunk);
        _given = stepper.CountInputs();
        _scope = TensorScope.Begin();
        try
        {
            if (Config.StepsPerChunk > 1) _start = State.Fork();
            _prediction.Fill(logits, chunk, Position);
        }
        catch (Exception e) { Fail(e.Message); throw; }
        return _prediction;
    }

    /// <summary>Step two: the optimizer steps on the predicted chunk; the stream moves past it. Returns its bits.</summary>
    public double Learn()
    {
        if (_scope is null) throw new InvalidOperationException("Learn: no chunk was predicted (call Predict(chunk) first)");
        try
        {
            var counts = State.Counts;
            var logits = _logits ?? Model.Forward(_inputs, State, _given);
            for (int step = 0; step < Config.StepsPerChunk; step++)
            {
                if (step > 0 && _given is not null) logits = Model.Forward(_inputs, _start!.Fork(), _given);
                else if (step > 0) { counts?.Rollback(); counts?.Mark(); logits = Model.Forward(_inputs, _start!.Fork()); }
                var loss = Functional.CrossEntropy(logits, _targets);
                Optimizer.ZeroGrad();
                loss.Backward();
                if (Config.Clip > 0) Tensors.Optim.Optimizer.ClipGradNorm(Optimizer.Parameters, Config.Clip);
                Optimizer.Step();
            }
            if (_marked) { counts!.Commit(); _marked = false; }
            using (TensorScope.Suspend()) State.EndChunk();
        }
        catch (Exception e) { Fail(e.Message); throw; }
        Abandon();
        Position += _prediction.Length;
        TotalBits += _prediction.TotalBits;
        PreviousToken = _prediction.Bytes[^1];
        return _prediction.TotalBits;
    }

    void Abandon()
    {
        var scope = _scope;
        _scope = null; _logits = null; _start = null; _given = null;
        if (_marked) { State.Counts?.Rollback(); _marked = false; }
        scope?.Dispose();
    }

    /// <summary>A chunk failed between Predict and the end of Learn (its carried state was already half advanced): the
    /// chunk's scope is released and the learner refuses further chunks, so nothing half-learned is saved.</summary>
    void Fail(string reason)
    {
        _failure = reason;
        _decoding = false;
        Abandon();
    }

    /// <summary>Gives up the predicted chunk (an observer of it failed); the learner then refuses further chunks.</summary>
    internal void Discard()
    {
        if (_scope is not null) Fail("the chunk's observer failed");
    }

    /// <summary>Predict, then Learn, one chunk. Returns the chunk's bits.</summary>
    public double LearnChunk(ReadOnlySpan<byte> chunk)
    {
        Predict(chunk);
        return Learn();
    }

    /// <summary>The one chunk loop: reads `input` as it arrives (a chunk is learned as soon as its last byte has been
    /// read; an incomplete last chunk when the input ends or `cancel` fires), predicting then learning each chunk. See
    /// <see cref="LearnOptions"/> for saving, observing predictions and progress.</summary>
    public LearnSummary Learn(Stream input, LearnOptions? options = null, IProgress<LearnProgress>? progress = null,
        CancellationToken cancel = default) => StreamLoop.Run(this, input, options ?? new(), progress, cancel);

    /// <summary>Learns a whole byte array (the same loop as Learn(Stream)).</summary>
    public LearnSummary Learn(byte[] bytes, LearnOptions? options = null) => Learn(new MemoryStream(bytes, writable: false), options);

    /// <summary>Decoding one chunk byte by byte: each byte's distribution from the bytes before it, with the same arithmetic
    /// as Predict. Accept each decoded byte, then Learn() the chunk as the encoder did.</summary>
    public ByteByByte BeginByteByByte() => new(this);

    public sealed class ByteByByte : IDisposable
    {
        readonly OnlineLearner _learner;
        readonly LmState? _state;          // batched prediction: a fork of the state (counts marked, rolled back)
        readonly StreamLmStepper? _stepper; // stepped prediction: counts advance as in Predict
        readonly List<byte> _bytes = [];
        float[] _logits = new float[64 * LmConfig.Vocabulary];
        int _previous;
        bool _asked, _done;
        readonly uint[] _cumulative = new uint[LmConfig.Vocabulary + 1];

        internal ByteByByte(OnlineLearner learner)
        {
            learner.CheckCanPredict(1);
            _learner = learner;
            _previous = learner.PreviousToken;
            if (learner.Stepped)
            {
                _stepper = new StreamLmStepper(learner.Model, learner.State);
                learner._decoding = true;
            }
            else
            {
                _state = learner.State.Fork();
                learner.State.Counts?.Mark();
            }
        }

        /// <summary>Cumulative coder frequencies of the next byte (257 entries, from 0 to 2^16).</summary>
        public ReadOnlySpan<uint> NextCumulative()
        {
            ObjectDisposedException.ThrowIf(_done, this);
            if (_asked) throw new InvalidOperationException("NextCumulative: Accept the byte first");
            if (_bytes.Count == _learner.Config.Chunk) throw new InvalidOperationException("NextCumulative: the chunk is full");
            ReadOnlySpan<float> logits;
            if (_stepper is not null)
            {
                int at = _bytes.Count * LmConfig.Vocabulary;
                if (_logits.Length < at + LmConfig.Vocabulary) Array.Resize(ref _logits, 2 * _logits.Length);
                _stepper.Step(_previous).CopyTo(_logits.AsSpan(at));
                logits = _logits.AsSpan(at, LmConfig.Vocabulary);
            }
            else
            {
                using var _ = Autograd.NoGrad();
                logits = _learner.Model.Forward([_previous], _state!).ToFloatArray();
            }
            ByteDistribution.Frequencies(logits, _learner._freq, _learner._scratch);
            ByteDistribution.Cumulate(_learner._freq, _cumulative);
            _asked = true;
            return _cumulative;
        }

        public void Accept(byte value)
        {
            if (!_asked) throw new InvalidOperationException("Accept: call NextCumulative first");
            _asked = false;
            _bytes.Add(value);
            _previous = value;
        }

        /// <summary>Learns the accepted bytes as one chunk, as the encoder did; returns its bits.</summary>
        public double Learn()
        {
            ObjectDisposedException.ThrowIf(_done, this);
            if (_asked || _bytes.Count == 0) throw new InvalidOperationException("Learn: accept every byte asked for, at least one");
            _done = true;
            var chunk = _bytes.ToArray();
            if (_stepper is null)
            {
                _learner.State.Counts?.Rollback();
                return _learner.LearnChunk(chunk);
            }
            _learner._decoding = false;
            _learner.PredictedBy(_stepper, Inputs(chunk, _learner.PreviousToken), _logits, chunk);
            return _learner.Learn();
        }

        /// <summary>Gives up a chunk not learned: the batched path rolls the counts back; the stepped path has advanced
        /// them, so the learner refuses further chunks (load it again).</summary>
        public void Dispose()
        {
            if (_done) return;
            _done = true;
            if (_stepper is null) _learner.State.Counts?.Rollback();
            else if (_stepper.Steps > 0) _learner.Fail("decoding stopped in the middle of a chunk");
            else _learner._decoding = false;
        }
    }

    /// <summary>Reads `context` (the state advances as it would while learning, but nothing is learned) and returns the
    /// logits of the byte that follows it: for generation.</summary>
    public float[] Read(ReadOnlySpan<byte> context)
    {
        CheckIdle(nameof(Read));
        using (Autograd.NoGrad())
        {
            for (int start = 0; start < context.Length; start += Config.Chunk)
            {
                var piece = context.Slice(start, Math.Min(Config.Chunk, context.Length - start));
                Model.Forward(Inputs(piece, PreviousToken), State);
                PreviousToken = piece[^1];
                State.EndChunk();
            }
        }
        return PeekNext();
    }

    /// <summary>The greedy continuation of `prompt` (read after everything so far), without changing anything.</summary>
    public byte[] Continue(ReadOnlySpan<byte> prompt, int length) => Continue(prompt, length, null);

    /// <summary>The greedy continuation of `prompt`, up to `length` bytes: `each` sees every byte as it is chosen (for
    /// streaming) and returns false to stop there (that byte is the last one returned). Nothing changes.</summary>
    public byte[] Continue(ReadOnlySpan<byte> prompt, int length, Func<byte, bool>? each)
    {
        CheckIdle(nameof(Continue));
        using var _ = Autograd.NoGrad();
        State.Counts?.Mark();
        try
        {
            var output = new byte[length];
            int prev = PreviousToken;
            if (Stepped)
            {
                var stepper = new StreamLmStepper(Model, State);
                foreach (var b in prompt) { stepper.Step(prev); prev = b; }
                for (int i = 0; i < length; i++)
                {
                    prev = output[i] = (byte)System.Numerics.Tensors.TensorPrimitives.IndexOfMax(stepper.Step(prev));
                    if (each is not null && !each(output[i])) return output[..(i + 1)];
                }
                return output;
            }
            var state = State.Fork();
            var inputs = new List<int>();
            foreach (var b in prompt) { inputs.Add(prev); prev = b; }
            if (inputs.Count > 0) Model.Forward([.. inputs], state); // reads the prompt; the next step predicts after it
            for (int i = 0; i < length; i++)
            {
                var row = Model.Forward([prev], state).ToFloatArray();
                int best = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(row);
                output[i] = (byte)best;
                prev = best;
                if (each is not null && !each(output[i])) return output[..(i + 1)];
            }
            return output;
        }
        finally { State.Counts?.Rollback(); }
    }

    /// <summary>−log2 p of each byte of `text`, read after `context` (both after everything so far), under the model's
    /// float distribution, without changing anything: how likely the learner finds an answer to a prompt.</summary>
    public double[] Bits(ReadOnlySpan<byte> context, ReadOnlySpan<byte> text)
    {
        var logits = Logits(context, text);
        var bits = new double[text.Length];
        for (int i = 0; i < text.Length; i++)
            bits[i] = ByteDistribution.Frequencies(logits.AsSpan(i * LmConfig.Vocabulary, LmConfig.Vocabulary), _freq, _scratch, text[i]);
        return bits;
    }

    /// <summary>The logits of each byte of `text` ([text.Length × 256]), read after `context` (both after everything so
    /// far), without changing anything.</summary>
    public float[] Logits(ReadOnlySpan<byte> context, ReadOnlySpan<byte> text)
    {
        CheckIdle(nameof(Logits));
        const int V = LmConfig.Vocabulary;
        if (text.Length == 0) return [];
        using var _ = Autograd.NoGrad();
        State.Counts?.Mark();
        try
        {
            int prev = PreviousToken;
            if (Stepped)
            {
                var rows = new float[text.Length * V];
                var stepper = new StreamLmStepper(Model, State);
                foreach (var b in context) { stepper.Step(prev); prev = b; }
                for (int i = 0; i < text.Length; i++)
                {
                    stepper.Step(prev).CopyTo(rows.AsSpan(i * V, V));
                    prev = text[i];
                }
                return rows;
            }
            return Model.Forward(Inputs([.. context, .. text], prev), State.Fork()).ToFloatArray().AsSpan(context.Length * V).ToArray();
        }
        finally { State.Counts?.Rollback(); }
    }

    /// <summary>The network's hidden state at each byte of `text` ([text.Length × Dim], StreamLm.Hidden), read after
    /// `context` (both after everything so far), without changing anything: its representation of a text.</summary>
    public float[] Hidden(ReadOnlySpan<byte> context, ReadOnlySpan<byte> text)
    {
        CheckIdle(nameof(Hidden));
        if (text.Length == 0) return [];
        using var _ = Autograd.NoGrad();
        return Model.Hidden(Inputs([.. context, .. text], PreviousToken), State.Fork()).ToFloatArray()
            .AsSpan(context.Length * Model.Config.Dim).ToArray();
    }

    void CheckIdle(string what)
    {
        if (HasPendingChunk) throw new InvalidOperationException($"{what}: a predicted or decoded chunk has not been learned yet");
    }

    /// <summary>Logits for the byte after the last one read, without changing anything.</summary>
    public float[] PeekNext()
    {
        CheckIdle(nameof(PeekNext));
        using var _ = Autograd.NoGrad();
        State.Counts?.Mark();
        try
        {
            return Stepped ? new StreamLmStepper(Model, State).Step(PreviousToken).ToArray()
                : Model.Forward([PreviousToken], State.Fork()).ToFloatArray();
        }
        finally { State.Counts?.Rollback(); }
    }

    /// <summary>Mean loss (bits per byte) of a text under the current weights and a copy of the current state,
    /// without learning: held-out evaluation for forgetting measurements.</summary>
    public double Evaluate(ReadOnlySpan<byte> text)
    {
        CheckIdle(nameof(Evaluate));
        using var _ = Autograd.NoGrad();
        var state = State.Fork();
        State.Counts?.Mark();
        int prev = PreviousToken;
        double bits = 0;
        for (int start = 0; start < text.Length; start += Config.Chunk)
        {
            var piece = text.Slice(start, Math.Min(Config.Chunk, text.Length - start));
            var data = Model.Forward(Inputs(piece, prev), state).ToFloatArray();
            for (int i = 0; i < piece.Length; i++)
                bits += ByteDistribution.Frequencies(data.AsSpan(i * LmConfig.Vocabulary, LmConfig.Vocabulary), _freq, _scratch, piece[i]);
            prev = piece[^1];
            state.EndChunk();
        }
        State.Counts?.Rollback();
        return text.Length == 0 ? 0 : bits / text.Length;
    }

    internal void ReplaceState(LmState state) => State = state;
}
