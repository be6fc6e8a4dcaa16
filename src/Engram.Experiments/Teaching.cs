// Teaching measured as knowledge-editing research measures edits (specs: teaching): after a lesson, does the taught
// answer beat the one it replaces (efficacy), on prompts the teacher never used (paraphrase), without moving other facts
// of the relation (neighbourhood), and does greedy decoding give it (exact)? P(answer | prompt) is length-normalised:
// the answer's mean bits per byte, read after the prompt without learning. `engram bench teaching` runs lessons through
// a brain: scores right after each lesson, retention over distance, the lifelong matrix (ACC, BWT, forgetting) and the
// teach-on-error loop.
using System.Diagnostics;
using System.Text;
using Engram.Learning;
using Engram.Models;
using Engram.Safety;
using Engram.Tasks;
using Engram.Tensors;

namespace Engram.Experiments;

/// <summary>A lesson's scores at one moment. Paraphrase and Neighbourhood are shares of the lesson's checks (null when it
/// has none).</summary>
public sealed record LessonScores(bool Efficacy, double Margin, double? Paraphrase, double? Neighbourhood, bool Exact, string Greedy,
    double? ParaphraseControl = null);

public static class Teaching
{
    static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    /// <summary>The greedy continuation of `prompt`, `length` bytes, as text.</summary>
    public static string Greedy(OnlineLearner learner, string prompt, int length) =>
        Encoding.UTF8.GetString(learner.Continue(Utf8(prompt), length));

    /// <summary>The text the brain learns for a lesson: its statement on a line of its own.</summary>
    public static byte[] LessonText(Lesson lesson) => Utf8(lesson.Statement + "\n");

    /// <summary>The answer a lesson replaces: its old_answer, else the brain's greedy answer to the prompt (as many bytes
    /// as the taught answer).</summary>
    public static string OldAnswer(OnlineLearner learner, Lesson lesson) =>
        lesson.OldAnswer ?? Encoding.UTF8.GetString(learner.Continue(Utf8(lesson.Prompt), Utf8(lesson.Answer).Length));

    /// <summary>The fact a generated lesson replaces, stated as the lesson states its own.</summary>
    public static string OldStatement(Lesson lesson) => lesson.OldAnswer is { } old
        ? lesson.Statement.Replace(lesson.Answer.TrimStart(), old.TrimStart(), StringComparison.Ordinal)
        : throw new ArgumentException($"lesson {lesson.Id} has no old answer", nameof(lesson));

    /// <summary>Scores a lesson now (nothing is learned or changed).</summary>
    public static LessonScores Measure(OnlineLearner learner, Lesson lesson, string oldAnswer) => Measure(learner, lesson, oldAnswer, null);

    /// <summary>Scores a lesson; `control` (paraphrase prompts about another subject) measures how often the taught
    /// answer wins on prompts it has nothing to do with — the part of the paraphrase score that is mere familiarity.</summary>
    public static LessonScores Measure(OnlineLearner learner, Lesson lesson, string oldAnswer, IReadOnlyList<LessonCheck>? control)
    {
        double taught = Drift.MeanBits(learner, lesson.Prompt, lesson.Answer);
        var greedy = Greedy(learner, lesson.Prompt, Utf8(lesson.Answer).Length);
        bool exact = greedy == lesson.Answer;
        // the answer it replaces can be the brain's own greedy answer, already right: efficacy is then exactness
        double old = oldAnswer == lesson.Answer ? taught : Drift.MeanBits(learner, lesson.Prompt, oldAnswer);
        bool efficacy = oldAnswer == lesson.Answer ? exact : taught < old;
        double? paraphrase = lesson.Paraphrases.Count == 0 || oldAnswer == lesson.Answer ? null
            : lesson.Paraphrases.Average(p => Beats(p.Prompt, p.Answer, oldAnswer) ? 1.0 : 0.0);
        double? neighbourhood = lesson.Neighbours.Count == 0 ? null
            : lesson.Neighbours.Average(n => n.Answer == lesson.Answer
                || Beats(n.Prompt, n.Answer, lesson.Answer) ? 1.0 : 0.0);
        double? baseline = control is null || control.Count == 0 || oldAnswer == lesson.Answer ? null
            : control.Average(p => Beats(p.Prompt, lesson.Answer, oldAnswer) ? 1.0 : 0.0);
        return new LessonScores(efficacy, old - taught, paraphrase, neighbourhood, exact, greedy, baseline);

        // whether `a` is likelier than `b` after the prompt (length-normalised)
        bool Beats(string prompt, string a, string b) => Drift.MeanBits(learner, prompt, a) < Drift.MeanBits(learner, prompt, b);
    }

