// Benchmarks of the continual learner: long-range recall of planted facts against distance (docs/continual_learner.md)
// and forgetting (held-out loss on domain A before and after learning domain B, and after a short return to A).
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Engram.Learning;
using Engram.Models;
using Engram.Tasks;
using Engram.Tensors;

namespace Engram.Experiments;

public static class RecallBench
{
    public sealed record Options
    {
        public string[] Models { get; init; } = [Presets.Default, "neural", "transformer", "gru"];
        public int[] Distances { get; init; } = [1_000, 10_000, 100_000, 1_000_000];
        public int[] Repeats { get; init; } = [1, 3];
        public int Facts { get; init; } = 10;
        public int LeadIn { get; init; } = 20_000;
        public ulong Seed { get; init; } = 1;
        public string? FillerText { get; init; }
        /// <summary>Streams learned at once (each on one thread; results do not depend on it).</summary>
        public int Parallel { get; init; } = Math.Max(1, Environment.ProcessorCount);
    }

    /// <summary>Accuracy: facts whose every digit the model ranked first (the spec's score). FirstDigitAccuracy: facts
    /// whose first digit was ranked first — the key → code association itself, since later digits also follow from the
    /// earlier ones (chance ≈ 1/9). DigitAccuracy: all digits, each given the true digits before it.</summary>
    public sealed record Result(string Model, int Distance, int Repeats, double Accuracy, double FirstDigitAccuracy, double DigitAccuracy,
        int Facts, double MeanDistance, double BytesPerSecond);

    /// <summary>One stream: learn it online and score the predictions at the answers' digits.</summary>
    public static Result RunOne(string model, int distance, int repeats, Options o)
    {
        FileFiller? file = o.FillerText is null ? null : new FileFiller(o.FillerText);
        var stream = new RecallStream(o.Facts, distance, repeats, o.LeadIn, o.Seed + (ulong)distance * 31 + (ulong)repeats,
            file is null ? null : file.Append);
        var digitAt = new Dictionary<int, (int Fact, byte Digit)>();
        for (int f = 0; f < stream.Facts.Count; f++)
            for (int j = 0; j < stream.AnswerOffsets[f].Length; j++)
                digitAt[stream.AnswerOffsets[f][j]] = (f, (byte)stream.Facts[f].Code[j]);
        var correct = new int[stream.Facts.Count];
        var firstDigit = new bool[stream.Facts.Count];
        var firstOffset = stream.AnswerOffsets.Select(a => a[0]).ToHashSet();
        var learner = new OnlineLearner(Presets.Get(model), LearnerConfig.ForPreset(model));
        var data = stream.Bytes;
        var sw = Stopwatch.StartNew();
        learner.Learn(data, new LearnOptions
        {
            Observe = p =>
            {
                for (int i = 0; i < p.Length; i++)
                {
                    int at = (int)p.Start + i;
                    if (!digitAt.TryGetValue(at, out var d) || p.MostLikely(i) != d.Digit) continue;
                    correct[d.Fact]++;
                    if (firstOffset.Contains(at)) firstDigit[d.Fact] = true;
                }
            },
        });
        int digits = stream.Facts.Sum(f => f.Code.Length);
        return new Result(model, distance, repeats,
            stream.Facts.Where((f, i) => correct[i] == f.Code.Length).Count() / (double)stream.Facts.Count,
            firstDigit.Count(x => x) / (double)stream.Facts.Count, correct.Sum() / (double)digits, stream.Facts.Count,
            stream.Distances.Average(), data.Length / sw.Elapsed.TotalSeconds);
    }

    public static List<Result> Run(Options o, Action<Result>? done = null)
    {
        var jobs = (from m in o.Models from r in o.Repeats from d in o.Distances orderby (long)d descending select (m, d, r)).ToList();
        var results = new Result[jobs.Count];
        int saved = Engine.MaxThreads;
        Engine.MaxThreads = 1; // streams run side by side, one core each
        try
        {
            System.Threading.Tasks.Parallel.For(0, jobs.Count, new ParallelOptions { MaxDegreeOfParallelism = o.Parallel }, i =>
            {
                var (m, d, r) = jobs[i];
                results[i] = RunOne(m, d, r, o);
                lock (results) done?.Invoke(results[i]);
            });
        }
        finally { Engine.MaxThreads = saved; }
        return results.OrderBy(r => Array.IndexOf(o.Models, r.Model)).ThenBy(r => r.Repeats).ThenBy(r => r.Distance).ToList();
    }

    public static string Size(double bytes)
        => bytes >= 1e6 ? $"{bytes / 1e6:0.#} MB" : bytes >= 1e3 ? $"{bytes / 1e3:0.#} KB" : $"{bytes:0} B";

