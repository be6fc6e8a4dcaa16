// Long-range recall on real text (issue 12): facts of several templates are planted in a stream of real text (Tiny
// Stories and Tiny Shakespeare when ../shared/data is there, the built-in generated prose otherwise), the learner reads
// everything online, and after N bytes of filler each fact is asked for without learning. Three scores per question:
// greedy (the learner's own greedy continuation starts with the value), first token (its first byte is right) and
// choice (among the set's values, the planted one has the highest likelihood). Update streams restate every fact with
// a new value and report which one comes back.
using System.Diagnostics;
using System.Text;
using Engram.Learning;
using Engram.Models;
using Engram.Tasks;
using Engram.Tensors;

namespace Engram.Experiments;

/// <summary>Filler text: a real text read from a starting offset, wrapping around, or the built-in generator. Every
/// piece ends just after a newline, so facts and questions start on a line of their own.</summary>
public sealed class FillerSource
{
    readonly string? _text;
    readonly FillerText? _generated;
    int _pos;
    public string Name { get; }

    public FillerSource(string name, string text, int offset)
    {
        if (text.Length < 1000) throw new EngramException($"filler {name}: at least 1,000 characters of text are needed");
        (Name, _text) = (name, text);
        _pos = offset % text.Length;
        int nl = text.IndexOf('\n', _pos);
        _pos = nl < 0 ? 0 : (nl + 1) % text.Length;
    }

    public FillerSource(ulong seed) { Name = "generated"; _generated = new FillerText(seed); }

    /// <summary>The real text read from a point the seed picks, or the built-in prose from the seed when there is none.</summary>
    public static FillerSource Seeded((string Name, string Text)? text, ulong seed) => text is { } f
        ? new FillerSource(f.Name, f.Text, (int)(seed * 7919 % (ulong)f.Text.Length)) : new FillerSource(seed);

    /// <summary>At least `length` characters, ending with a newline.</summary>
    public string Take(int length)
    {
        var sb = new StringBuilder();
        if (_generated is not null)
        {
            _generated.Append(sb, length);
            return sb.Append('\n').ToString();
        }
        var text = _text!;
        while (sb.Length < length || sb[^1] != '\n')
        {
            int end = sb.Length < length ? Math.Min(text.Length, _pos + (length - sb.Length)) : text.IndexOf('\n', _pos) + 1;
            if (end <= 0 || sb.Length > length + 4000) { sb.Append('\n'); break; } // no newline ahead: end the line here
            sb.Append(text, _pos, end - _pos);
            _pos = end % text.Length;
        }
        return sb.ToString();
    }

    /// <summary>The real corpora under shared/data (found from the current directory or the program's, walking up).</summary>
    public static (string Name, string Text)? FindRealText()
    {
        string[] files = ["tinystories/tinystories_sample.txt", "tinyshakespeare/input.txt"];
        var data = SharedData.Find(d => files.All(f => File.Exists(Path.Combine(d, f))), Directory.GetCurrentDirectory(),
            AppContext.BaseDirectory);
        if (data is null) return null;
        return ("tinystories+shakespeare", string.Concat(files.Select(f => File.ReadAllText(Path.Combine(data, f)).Replace("\r", ""))));
    }
}

public static class RecallBench
{
    public sealed record Options
    {
        public string[] Models { get; init; } = [Presets.Default];
        public string[] Templates { get; init; } = FactTemplates.Names;
        public long[] Distances { get; init; } = [1_000, 10_000, 100_000, 1_000_000];
        /// <summary>Distances of the update streams (after the restatement).</summary>
        public long[] UpdateDistances { get; init; } = [1_000, 100_000];
        public bool Updates { get; init; } = true;
        public int Facts { get; init; } = 20;
        public int LeadIn { get; init; } = 20_000;
        /// <summary>Filler between the first statement of the facts and their update.</summary>
        public int UpdateGap { get; init; } = 10_000;
        public ulong Seed { get; init; } = 1;
        /// <summary>The filler: (name, text), or null for the built-in generated prose.</summary>
        public (string Name, string Text)? Filler { get; init; }
        /// <summary>Streams learned at once (each on one thread; results do not depend on it).</summary>
        public int Parallel { get; init; } = Math.Max(1, Environment.ProcessorCount);
    }

