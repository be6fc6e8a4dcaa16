// `engram bench reasoning`: the direct Transformer, HRM and TRM trained on the same puzzles with the same parameter
// budget, the same batch and the same number of optimizer steps (slots that think for several segments draw fewer
// distinct examples; both counts are reported), then exact accuracy on held-out puzzles against
// the number of evaluation segments (1, 2, 4, 8, 16): "more thinking, better answers" as a table and a chart.
using System.Globalization;
using Engram.Learning;
using Engram.Models.Reasoning;
using Engram.Tasks;

namespace Engram.Experiments;

public static class ReasoningBench
{
    public sealed record Options
    {
        public required PuzzleSpec Data { get; init; }
        public ReasonerKind[] Models { get; init; } = [ReasonerKind.Transformer, ReasonerKind.Hrm, ReasonerKind.Trm];
        public string Preset { get; init; } = "cpu";
        public long Steps { get; init; } = 5000;
        public int[] Segments { get; init; } = [1, 2, 4, 8, 16];
        public required string OutDir { get; init; }
        public ulong Seed { get; init; } = 1;
    }

    public sealed record Result(string Model, long Parameters, long Steps, long Examples, double TrainSeconds, int[] Segments,
        double[] Exact, double[] Cell, double MeanHaltSegments, double HaltedExact, int TestCount);

    public static List<Result> Run(Options o, Action<string> log, Action<Result> onResult)
    {
        var results = new List<Result>();
        int maxSegments = o.Segments.Max();
        foreach (var kind in o.Models)
        {
            string name = ReasonerPresets.KindName(kind);
            var run = new ReasoningRunOptions
            {
                Data = o.Data, Kind = kind, Preset = o.Preset, Steps = o.Steps,
                OutDir = Path.Combine(o.OutDir, name), Seed = o.Seed
            };
            double lastReport = -10;
            var (trainer, test) = ReasoningRun.Train(run, (s, t, eta) =>
            {
                if (t.TrainSeconds - lastReport < 10 && s.Step < o.Steps) return;
                lastReport = t.TrainSeconds;
                log(FormattableString.Invariant($"{name}: step {s.Step}/{o.Steps} loss {s.LmLoss:F3} ") +
                    FormattableString.Invariant($"train cells {s.CellAccuracy:P1} grids {s.ExactAccuracy:P1} ") +
                    FormattableString.Invariant($"({s.Step / Math.Max(t.TrainSeconds, 1e-9):F1} steps/s, ETA {eta:F0} s)"));
            }, log);
            var eval = ReasoningEvaluation.Evaluate(trainer.EvaluationModel(), test, maxSegments);
            var r = new Result(name, trainer.Model.ParameterCount(), trainer.Step, trainer.Examples, trainer.TrainSeconds, o.Segments,
                o.Segments.Select(k => eval.ExactBySegment[k - 1]).ToArray(), o.Segments.Select(k => eval.CellBySegment[k - 1]).ToArray(),
                eval.MeanHaltSegments, eval.HaltedExactAccuracy, eval.Count);
            results.Add(r);
            onResult(r);
        }
        return results;
    }

    sealed record Line(string Model, long Parameters, long Steps, long Examples, double TrainSeconds, int TestCount,
        Dictionary<string, double> ExactBySegments, Dictionary<string, double> CellBySegments, double MeanHaltSegments,
        double HaltedExactAccuracy);

    public static string Json(Result r)
    {
        Dictionary<string, double> BySegment(double[] values) =>
            r.Segments.Select((k, i) => (k, i))
                .ToDictionary(x => x.k.ToString(CultureInfo.InvariantCulture), x => JsonLines.Round(values[x.i], 4));
        return JsonLines.Serialize(new Line(r.Model, r.Parameters, r.Steps, r.Examples, JsonLines.Round(r.TrainSeconds, 1), r.TestCount,
            BySegment(r.Exact), BySegment(r.Cell), JsonLines.Round(r.MeanHaltSegments, 2), JsonLines.Round(r.HaltedExact, 4)));
    }

    public static string Table(IReadOnlyList<Result> results)
    {
        if (results.Count == 0) return "";
        var segs = results[0].Segments;
        var sb = new System.Text.StringBuilder();
        sb.Append($"{"model",-12}{"params",10}{"steps",7}{"minutes",8}  exact accuracy (cells) after k segments:");
        sb.AppendLine();
        sb.Append(new string(' ', 37));
        foreach (var k in segs) sb.Append($"{"k=" + k,16}");
        sb.AppendLine($"{"halting",18}");
        foreach (var r in results)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{r.Model,-12}{r.Parameters,10:N0}{r.Steps,7}{r.TrainSeconds / 60,8:F1}  ");
            sb.Append(new string(' ', 0));
            for (int i = 0; i < segs.Length; i++)
                sb.Append(CultureInfo.InvariantCulture, $"{$"{r.Exact[i] * 100:F1}% ({r.Cell[i] * 100:F0}%)",16}");
            sb.AppendLine(CultureInfo.InvariantCulture, $"{$"{r.HaltedExact * 100:F1}% @ {r.MeanHaltSegments:F1} seg",18}");
        }
        return sb.ToString();
    }

    public static void Plot(IReadOnlyList<Result> results, string path, string title)
    {
        var series = results.Select(r => new PngChart.Series(r.Model, r.Segments.Select(k => (double)k).ToArray(), r.Exact)).ToList();
        double top = Math.Max(0.05, Math.Min(1, results.SelectMany(r => r.Exact).DefaultIfEmpty(0).Max() * 1.15));
        new PngChart().Save(path, title, "evaluation segments (thinking time)", "exact accuracy", series, logX: true, 0, top,
            k => ((int)Math.Round(k)).ToString(CultureInfo.InvariantCulture));
    }
}
