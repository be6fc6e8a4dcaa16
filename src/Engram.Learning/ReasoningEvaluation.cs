// Evaluation of the reasoning models (docs/reasoning.md): every held-out puzzle, unaugmented and without gradient,
// for a fixed number of segments; exact (whole grid) and per-cell accuracy after each segment, and where the
// model's halting would have stopped (AdaptiveComputation.Halts) with the accuracy there.
using Engram.Models.Reasoning;
using Engram.Tasks;
using Engram.Tensors;

namespace Engram.Learning;

/// <summary>Accuracy of a model on a puzzle set: per evaluation segment (1..segments), and with halting deciding
/// when to stop (the segment where the halt head first fires, or the last).</summary>
public sealed record ReasoningEvaluation(int Count, double[] ExactBySegment, double[] CellBySegment, double MeanHaltSegments,
    double HaltedExactAccuracy)
{
    public double ExactAccuracy => ExactBySegment[^1];
    public double CellAccuracy => CellBySegment[^1];

    /// <summary>Runs every puzzle for `segments` segments (no augmentation, no gradient), `batch` puzzles at a time,
    /// and measures exact and per-cell accuracy after each segment, and where halting would have stopped. progress
    /// gets the puzzles done and the total after each batch.</summary>
    public static ReasoningEvaluation Evaluate(Reasoner model, PuzzleSet set, int segments, int batch = 64,
        Action<int, int>? progress = null)
    {
        var c = model.Config;
        if (c.Vocab != set.Vocab || c.SeqLen != set.SeqLen)
            throw new EngramException($"evaluation: the model expects vocabulary {c.Vocab} and {c.SeqLen} cells, the puzzles have "
                + $"{set.Vocab} and {set.SeqLen}");
        if (segments < 1) throw new EngramException("evaluation: at least one segment");
        int L = c.SeqLen;
        var exact = new long[segments]; var cells = new long[segments];
        long haltSegments = 0, haltedExact = 0;
        using var _ = Autograd.NoGrad();
        for (int start = 0; start < set.Count; start += batch)
        {
            int B = Math.Min(batch, set.Count - start);
            var tokens = new int[B * L]; var targets = new int[B * L];
            for (int s = 0; s < B; s++)
            {
                var input = set.Input(start + s); var label = set.Label(start + s);
                for (int i = 0; i < L; i++) { tokens[s * L + i] = input[i]; targets[s * L + i] = label[i]; }
            }
            using var scope = TensorScope.Begin();
            var x = model.Embed(tokens, B);
            var states = model.InitialStates(B);
            var stopped = new bool[B];
            for (int seg = 0; seg < segments; seg++)
            {
                var (output, next) = model.Segment(states, x);
                states = next;
                var predicted = output.Logits.Argmax(-1);
                var halts = AdaptiveComputation.Halts(output, seg + 1, segments);
                for (int s = 0; s < B; s++)
                {
                    int right = 0;
                    for (int i = 0; i < L; i++) if (predicted[s * L + i] == targets[s * L + i]) right++;
                    cells[seg] += right;
                    if (right == L) exact[seg]++;
                    if (!stopped[s] && halts[s])
                    {
                        stopped[s] = true; haltSegments += seg + 1;
                        if (right == L) haltedExact++;
                    }
                }
            }
            progress?.Invoke(start + B, set.Count);
        }
        int n = set.Count;
        return new ReasoningEvaluation(n, exact.Select(e => (double)e / n).ToArray(),
            cells.Select(v => (double)v / ((long)n * L)).ToArray(), (double)haltSegments / n, (double)haltedExact / n);
    }
}
