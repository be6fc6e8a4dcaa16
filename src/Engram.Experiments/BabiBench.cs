// bAbI by reading (issue 12): a task's stories and questions are one text stream (BabiTranscript) that the online learner
// reads and learns chunk by chunk; at each question it answers without learning — by its own greedy continuation, and by
// the candidate answer it finds likeliest — then learns the answer line like the rest of the stream.
using System.Diagnostics;
using System.Text;
using Engram.Learning;
using Engram.Models;
using Engram.Tasks;
using Engram.Tensors;

namespace Engram.Experiments;

public static class BabiBench
{
    /// <summary>Questions asked per task by default: every question of a training file (tasks 1–3 with the default preset
    /// take about 40 s on 2 cores, so no smaller cap is needed).</summary>
    public const int DefaultQuestions = 1000;

    public sealed record Options
    {
        public string[] Models { get; init; } = [Presets.Default];
        public int[] Tasks { get; init; } = [1, 2, 3];
        /// <summary>Questions asked per task; the stream ends after the last one's answer line.</summary>
        public int Questions { get; init; } = DefaultQuestions;
    }

    /// <summary>A task read from a bAbI folder and cut after its first `questions` questions.</summary>
    public sealed record TaskStream(int Task, string Name, string File, BabiTranscript Transcript);

    /// <summary>One question: the model's greedy answer (up to its newline) and its choice among the candidates, and
    /// whether each answer — these two and the two reference answers — was right.</summary>
    public sealed record Answer(int Index, string Expected, string Greedy, string Chosen, bool GreedyRight, bool ChoiceRight,
        bool LastPlaceRight, bool MostFrequentRight);

    /// <summary>One model on one task. Bits: the prequential code length of the whole stream (answers included).</summary>
    public sealed record Result(string Model, int Task, string TaskName, IReadOnlyList<Answer> Answers, long Bytes, double Bits,
        double Seconds)
    {
        public int Questions => Answers.Count;
        /// <summary>The second half of the questions, in stream order (the later half when the count is odd).</summary>
        public IEnumerable<Answer> SecondHalf => Answers.Skip(Answers.Count / 2);
        public double Greedy => Share(Answers, a => a.GreedyRight);
        public double GreedySecondHalf => Share(SecondHalf, a => a.GreedyRight);
        public double Choice => Share(Answers, a => a.ChoiceRight);
        public double ChoiceSecondHalf => Share(SecondHalf, a => a.ChoiceRight);
        public double LastPlace => Share(Answers, a => a.LastPlaceRight);
        public double LastPlaceSecondHalf => Share(SecondHalf, a => a.LastPlaceRight);
        public double MostFrequent => Share(Answers, a => a.MostFrequentRight);
        public double MostFrequentSecondHalf => Share(SecondHalf, a => a.MostFrequentRight);
        public double BitsPerByte => Bytes == 0 ? 0 : Bits / Bytes;
    }

    static double Share(IEnumerable<Answer> answers, Func<Answer, bool> right)
    {
        int n = 0, k = 0;
        foreach (var a in answers) { n++; if (right(a)) k++; }
        return n == 0 ? 0 : (double)k / n;
    }

    /// <summary>Where a run stands: questions of the current task, and bytes of the whole run. The ETA counts each
    /// question as QuestionCost bytes more (answering it costs about as much as learning that many bytes with `small`).</summary>
    public sealed record Progress(string Model, int Task, int Questions, int TaskQuestions, int GreedyRight, long Bytes, long TotalBytes,
        long Work, long TotalWork, double Seconds)
    {
        public double BytesPerSecond => Seconds > 0 ? Bytes / Seconds : 0;
        public double? EtaSeconds => Work > 0 ? (TotalWork - Work) * Seconds / Work : null;
    }

    const int QuestionCost = 100;