    /// <summary>One cell: shares in 0..1 of the facts. For update rows, Greedy/FirstToken are scored against the newest
    /// value, Choice is the newest value chosen over the old one, Oldest the share whose greedy answer is the old value.</summary>
    public sealed record Result(string Model, string Template, string Filler, long Distance, int Facts, double Greedy, double FirstToken,
        double Choice, bool Update, double Oldest, double MeanDistance, double BytesPerSecond);

    sealed record Job(string Model, string Template, bool Update, long[] Distances, int Index);

    /// <summary>Bytes a job reads (for progress).</summary>
    static long Planned(Job j, Options o) => o.LeadIn + (j.Update ? o.UpdateGap : 0) + j.Distances.Max() + o.Facts * 160L;

    static double Bits(OnlineLearner learner, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        return learner.Evaluate(bytes) * bytes.Length;
    }

    static List<Result> RunJob(Job job, Options o, Action<long> read)
    {
        var (name, text) = o.Filler ?? ("generated", "");
        var filler = o.Filler is null ? new FillerSource(o.Seed * 1000 + (ulong)job.Index)
            : new FillerSource(name, text, (int)((ulong)job.Index * 700_001UL % (ulong)text.Length));
        var learner = new OnlineLearner(Presets.Get(job.Model), LearnerConfig.ForPreset(job.Model));
        ulong seed = o.Seed * 7919 + (ulong)Array.IndexOf(FactTemplates.Names, job.Template);
        var facts = FactTemplates.Make(job.Template, o.Facts, seed);
        var sw = Stopwatch.StartNew();
        long position = 0;
        void Learn(string s)
        {
            var bytes = Encoding.UTF8.GetBytes(s);
            learner.Learn(bytes); // the learner's one chunk loop: predict, then learn, chunk by chunk
            position += bytes.Length;
            read(bytes.Length);
        }
        Learn(filler.Take(o.LeadIn));
        var plantedEnd = new long[facts.Length];
        void Plant(PlantedFact[] set)
        {
            for (int f = 0; f < set.Length; f++) { Learn(set[f].Statement + "\n"); plantedEnd[f] = position - 1; }
        }
        Plant(facts);
        var old = facts;
        if (job.Update)
        {
            Learn(filler.Take(o.UpdateGap));
            facts = FactTemplates.Update(facts, seed + 1);
            Plant(facts);
        }
        long planted = position;
        var results = new List<Result>();
        foreach (var d in job.Distances.Order())
        {
            if (planted + d > position) Learn(filler.Take((int)Math.Min(int.MaxValue, planted + d - position)));
            int greedy = 0, first = 0, choice = 0, oldest = 0;
            for (int f = 0; f < facts.Length; f++)
            {
                var fact = facts[f];
                var prompt = Encoding.UTF8.GetBytes(fact.Prompt);
                var want = Encoding.UTF8.GetBytes(fact.Value);
                var got = learner.Continue(prompt, want.Length);
                if (got.AsSpan().SequenceEqual(want)) greedy++;
                if (got[0] == want[0]) first++;
                if (job.Update && got.AsSpan().SequenceEqual(Encoding.UTF8.GetBytes(old[f].Value))) oldest++;
                // Choice: the planted value against the others of the set (an update: the new value against the old).
                IEnumerable<string> candidates = job.Update ? [old[f].Value] : facts.Where(x => x != fact).Select(x => x.Value);
                double mine = Bits(learner, fact.Statement);
                if (candidates.All(c => Bits(learner, fact.Prompt + c + fact.Ending) > mine)) choice++;
            }
            double n = facts.Length;
            results.Add(new Result(job.Model, job.Template, filler.Name, d, facts.Length, greedy / n, first / n, choice / n, job.Update,
                oldest / n, plantedEnd.Average(e => position - e), position / sw.Elapsed.TotalSeconds));
        }
        return results;
    }

