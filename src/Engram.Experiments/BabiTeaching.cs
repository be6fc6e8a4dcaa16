// bAbI taught by interaction, in the chat transcript format: the teacher tells each story line as a user turn
// ("U: Mary moved to the bathroom."), asks each question as a user turn ("U: Where is Mary?"), the brain answers by
// continuing "B:" greedily (nothing learned), and the teacher corrects only a wrong answer ("B: bathroom" is learned);
// a right answer is not repeated back. Reported: accuracy over the stream, over its second half, and the corrections
// given, against the reference answers (last place mentioned, most frequent answer).
using System.Diagnostics;
using System.Text;
using Engram.Learning;
using Engram.Models;
using Engram.Tasks;

namespace Engram.Experiments;

public static class BabiTeaching
{
    public sealed record Result(string Model, int Task, string TaskName, int Questions, double Accuracy, double AccuracySecondHalf,
        int Corrections, double LastPlace, double[] Curve, long Bytes, double Seconds);

    static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    public static Result Run(string model, BabiBench.TaskStream task, int questions, Action<int, int>? step = null)
    {
        var clock = Stopwatch.StartNew();
        var learner = new OnlineLearner(Presets.Get(model), LearnerConfig.ForPreset(model));
        var stories = BabiFile.Read(task.File);
        var right = new List<bool>();
        var lastPlace = task.Transcript.Questions.Take(questions).Select(q => q.LastPlace == q.Answer).ToList();
        int corrections = 0, length = task.Transcript.Questions.Max(q => Utf8(q.Answer).Length) + 2;
        foreach (var story in stories)
        {
            if (right.Count >= questions) break;
            foreach (var line in story.Lines)
            {
                if (right.Count >= questions) break;
                learner.Learn(Utf8($"U: {line.Text}\n"));
                if (line.Answer is not string answer) continue;
                var reply = learner.Continue(Utf8("B:"), length, b => b != '\n');
                var said = Encoding.UTF8.GetString(reply).TrimEnd('\n').Trim();
                bool ok = said == answer;
                right.Add(ok);
                if (!ok) { learner.Learn(Utf8($"B: {answer}\n")); corrections++; }
                step?.Invoke(right.Count, corrections);
            }
        }
        int n = right.Count;
        var curve = new double[n];
        int window = Math.Max(1, n / 20), sum = 0;
        for (int i = 0; i < n; i++)
        {
            sum += right[i] ? 1 : 0;
            if (i >= window) sum -= right[i - window] ? 1 : 0;
            curve[i] = (double)sum / Math.Min(i + 1, window);
        }
        double Share(IEnumerable<bool> xs) { var l = xs.ToList(); return l.Count == 0 ? 0 : l.Count(x => x) / (double)l.Count; }
        return new Result(model, task.Task, task.Name, n, Share(right), Share(right.Skip(n / 2)), corrections, Share(lastPlace.Take(n)),
            curve, learner.Position, clock.Elapsed.TotalSeconds);
    }

    public static string Json(Result r) => JsonLines.Serialize(new System.Text.Json.Nodes.JsonObject
    {
        ["mode"] = "teach", ["model"] = r.Model, ["task"] = r.Task, ["questions"] = r.Questions,
        ["accuracy"] = JsonLines.Round(r.Accuracy, 4), ["accuracy_second_half"] = JsonLines.Round(r.AccuracySecondHalf, 4),
        ["corrections"] = r.Corrections, ["baseline_last_location"] = JsonLines.Round(r.LastPlace, 4), ["bytes"] = r.Bytes,
        ["seconds"] = JsonLines.Round(r.Seconds, 1),
    });

    public static void Plot(IReadOnlyList<Result> results, string path) => new PngChart().Save(path,
        "bAbI taught by interaction: accuracy (moving window)", "questions asked", "share right",
        results.Select(r => new PngChart.Series($"{r.Model} qa{r.Task}",
            Enumerable.Range(1, r.Curve.Length).Select(i => (double)i).ToArray(), r.Curve)).ToList(), logX: false, 0, 1,
        x => x.ToString("0", System.Globalization.CultureInfo.InvariantCulture),
        xTicks: [1, .. Enumerable.Range(1, 5).Select(i => Math.Round(results.Max(r => r.Curve.Length) * i / 5.0))], markers: false);
}