    public static string Table(IReadOnlyList<Result> results)
    {
        var distances = results.Select(r => r.Distance).Distinct().Order().ToArray();
        var sb = new StringBuilder();
        sb.Append($"{"model",-14}{"seen",6}").Append(string.Concat(distances.Select(d => $"{Size(d),16}"))).AppendLine();
        foreach (var g in results.GroupBy(r => (r.Model, r.Repeats)))
        {
            sb.Append($"{g.Key.Model,-14}{g.Key.Repeats + "×",6}");
            foreach (var d in distances)
            {
                var r = g.FirstOrDefault(x => x.Distance == d);
                sb.Append(r is null ? $"{"-",16}" : $"{r.Accuracy * 100,7:0}% ({r.FirstDigitAccuracy * 100,3:0}%) ");
            }
            sb.AppendLine();
        }
        sb.AppendLine("share of facts recalled exactly (all four digits ranked first; chance ≈ 0.01%);");
        sb.AppendLine("in brackets, share whose first digit was ranked first (the key → code association; chance ≈ 11%).");
        return sb.ToString();
    }

    sealed record Line(string Model, int Distance, int Repeats, double Accuracy, double FirstDigitAccuracy, double DigitAccuracy,
        int Facts, double MeanDistance, double BytesPerSecond);

    public static string Json(Result r) => JsonLines.Serialize(new Line(r.Model, r.Distance, r.Repeats, JsonLines.Round(r.Accuracy, 4),
        JsonLines.Round(r.FirstDigitAccuracy, 4), JsonLines.Round(r.DigitAccuracy, 4), r.Facts, JsonLines.Round(r.MeanDistance, 0),
        JsonLines.Round(r.BytesPerSecond, 0)));

    public static void Plot(IReadOnlyList<Result> results, string path)
    {
        var series = results.GroupBy(r => (r.Model, r.Repeats))
            .Select(g => new PngChart.Series($"{g.Key.Model} {g.Key.Repeats}x", g.Select(r => (double)r.Distance).ToArray(),
                g.Select(r => r.Accuracy).ToArray())).ToList();
        new PngChart().Save(path, "recall of planted facts: share recalled exactly", "distance (bytes of other text)", "accuracy", series,
            logX: true, 0, 1, d => Size(d).Replace(" ", ""));
    }
}

public static class ForgettingBench
{
    public sealed record Options
    {
        public string Model { get; init; } = Presets.Default;
        public int TrainBytes { get; init; } = 100_000;
        public int ReturnBytes { get; init; } = 10_000;
        public int TestBytes { get; init; } = 10_000;
        public string? TextA { get; init; }
        public string? TextB { get; init; }
        public ulong Seed { get; init; } = 1;
    }

    public sealed record Point(string Stage, long BytesLearned, double HeldOutA, double HeldOutB);

    /// <summary>Built-in domains: countryside prose (A) and seafaring prose (B), different vocabularies, same grammar.
    /// With user texts, the first part of each is learned and its last TestBytes are held out.</summary>
    public static List<Point> Run(Options o, Action<Point>? done = null)
    {
        (byte[] Train, byte[] Return, byte[] Test) Split(string? text, FillerText.Domain domain, ulong seed)
        {
            var bytes = text is null
                ? Encoding.ASCII.GetBytes(new FillerText(seed, domain).Text(o.TrainBytes + o.ReturnBytes + o.TestBytes))
                : Encoding.UTF8.GetBytes(text);
            if (bytes.Length < o.TestBytes + 1000)
                throw new EngramException($"forgetting: a domain text needs more than {o.TestBytes + 1000} bytes, got {bytes.Length}");
            var test = bytes[^o.TestBytes..];
            var rest = bytes[..^o.TestBytes];
            var train = rest[..Math.Min(o.TrainBytes, rest.Length)];
            var ret = rest[train.Length..Math.Min(rest.Length, train.Length + o.ReturnBytes)];
            if (ret.Length == 0) ret = rest[..Math.Min(o.ReturnBytes, rest.Length)];
            return (train, ret, test);
        }
        var a = Split(o.TextA, FillerText.Domain.Countryside, o.Seed);
        var b = Split(o.TextB, FillerText.Domain.Sea, o.Seed + 1);
        var learner = new OnlineLearner(Presets.Get(o.Model), LearnerConfig.ForPreset(o.Model));
        var points = new List<Point>();
        void Learn(byte[] text) => learner.Learn(text);
        void Measure(string stage)
        {
            var p = new Point(stage, learner.Position, learner.Evaluate(a.Test), learner.Evaluate(b.Test));
            points.Add(p);
            done?.Invoke(p);
        }
        Measure("start");
        Learn(a.Train); Measure("after A");
        Learn(b.Train); Measure("after B");
        Learn(a.Return); Measure("after return to A");
        return points;
    }

    sealed record Line(string Stage, long BytesLearned, double HeldOutABitsPerByte, double HeldOutBBitsPerByte);

    public static string Json(Point p) =>
        JsonLines.Serialize(new Line(p.Stage, p.BytesLearned, JsonLines.Round(p.HeldOutA, 4), JsonLines.Round(p.HeldOutB, 4)));
}
