// The prequential online learner (specs/continual_learner.md): the stream is cut into chunks; for each chunk the model
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
    public static LearnerConfig FromJson(string json) => JsonSerializer.Deserialize<LearnerConfig>(json) ?? throw new EngramException("learner configuration: empty JSON");

    public void Validate()
    {
        if (Chunk < 1) throw new EngramException($"learner: chunk must be ≥ 1 byte, got {Chunk}");
        if (StepsPerChunk < 0) throw new EngramException($"learner: steps per chunk must be ≥ 0, got {StepsPerChunk}");
        if (!(LearningRate >= 0)) throw new EngramException($"learner: learning rate must be ≥ 0, got {LearningRate}");
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
    readonly float[] _row = new float[LmConfig.Vocabulary];

    public OnlineLearner(LmConfig model, LearnerConfig config)
    {
        config.Validate();
        ModelConfig = model; Config = config;
        Generator = new Generator(config.Seed);
        Model = new StreamLm(model, Generator);
        Optimizer = new Adam(Model.Parameters(), config.LearningRate, config.Beta1, config.Beta2, config.Eps, config.WeightDecay, decoupled: true)
        { Schedule = new WarmupConstant(config.LearningRate, config.WarmupSteps) };
        State = Model.InitialState();
        // Every parameter gets a gradient buffer now: a parameter the loss no longer reaches (W₀ once the stream has
        // moved on) then takes the same optimizer step whether or not the learner was saved and reloaded in between.
        foreach (var p in Model.Parameters()) p.Grad = Tensor.ZerosLike(p);
    }

    public double BitsPerByte => Position == 0 ? 0 : TotalBits / Position;

    /// <summary>The model's inputs for a chunk: the byte before each one (`previous` for the first).</summary>
    static int[] Inputs(ReadOnlySpan<byte> chunk, int previous)
    {
        var inputs = new int[chunk.Length];
        inputs[0] = previous;
        for (int i = 1; i < chunk.Length; i++) inputs[i] = chunk[i - 1];
        return inputs;
    }

    /// <summary>Predicts each byte of the chunk, then learns from it. `coded(i, freq)` receives the coder's
    /// frequencies for byte i, computed before anything learned from that byte. Returns the chunk's bits.</summary>
    public double LearnChunk(ReadOnlySpan<byte> chunk, Action<int, uint[]>? coded = null)
    {
        if (chunk.Length == 0) return 0;
        var inputs = Inputs(chunk, PreviousToken);
        var targets = new int[chunk.Length];
        for (int i = 0; i < chunk.Length; i++) targets[i] = chunk[i];
        // Extra steps re-run the chunk from its starting state; the count tables are shared and rolled back instead
        // of copied, so they end the chunk having counted it once.
        var counts = State.Counts;
        double bits;
        // The chunk's tensors live in a TensorScope (recycled by the next chunk); the carried state is copied out
        // of it by EndChunk under Suspend, and gradients and optimizer state are persistent anyway.
        using (TensorScope.Begin())
        {
            LmState? start = null;
            if (Config.StepsPerChunk > 1) { start = State.Fork(); counts?.Mark(); }

            var logits = Model.Forward(inputs, State);
            bits = Charge(logits, targets, coded);
            for (int step = 0; step < Config.StepsPerChunk; step++)
            {
                if (step > 0) { counts?.Rollback(); counts?.Mark(); logits = Model.Forward(inputs, start!.Fork()); }
                var loss = Functional.CrossEntropy(logits, targets);
                Optimizer.ZeroGrad();
                loss.Backward();
                if (Config.Clip > 0) Tensors.Optim.Optimizer.ClipGradNorm(Optimizer.Parameters, Config.Clip);
                Optimizer.Step();
            }
            if (Config.StepsPerChunk > 1) counts?.Commit();
            using (TensorScope.Suspend()) State.EndChunk();
        }
        Position += chunk.Length;
        TotalBits += bits;
        PreviousToken = chunk[^1];
        return bits;
    }

    double Charge(Tensor logits, int[] targets, Action<int, uint[]>? coded)
    {
        var data = logits.Contiguous().ToFloatArray();
        double bits = 0;
        for (int i = 0; i < targets.Length; i++)
        {
            var row = data.AsSpan(i * LmConfig.Vocabulary, LmConfig.Vocabulary);
            bits += ByteDistribution.Frequencies(row, _freq, _scratch, targets[i]);
            coded?.Invoke(i, _freq);
        }
        return bits;
    }

    /// <summary>The decoder's side of LearnChunk: predicts `length` bytes one at a time (each from the bytes decoded
    /// before it, with the same arithmetic as the chunk forward), lets `decode` choose each byte from the coder's
    /// frequencies, then learns from the chunk exactly as the encoder did.</summary>
    public byte[] DecodeChunk(int length, Func<uint[], byte> decode)
    {
        var bytes = new byte[length];
        var state = State.Fork();
        int prev = PreviousToken;
        State.Counts?.Mark();
        using (Autograd.NoGrad())
        {
            for (int i = 0; i < length; i++)
            {
                var logits = Model.Forward([prev], state).ToFloatArray();
                ByteDistribution.Frequencies(logits, _freq, _scratch);
                bytes[i] = decode(_freq);
                prev = bytes[i];
            }
        }
        State.Counts?.Rollback();
        LearnChunk(bytes);
        return bytes;
    }

    /// <summary>Next-byte logits after reading `context` (the state advances, no learning): for generation.</summary>
    public float[] Read(ReadOnlySpan<byte> context)
    {
        using var _ = Autograd.NoGrad();
        float[] last = _row;
        for (int start = 0; start < context.Length; start += Config.Chunk)
        {
            var piece = context.Slice(start, Math.Min(Config.Chunk, context.Length - start));
            var inputs = Inputs(piece, PreviousToken);
            var logits = Model.Forward(inputs, State);
            last = logits.Narrow(0, piece.Length - 1, 1).ToFloatArray();
            PreviousToken = piece[^1];
            State.EndChunk();
        }
        return last;
    }

    /// <summary>The greedy continuation of `prompt` (read after everything so far), without changing anything.</summary>
    public byte[] Continue(ReadOnlySpan<byte> prompt, int length)
    {
        using var _ = Autograd.NoGrad();
        var state = State.Fork();
        State.Counts?.Mark();
        try
        {
            var output = new byte[length];
            int prev = PreviousToken;
            var inputs = new List<int>();
            foreach (var b in prompt) { inputs.Add(prev); prev = b; }
            float[]? last = null;
            if (inputs.Count > 0) { var logits = Model.Forward([.. inputs], state); last = logits.Narrow(0, inputs.Count - 1, 1).ToFloatArray(); }
            for (int i = 0; i < length; i++)
            {
                var row = Model.Forward([prev], state).ToFloatArray();
                int best = 0;
                for (int b = 1; b < row.Length; b++) if (row[b] > row[best]) best = b;
                output[i] = (byte)best;
                prev = best;
            }
            return output;
        }
        finally { State.Counts?.Rollback(); }
    }

    /// <summary>Logits for the byte after the last one read, without changing anything.</summary>
    public float[] PeekNext()
    {
        using var _ = Autograd.NoGrad();
        State.Counts?.Mark();
        try { return Model.Forward([PreviousToken], State.Fork()).ToFloatArray(); }
        finally { State.Counts?.Rollback(); }
    }

    /// <summary>Mean loss (bits per byte) of a text under the current weights and a copy of the current state,
    /// without learning: held-out evaluation for forgetting measurements.</summary>
    public double Evaluate(ReadOnlySpan<byte> text)
    {
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