    public static List<Result> Run(Options o, Action<Result>? done = null, Action<long, long>? progress = null)
    {
        foreach (var t in o.Templates) FactTemplates.KeysOf(t); // unknown templates fail before any work
        var jobs = new List<Job>();
        foreach (var m in o.Models)
            foreach (var t in o.Templates)
            {
                jobs.Add(new Job(m, t, false, o.Distances, jobs.Count));
                if (o.Updates) jobs.Add(new Job(m, t, true, o.UpdateDistances, jobs.Count));
            }
        long total = jobs.Sum(j => Planned(j, o)), read = 0;
        var results = new List<Result>();
        int saved = Engine.MaxThreads;
        Engine.MaxThreads = 1; // streams run side by side, one core each
        try
        {
            // Longest first, so the last to finish are short ones.
            var order = jobs.OrderByDescending(j => Planned(j, o)).ToArray();
            Parallel.ForEach(order, new ParallelOptions { MaxDegreeOfParallelism = o.Parallel }, job =>
            {
                var r = RunJob(job, o, n => { long now = Interlocked.Add(ref read, n); progress?.Invoke(now, total); });
                lock (results) { results.AddRange(r); foreach (var x in r) done?.Invoke(x); }
            });
        }
        finally { Engine.MaxThreads = saved; }
        return results.OrderBy(r => Array.IndexOf(o.Models, r.Model)).ThenBy(r => r.Update)
            .ThenBy(r => Array.IndexOf(o.Templates, r.Template))
            .ThenBy(r => r.Distance).ToList();
    }

    public static string Size(double bytes)
        => bytes >= 1e6 ? $"{bytes / 1e6:0.#} MB" : bytes >= 1e3 ? $"{bytes / 1e3:0.#} KB" : $"{bytes:0} B";

    public static string Table(IReadOnlyList<Result> results)
    {
        var sb = new StringBuilder();
        foreach (var update in new[] { false, true })
        {
            var rows = results.Where(r => r.Update == update).ToList();
            if (rows.Count == 0) continue;
            var distances = rows.Select(r => r.Distance).Distinct().Order().ToArray();
            sb.AppendLine(update ? "updates: each fact restated with a new value, then asked (greedy newest / old value / choice newest)"
                : "recall: greedy exact / first byte / multiple choice");
            sb.Append($"{"model",-12}{"template",-10}").Append(string.Concat(distances.Select(d => $"{Size(d),20}"))).AppendLine();
            foreach (var g in rows.GroupBy(r => (r.Model, r.Template)))
            {
                sb.Append($"{g.Key.Model,-12}{g.Key.Template,-10}");
                foreach (var d in distances)
                {
                    var r = g.FirstOrDefault(x => x.Distance == d);
                    string cell = r is null ? "-" : Cell(r.Greedy, update ? r.Oldest : r.FirstToken, r.Choice);
                    sb.Append($"{cell,20}");
                }
                sb.AppendLine();
            }
        }
        var filler = results.Select(r => r.Filler).Distinct();
        sb.AppendLine($"filler: {string.Join(", ", filler)}; {results.FirstOrDefault()?.Facts} facts per cell; shares of the facts.");
        return sb.ToString();
    }

    static string Cell(double a, double b, double c) => $"{a * 100:0}/{b * 100:0}/{c * 100:0}%";

    sealed record Line(string Model, string Template, string Filler, long Distance, int Facts, double Greedy, double FirstToken,
        double Choice, bool Update, double? Newest, double? Oldest, double MeanDistance, double BytesPerSecond);

    public static string Json(Result r) => JsonLines.Serialize(new Line(r.Model, r.Template, r.Filler, r.Distance, r.Facts,
        JsonLines.Round(r.Greedy, 4), JsonLines.Round(r.FirstToken, 4), JsonLines.Round(r.Choice, 4), r.Update,
        r.Update ? JsonLines.Round(r.Greedy, 4) : null, r.Update ? JsonLines.Round(r.Oldest, 4) : null, JsonLines.Round(r.MeanDistance, 0),
        JsonLines.Round(r.BytesPerSecond, 0)));

    public static void Plot(IReadOnlyList<Result> results, string path)
    {
        var series = results.Where(r => !r.Update).GroupBy(r => (r.Model, r.Template))
            .Select(g => new PngChart.Series($"{g.Key.Model} {g.Key.Template}", g.Select(r => (double)r.Distance).ToArray(),
                g.Select(r => r.Greedy).ToArray())).ToList();
        new PngChart().Save(path, "recall of planted facts on real text: greedy exact", "distance (bytes of other text)", "share recalled",
            series, logX: true, 0, 1, d => Size(d).Replace(" ", ""));
    }
}
