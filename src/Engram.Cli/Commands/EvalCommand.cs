// `engram eval`: exact-match and per-cell accuracy of a trained reasoning model by segments of thinking, and with halting.
using System.CommandLine;
using Engram.Learning;
using Engram.Models.Reasoning;
using Engram.Tasks;
using Engram.Tensors;

using static Engram.Cli.Commands.Reasoning;

namespace Engram.Cli.Commands;

static class EvalCommand
{
    /// <summary>The last line of eval's output, with or without --json.</summary>
    public sealed record Summary(double ExactAccuracy, double CellAccuracy, double MeanSegments, double HaltedExactAccuracy,
        int Segments, int Count);

    public static Command Create()
    {
        var evalTask = TaskArgument();
        var checkpoint = new Option<string>("--checkpoint")
        {
            Description = "Run folder written by `engram train` (or its checkpoint file).",
            Required = true
        };
        var puzzles = new Option<string?>("--puzzles")
        {
            Description = "Puzzles to score: a .puzzles file, or Sudoku one per line (solutions found by the exact solver). " +
                "Default: the run's held-out set."
        };
        var segments = Shared.OptionalInt("--segments", "Segments of thinking (default: the model's maximum).", 1, 1024);
        var limit = Shared.OptionalInt("--limit", "Score only the first N puzzles.", 1, int.MaxValue);
        var eval = new Command("eval",
            "Exact-match and per-cell accuracy of a trained model, by number of segments, and where halting stops.")
            { evalTask, checkpoint, puzzles, segments, limit, Shared.Json, Shared.Threads };
        eval.SetAction(parse =>
        {
            Shared.ApplyThreads(parse, Environment.ProcessorCount);
            var t = ParseTask(parse.GetValue(evalTask)!);
            var (m, dir) = LoadModel(parse.GetValue(checkpoint)!);
            var file = parse.GetValue(puzzles);
            var set = file is null ? PuzzleSet.Load(Path.Combine(dir, ReasoningRun.TestFile)) : ReadPuzzles(file, t);
            if (set.Task != t)
                throw new EngramException(
                    $"the puzzles are {set.Task.ToString().ToLowerInvariant()}, not {t.ToString().ToLowerInvariant()}");
            if (parse.GetValue(limit) is int n)
            {
                if (n < 1) throw new EngramException("--limit: expected at least 1");
                set = set.Slice(0, Math.Min(n, set.Count));
            }
            int segs = parse.GetValue(segments) ?? m.Config.MaxSegments;
            if (segs < 1) throw new EngramException("--segments: expected at least 1");
            bool asJson = parse.GetValue(Shared.Json);
            double last = 0; var sw = System.Diagnostics.Stopwatch.StartNew();
            var r = ReasoningEvaluation.Evaluate(m, set, segs, progress: (done, total) =>
            {
                if (asJson || sw.Elapsed.TotalSeconds - last < 2) return;
                last = sw.Elapsed.TotalSeconds;
                Console.Error.WriteLine($"  {done:N0} / {total:N0} puzzles, ETA {(total - done) * sw.Elapsed.TotalSeconds / done:F0} s");
            });
            if (!asJson)
            {
                Console.WriteLine($"{r.Count:N0} puzzles ({set.Description}), " +
                    $"model {ReasonerPresets.KindName(m.Config.Kind)} ({m.Config.Preset})");
                Console.WriteLine($"{"segments",9}{"exact",9}{"cells",9}");
                for (int k = 1; k <= segs; k *= 2)
                    Console.WriteLine(FormattableString.Invariant($"{k,9}{r.ExactBySegment[k - 1],9:P1}{r.CellBySegment[k - 1],9:P1}"));
                if ((segs & (segs - 1)) != 0)
                    Console.WriteLine(FormattableString.Invariant($"{segs,9}{r.ExactAccuracy,9:P1}{r.CellAccuracy,9:P1}"));
                Console.WriteLine(FormattableString.Invariant(
                    $"with halting: {r.HaltedExactAccuracy:P1} exact after {r.MeanHaltSegments:F2} segments on average"));
            }
            Shared.WriteJson(new Summary(Math.Round(r.ExactAccuracy, 4), Math.Round(r.CellAccuracy, 4), Math.Round(r.MeanHaltSegments, 2),
                Math.Round(r.HaltedExactAccuracy, 4), segs, r.Count));
            return ExitCode.Success;
        });
        return eval;

    }
}