    /// <summary>Reads task `task` from a bAbI folder (see BabiFile.Find); a missing or malformed file is an EngramException.</summary>
    public static TaskStream Load(string folder, int task, int questions)
    {
        var file = BabiFile.Find(folder, task)
            ?? throw new EngramException($"{folder}: no file en/qa{task}_*_train.txt for bAbI task {task}");
        var transcript = BabiTranscript.Build(BabiFile.Read(file), questions);
        if (transcript.Questions.Count == 0)
            throw new InvalidFileException($"{file}: no questions (a question is 'NUMBER QUESTION<tab>ANSWER<tab>SUPPORTING NUMBERS')");
        return new TaskStream(task, BabiFile.TaskName(file), file, transcript);
    }

    /// <summary>Every model on every task, one after the other (each stream on a fresh learner).</summary>
    public static List<Result> Run(IReadOnlyList<TaskStream> tasks, IReadOnlyList<string> models, Action<Result>? done = null,
        Action<Progress>? progress = null)
    {
        long total = models.Count * tasks.Sum(t => (long)t.Transcript.Bytes.Length), before = 0;
        long totalWork = total + models.Count * tasks.Sum(t => (long)t.Transcript.Questions.Count) * QuestionCost, workBefore = 0;
        var clock = Stopwatch.StartNew();
        var results = new List<Result>();
        foreach (var model in models)
            foreach (var t in tasks)
            {
                int count = t.Transcript.Questions.Count;
                var r = RunOne(model, t, (q, right, bytes) => progress?.Invoke(
                    new Progress(model, t.Task, q, count, right, before + bytes, total, workBefore + bytes + (long)q * QuestionCost,
                        totalWork, clock.Elapsed.TotalSeconds)));
                before += r.Bytes;
                workBefore += r.Bytes + (long)r.Questions * QuestionCost;
                results.Add(r);
                done?.Invoke(r);
            }
        return results;
    }

    /// <summary>One stream on a fresh learner of preset `model`. Chunks are the preset's length, except that a chunk also
    /// ends where a question's prompt ends, so the learner has learned every byte up to the answer when it is asked.
    /// `step` is told after each question: questions answered, greedy answers right, bytes learned.</summary>
    public static Result RunOne(string model, TaskStream task, Action<int, int, long>? step = null)
    {
        var transcript = task.Transcript;
        var learner = new OnlineLearner(Presets.Get(model), LearnerConfig.ForPreset(model));
        var bytes = transcript.Bytes;
        int chunk = learner.Config.Chunk, position = 0, greedyRight = 0;
        double bits = 0;
        void LearnUpTo(int end)
        {
            for (; position < end; position += Math.Min(chunk, end - position))
                bits += learner.LearnChunk(bytes.AsSpan(position, Math.Min(chunk, end - position)));
        }
        // Long enough for the longest answer and its newline: a longer continuation cannot be right.
        int length = transcript.Questions.Select(q => Encoding.UTF8.GetByteCount(q.Answer)).DefaultIfEmpty(0).Max() + 1;
        var answers = new List<Answer>();
        var clock = Stopwatch.StartNew();
        foreach (var q in transcript.Questions)
        {
            LearnUpTo(q.PromptEnd);
            var output = learner.Continue([], length);
            int end = Array.IndexOf(output, (byte)'\n');
            var greedy = Encoding.UTF8.GetString(output, 0, end < 0 ? output.Length : end);
            bool greedyIsRight = end >= 0 && greedy == q.Answer;
            var chosen = q.Candidates.MinBy(c => Bits(learner, c))!; // MinBy keeps the first of equals
            answers.Add(new Answer(q.Index, q.Answer, greedy, chosen, greedyIsRight, chosen == q.Answer, q.LastPlace == q.Answer,
                q.MostFrequent == q.Answer));
            if (greedyIsRight) greedyRight++;
            step?.Invoke(answers.Count, greedyRight, position);
        }
        LearnUpTo(bytes.Length);
        return new Result(model, task.Task, task.Name, answers, bytes.Length, bits, clock.Elapsed.TotalSeconds);
    }

    /// <summary>The bits the learner would pay for `answer` and its newline after what it has read, learning nothing.</summary>
    static double Bits(OnlineLearner learner, string answer)
    {
        var text = Encoding.UTF8.GetBytes(answer + "\n");
        return learner.Evaluate(text) * text.Length;
    }