    public sealed record Options
    {
        public string[] Models { get; init; } = [Presets.Default, "neural"];
        public int Lessons { get; init; } = 50;
        /// <summary>Filler read before the first lesson (between the old statements of the lessons' facts).</summary>
        public int WarmUp { get; init; } = 20_000;
        /// <summary>Filler between two lessons of the lifelong sequence (other conversation).</summary>
        public int Gap { get; init; } = 500;
        public long[] Distances { get; init; } = [1_000, 10_000, 100_000, 1_000_000];
        /// <summary>Lessons of the retention and teach-on-error parts (each).</summary>
        public int Probe { get; init; } = 20;
        public int MaxRounds { get; init; } = 5;
        public ulong Seed { get; init; } = 1;
        /// <summary>(name, text) of a real filler, or null for the built-in generated prose.</summary>
        public (string Name, string Text)? Filler { get; init; }
    }

    /// <summary>The figures of one brain (shares in 0..1).</summary>
    public sealed record Result(string Brain, string Filler, int Lessons, double Efficacy, double Paraphrase, double ParaphraseControl,
        double Neighbourhood,
        double Exact, IReadOnlyDictionary<long, double> Retention, IReadOnlyDictionary<long, double> RetentionExact, double Acc,
        double Bwt, double Forgetting, int TeachOnErrorLessons, int TeachOnErrorRounds, bool TeachOnErrorAllRight, int Flips,
        double HeldOutBefore, double HeldOutAfter, double[] AccuracyCurve, double Seconds);

    public static Result Run(string model, Options o, Action<string>? progress = null)
    {
        var clock = Stopwatch.StartNew();
        var learner = new OnlineLearner(Presets.Find(model).Model, LearnerConfig.ForPreset(model) with { Seed = o.Seed });
        var filler = FillerSource.Seeded(o.Filler, o.Seed);
        var heldOut = Utf8(filler.Take(4_000)); // never learned: the upstream skill the lessons must not erode
        void Read(int n) { if (n > 0) learner.Learn(Utf8(filler.Take(n))); }
        // Every lesson edits a fact the brain already holds: its old statement was read, among other text, before the
        // lessons begin, so the answer a lesson replaces is as familiar to the brain as a taught one (comparing a taught
        // answer with one never seen would credit mere familiarity to every prompt).
        var lessons = Tasks.Lessons.Make(o.Lessons + 2 * o.Probe, o.Seed);
        foreach (var l in lessons)
        {
            learner.Learn(Utf8(OldStatement(l) + "\n"));
            Read(o.WarmUp / lessons.Count);
        }
        double heldBefore = learner.Evaluate(heldOut);

        // 1. The lifelong sequence: a lesson, its scores, and accuracy (efficacy) on every lesson taught so far.
        var seq = lessons.Take(o.Lessons).ToList();
        int t = seq.Count;
        var r = new double[t, t];
        var olds = new string[t];
        var right = new List<LessonScores>();
        var curve = new double[t];
        for (int i = 0; i < t; i++)
        {
            olds[i] = OldAnswer(learner, seq[i]);
            learner.Learn(LessonText(seq[i]));
            // control: the paraphrases of the lesson four back (the same relation, another subject)
            right.Add(Measure(learner, seq[i], olds[i], i >= 4 ? seq[i - 4].Paraphrases : null));
            for (int j = 0; j <= i; j++)
                r[i, j] = (j == i ? right[i] : Measure(learner, seq[j], olds[j])).Efficacy ? 1 : 0;
            curve[i] = Enumerable.Range(0, i + 1).Average(j => r[i, j]);
            Read(o.Gap);
            progress?.Invoke($"{model}: lesson {i + 1}/{t}, accuracy on all so far {curve[i]:P0}");
        }
        double acc = Enumerable.Range(0, t).Average(j => r[t - 1, j]);
        double bwt = t < 2 ? 0 : Enumerable.Range(0, t - 1).Average(j => r[t - 1, j] - r[j, j]);
        double forgetting = t < 2 ? 0
            : Enumerable.Range(0, t - 1).Average(j => Enumerable.Range(j, t - 1 - j).Max(l => r[l, j]) - r[t - 1, j]);

        // 2. Retention: lessons taught in a row, then asked after Δ bytes of other text.
        var probe = lessons.Skip(o.Lessons).Take(o.Probe).ToList();
        var probeOld = probe.Select(l => OldAnswer(learner, l)).ToList();
        foreach (var l in probe) learner.Learn(LessonText(l));
        long taughtAt = learner.Position, read = 0;
        var retention = new SortedDictionary<long, double>();
        var retentionExact = new SortedDictionary<long, double>();
        foreach (var d in o.Distances.Order())
        {
            while (read < d)
            {
                int n = (int)Math.Min(d - read, 1 << 16);
                var bytes = Utf8(filler.Take(n));
                learner.Learn(bytes);
                read += bytes.Length;
            }
            var scores = probe.Select((l, k) => Measure(learner, l, probeOld[k])).ToList();
            retention[d] = scores.Average(s => s.Efficacy ? 1.0 : 0.0);
            retentionExact[d] = scores.Average(s => s.Exact ? 1.0 : 0.0);
            progress?.Invoke($"{model}: retention after {RecallBench.Size(d)}: efficacy {retention[d]:P0}, exact {retentionExact[d]:P0}");
        }

        // 3. Teach on error: ask each lesson; teach only when the answer is wrong; re-check every earlier lesson after each
        // lesson. Rounds over the set until every answer is right (or MaxRounds); flips: answers right once, wrong later.
        var set = lessons.Skip(o.Lessons + o.Probe).Take(o.Probe).ToList();
        var everRight = new bool[set.Count];
        var nowRight = new bool[set.Count];
        int taught = 0, flips = 0, rounds = 0;
        bool allRight = false;
        while (rounds < o.MaxRounds && !allRight)
        {
            rounds++;
            for (int i = 0; i < set.Count; i++)
            {
                if (Greedy(learner, set[i].Prompt, Utf8(set[i].Answer).Length) == set[i].Answer) continue;
                learner.Learn(LessonText(set[i]));
                taught++;
                for (int j = 0; j < set.Count; j++)
                {
                    bool ok = Greedy(learner, set[j].Prompt, Utf8(set[j].Answer).Length) == set[j].Answer;
                    if (everRight[j] && nowRight[j] && !ok) flips++;
                    nowRight[j] = ok;
                    everRight[j] |= ok;
                }
            }
            allRight = set.All(l => Greedy(learner, l.Prompt, Utf8(l.Answer).Length) == l.Answer);
        }
        double heldAfter = learner.Evaluate(heldOut);
        _ = taughtAt;
        return new Result(model, filler.Name, t, right.Average(s => s.Efficacy ? 1.0 : 0.0),
            right.Where(s => s.Paraphrase is not null).Select(s => s.Paraphrase!.Value).DefaultIfEmpty(0).Average(),
            right.Where(s => s.ParaphraseControl is not null).Select(s => s.ParaphraseControl!.Value).DefaultIfEmpty(0).Average(),
            right.Where(s => s.Neighbourhood is not null).Select(s => s.Neighbourhood!.Value).DefaultIfEmpty(1).Average(),
            right.Average(s => s.Exact ? 1.0 : 0.0), retention, retentionExact, acc, bwt, forgetting, taught, rounds, allRight, flips,
            heldBefore, heldAfter, curve, clock.Elapsed.TotalSeconds);
    }

