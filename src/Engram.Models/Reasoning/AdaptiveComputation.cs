// Adaptive computation (docs/reasoning.md; HRM's reference keeps this in its ACT wrapper): a model thinks in
// segments and its halting head decides when to stop. Here: the carry of a batch between segments (the model's
// states, the segments each example has run, whether it halted), the halting rule (HRM: q_halt > q_continue;
// TRM: q_halt > 0; always at the maximum) with exploration during training, the bootstrapped target of HRM's
// continue head, and Answer, which thinks about one grid until the model halts.
using Engram.Tensors;

namespace Engram.Models.Reasoning;

/// <summary>Per-example state carried between segments for a batch of slots: the model's states (detached,
/// contiguous [B, P + L, H] each; none for the direct Transformer), the segments each slot has run on its current
/// example, and whether it halted (then it takes a new example before the next segment).</summary>
public sealed class ReasoningCarry
{
    readonly Reasoner _model;

    public Tensor[] States { get; private set; }
    public int[] Segments { get; }
    public bool[] Halted { get; }
    public int Batch => Segments.Length;

    /// <summary>A batch at the initial states with every slot halted, so that each starts on a new example.</summary>
    public ReasoningCarry(Reasoner model, int batch)
    {
        _model = model;
        States = model.InitialStates(batch);
        Segments = new int[batch];
        Halted = Enumerable.Repeat(true, batch).ToArray();
    }

    /// <summary>Starts slot s on a new example: initial states, no segment run, not halted.</summary>
    public void Reset(int slot)
    {
        Segments[slot] = 0; Halted[slot] = false;
        _model.ResetStates(States, slot);
    }

    /// <summary>Counts the segment every slot has just run.</summary>
    public void CountSegment()
    {
        for (int s = 0; s < Segments.Length; s++) Segments[s]++;
    }

    /// <summary>After a segment: keeps the model's new states and which slots halted; returns how many did. The states
    /// are copied out of the step's tensor scope: into the carry's own contiguous buffers when they fit (no
    /// allocation), as new persistent tensors otherwise.</summary>
    public int Advance(Tensor[] states, bool[] halted)
    {
        if (states.Length > 0)
        {
            bool fits = States.Length == states.Length;
            for (int i = 0; fits && i < states.Length; i++)
                fits = Tensor.SameShapeAs(States[i], states[i]) && States[i].IsContiguous && States[i].DType == states[i].DType;
            if (fits) for (int i = 0; i < states.Length; i++) States[i].CopyFrom(states[i]);
            else using (TensorScope.Suspend()) States = states.Select(t => t.CloneDetached()).ToArray();
        }
        int count = 0;
        for (int s = 0; s < Halted.Length; s++) { Halted[s] = halted[s]; if (halted[s]) count++; }
        return count;
    }
}

public static class AdaptiveComputation
{
    /// <summary>Whether the halt head asks example s to stop: HRM q_halt > q_continue, TRM q_halt > 0; a model without
    /// a halt head (the direct Transformer) answers in one pass.</summary>
    static bool HaltHeadStops(float[]? qHalt, float[]? qContinue, int s)
        => qHalt is null || (qContinue is null ? qHalt[s] > 0 : qHalt[s] > qContinue[s]);

    /// <summary>At inference, every example having run `segment` segments (from 1): which stop, because the halt head
    /// says so or the maximum is reached.</summary>
    public static bool[] Halts(SegmentOutput output, int segment, int maxSegments)
    {
        var qh = output.QHalt?.ToFloatArray(); var qc = output.QContinue?.ToFloatArray();
        var halts = new bool[output.Logits.Shape[0]];
        for (int s = 0; s < halts.Length; s++) halts[s] = segment >= maxSegments || HaltHeadStops(qh, qc, s);
        return halts;
    }

    /// <summary>Whether the model learns to halt under this recipe: it has a halt head and runs more than one segment
    /// per example. Otherwise every example halts after each segment.</summary>
    public static bool LearnsHalting(ReasonerConfig config, SegmentOutput output) => config.UsesHalting && output.QHalt is not null;

    /// <summary>In training, which slots halt after the segment they just ran (segments: each slot's count, this one
    /// included): as at inference, except that with the recipe's exploration probability a slot must first run a
    /// random minimum of 2..MaxSegments segments. Draws from rng, two numbers per exploring slot, in slot order, and
    /// nothing when the model does not learn to halt.</summary>
    public static bool[] TrainingHalts(ReasonerConfig config, SegmentOutput output, int[] segments, Generator rng)
    {
        var halted = new bool[segments.Length];
        if (!LearnsHalting(config, output)) { Array.Fill(halted, true); return halted; }
        var qh = output.QHalt!.ToFloatArray(); var qc = output.QContinue?.ToFloatArray();
        for (int s = 0; s < halted.Length; s++) halted[s] = segments[s] >= config.MaxSegments || HaltHeadStops(qh, qc, s);
        for (int s = 0; s < halted.Length; s++)
        {
            if (rng.NextDouble() >= config.ExploreProbability) continue;
            int minimum = 2 + rng.NextInt(config.MaxSegments - 1);
            if (segments[s] < minimum) halted[s] = false;
        }
        return halted;
    }

    /// <summary>HRM's Q-learning target for q_continue [B]: σ of the next segment's best Q value, max(q_halt,
    /// q_continue), or its q_halt where the slot has reached the maximum; from one more segment, without gradient,
    /// from the new states.</summary>
    public static Tensor ContinueTarget(Reasoner model, Tensor[] states, Tensor x, int[] segments, int maxSegments)
    {
        using (Autograd.NoGrad())
        {
            var (after, _) = model.Segment(states, x.Detach());
            var nh = after.QHalt!.ToFloatArray(); var nc = after.QContinue!.ToFloatArray();
            var t = new float[segments.Length];
            for (int s = 0; s < t.Length; s++)
            {
                double q = segments[s] >= maxSegments ? nh[s] : Math.Max(nh[s], nc[s]);
                t[s] = (float)(1 / (1 + PortableMath.Exp(-q)));
            }
            return Tensor.FromArray(t, t.Length);
        }
    }

    /// <summary>Answers one grid of tokens, thinking until the halt head fires or maxSegments; returns the predicted
    /// tokens and the number of segments used.</summary>
    public static (byte[] Answer, int Segments) Answer(Reasoner model, ReadOnlySpan<byte> input, int maxSegments)
    {
        var c = model.Config;
        if (input.Length != c.SeqLen) throw new EngramException($"the model answers grids of {c.SeqLen} cells, not {input.Length}");
        using var _ = Autograd.NoGrad();
        var tokens = new int[c.SeqLen];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = input[i];
        var x = model.Embed(tokens, 1);
        var states = model.InitialStates(1);
        for (int seg = 1; ; seg++)
        {
            var (output, next) = model.Segment(states, x);
            states = next;
            if (Halts(output, seg, maxSegments)[0]) return (output.Logits.Argmax(-1).Select(v => (byte)v).ToArray(), seg);
        }
    }
}