    public static string Table(IReadOnlyList<Result> results)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"{"model",-10}{"task",-30}{"questions",10}{"greedy",16}{"choice",16}{"last place",16}{"most frequent",16}" +
            $"{"bits/byte",11}");
        static string Pair(double all, double second) => $"{all * 100,6:0.0}% ({second * 100,5:0.0}%)";
        foreach (var r in results)
            sb.AppendLine($"{r.Model,-10}{$"qa{r.Task} {r.TaskName}",-30}{r.Questions,10}{Pair(r.Greedy, r.GreedySecondHalf),16}" +
                $"{Pair(r.Choice, r.ChoiceSecondHalf),16}{Pair(r.LastPlace, r.LastPlaceSecondHalf),16}" +
                $"{Pair(r.MostFrequent, r.MostFrequentSecondHalf),16}{r.BitsPerByte,11:F3}");
        sb.AppendLine("share of questions answered right over the whole stream (in brackets: over its second half of questions).");
        sb.AppendLine("greedy: the model's own continuation up to its newline; choice: the candidate answer it finds likeliest;");
        sb.AppendLine("last place: the final word of the latest statement that ends in a known answer; most frequent: the answer given");
        sb.AppendLine("most often so far.");
        return sb.ToString();
    }

    sealed record Line(string Model, int Task, int Questions, double Accuracy, double AccuracySecondHalf, double Greedy, double Choice,
        double BaselineLastLocation, double BaselineMostFrequent, double ChoiceSecondHalf, double BaselineLastLocationSecondHalf,
        double BaselineMostFrequentSecondHalf, string TaskName, long Bytes, double BitsPerByte, double Seconds);

    /// <summary>The JSON line of a result; accuracy is the greedy accuracy (the model's own decoding), all shares in 0..1.</summary>
    public static string Json(Result r) => JsonLines.Serialize(new Line(r.Model, r.Task, r.Questions, Round(r.Greedy),
        Round(r.GreedySecondHalf), Round(r.Greedy), Round(r.Choice), Round(r.LastPlace), Round(r.MostFrequent), Round(r.ChoiceSecondHalf),
        Round(r.LastPlaceSecondHalf), Round(r.MostFrequentSecondHalf), r.TaskName, r.Bytes, JsonLines.Round(r.BitsPerByte, 4),
        JsonLines.Round(r.Seconds, 1)));

    static double Round(double share) => JsonLines.Round(share, 4);

    /// <summary>Where the chart of a result goes: `png` itself for a single result, else `png` with "-MODEL-qaTASK" before its
    /// extension.</summary>
    public static string ChartPath(string png, string model, int task, bool single)
    {
        if (single) return png;
        var ext = Path.GetExtension(png);
        return png[..^ext.Length] + $"-{model}-qa{task}" + ext;
    }

    /// <summary>The moving average of each way of answering over the stream's questions.</summary>
    public static void Plot(Result r, string path)
    {
        int n = r.Questions;
        if (n == 0) return;
        int window = Math.Clamp(n / 10, 1, 100);
        int every = Math.Max(1, n / 300);
        var x = new List<double>();
        for (int i = 1; i <= n; i += every) x.Add(i);
        if (x[^1] != n) x.Add(n);
        // the first points average the questions asked so far (fewer than the window)
        PngChart.Series Series(string name, Func<Answer, bool> right) => new(name, [.. x], [.. x.Select(end =>
            Share(r.Answers.Take((int)end).Skip(Math.Max(0, (int)end - window)), right))]);
        var series = new List<PngChart.Series>
        {
            Series("greedy", a => a.GreedyRight), Series("choice", a => a.ChoiceRight), Series("last place", a => a.LastPlaceRight),
            Series("most frequent", a => a.MostFrequentRight),
        };
        var ticks = Enumerable.Range(0, 5).Select(i => (double)Math.Max(1, (int)Math.Round((double)n * i / 4))).Distinct().ToList();
        new PngChart().Save(path, $"babi qa{r.Task} {r.TaskName}, {r.Model}: accuracy, moving average of {window} questions",
            "questions asked", "accuracy", series, logX: false, 0, 1, v => $"{v:0}", ticks, markers: false);
    }
}