    public static string Json(Result r)
    {
        var o = new System.Text.Json.Nodes.JsonObject
        {
            ["brain"] = r.Brain, ["filler"] = r.Filler, ["lessons"] = r.Lessons, ["efficacy"] = JsonLines.Round(r.Efficacy, 4),
            ["paraphrase"] = JsonLines.Round(r.Paraphrase, 4), ["paraphrase_control"] = JsonLines.Round(r.ParaphraseControl, 4),
            ["neighbourhood"] = JsonLines.Round(r.Neighbourhood, 4),
            ["exact"] = JsonLines.Round(r.Exact, 4),
        };
        foreach (var (d, v) in r.Retention) o[$"retention_{Key(d)}"] = JsonLines.Round(v, 4);
        foreach (var (d, v) in r.RetentionExact) o[$"retention_exact_{Key(d)}"] = JsonLines.Round(v, 4);
        o["acc"] = JsonLines.Round(r.Acc, 4);
        o["bwt"] = JsonLines.Round(r.Bwt, 4);
        o["forgetting"] = JsonLines.Round(r.Forgetting, 4);
        o["teach_on_error_lessons"] = r.TeachOnErrorLessons;
        o["teach_on_error_rounds"] = r.TeachOnErrorRounds;
        o["teach_on_error_all_right"] = r.TeachOnErrorAllRight;
        o["flips"] = r.Flips;
        o["heldout_bpb_before"] = JsonLines.Round(r.HeldOutBefore, 4);
        o["heldout_bpb_after"] = JsonLines.Round(r.HeldOutAfter, 4);
        o["seconds"] = JsonLines.Round(r.Seconds, 1);
        return JsonLines.Serialize(o);
    }

    /// <summary>1000 → "1kb", 1000000 → "1mb" (the keys of the JSON).</summary>
    public static string Key(long d) => d % 1_000_000 == 0 ? $"{d / 1_000_000}mb" : d % 1000 == 0 ? $"{d / 1000}kb" : $"{d}b";

    public static void Plot(IReadOnlyList<Result> results, string path)
    {
        var series = results.Select(r => new PngChart.Series(r.Brain,
            Enumerable.Range(1, r.AccuracyCurve.Length).Select(i => (double)i).ToArray(), r.AccuracyCurve)).ToList();
        new PngChart().Save(path, "teaching: accuracy (efficacy) on every lesson taught so far", "lessons taught", "share right", series,
            logX: false, 0, 1, x => x.ToString("0", System.Globalization.CultureInfo.InvariantCulture),
            xTicks: [1, .. Enumerable.Range(1, results.Max(r => r.AccuracyCurve.Length) / 10).Select(i => 10.0 * i)], markers: false);
    }
}
