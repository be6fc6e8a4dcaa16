// `engram bench babi`: bAbI by reading — each task's stories and questions as one stream the online learner reads, answering
// every question from what it has learned so far, compared with two reference answers.
using System.CommandLine;
using Engram.Experiments;
using Engram.Models;
using Engram.Tensors;

namespace Engram.Cli.Commands;

static class BabiCommand
{
    public static Command Create()
    {
        var models = Shared.ChoicesOption("--models", "Presets to compare", [Presets.Default], [.. Presets.All.Keys]);
        var tasks = Shared.IntsOption("--tasks", "bAbI tasks to read, from 1 to 20", [1, 2, 3], 1, 20);
        var questions = Shared.IntOption("--questions", "Questions asked per task (a training file has 1000); the stream ends after " +
            "the last one's answer.", BabiBench.DefaultQuestions, 1, 1_000_000);
        var data = new Option<string?>("--data")
        {
            Description = "The bAbI folder, holding en/qa1_single-supporting-fact_train.txt and the other tasks (default: " +
                "shared/data/babi in the current folder or the nearest folder above it that has one)."
        };
        var png = new Option<string>("--png")
        {
            Description = "Where to write the chart of accuracy over the stream; with several tasks or models, one chart each, " +
                "named with -MODEL-qaTASK before the extension.",
            DefaultValueFactory = _ => "babi.png"
        };
        var teach = new Option<bool>("--teach")
        {
            Description = "Teach by interaction instead of reading: story lines and questions as chat turns (U: ...), the brain " +
                "answers (B: ...), and only a wrong answer is corrected; one chart for all (--png).",
        };
        var command = new Command("babi", "bAbI by reading: each task's stories and questions as one stream the learner learns " +
            "online; at every question it answers without learning (its greedy continuation, and its likeliest candidate answer).")
            { Shared.Json, models, tasks, questions, data, png, teach, Shared.Threads };
        command.SetAction(parse =>
        {
            Shared.ApplyThreads(parse, 1);
            var folder = DataFolder(parse.GetValue(data));
            var modelNames = parse.GetValue(models)!.Distinct().ToArray();
            var taskNumbers = parse.GetValue(tasks)!.Distinct().ToArray();
            var chart = Shared.CheckOutput(parse.GetValue(png)!, null);
            if (parse.GetValue(teach)) return Teach(parse, folder, modelNames, taskNumbers, chart, parse.GetValue(questions));
            bool single = modelNames.Length * taskNumbers.Length == 1;
            var charts = (from m in modelNames from t in taskNumbers
                          select (m, t, Shared.CheckOutput(BabiBench.ChartPath(chart, m, t, single), null))).ToList();
            int cap = parse.GetValue(questions);
            var streams = taskNumbers.Select(t => BabiBench.Load(folder, t, cap)).ToList();
            bool json = parse.GetValue(Shared.Json);
            double lastReport = 0;
            var results = BabiBench.Run(streams, modelNames, r =>
            {
                if (json) Console.WriteLine(BabiBench.Json(r));
                else Console.Error.WriteLine($"{r.Model} qa{r.Task} {r.TaskName}: greedy {r.Greedy:P1}, choice {r.Choice:P1}, " +
                    $"last place {r.LastPlace:P1}, most frequent {r.MostFrequent:P1} ({r.Questions:N0} questions, {r.Seconds:F0} s)");
            }, p =>
            {
                if (p.Seconds - lastReport < 5) return;
                lastReport = p.Seconds;
                string eta = p.EtaSeconds is double s ? $"  ETA {s:F0} s" : "";
                Console.Error.WriteLine($"{p.Model} qa{p.Task}: {p.Questions:N0} / {p.TaskQuestions:N0} questions, greedy right " +
                    $"{(double)p.GreedyRight / p.Questions:P1}  {p.Bytes:N0} / {p.TotalBytes:N0} bytes  " +
                    $"{p.BytesPerSecond / 1000:F1} KB/s{eta}");
            });
            foreach (var r in results) BabiBench.Plot(r, charts.Single(c => c.m == r.Model && c.t == r.Task).Item3);
            if (!json)
            {
                Console.WriteLine(BabiBench.Table(results));
                Console.WriteLine($"chart{(single ? "" : "s")} written to {string.Join(", ", charts.Select(c => c.Item3))}");
            }
            return ExitCode.Success;
        });
        return command;
    }

    static int Teach(ParseResult parse, string folder, string[] models, int[] tasks, string chart, int questions)
    {
        bool json = parse.GetValue(Shared.Json);
        var streams = tasks.Select(t => BabiBench.Load(folder, t, questions)).ToList();
        var results = new List<BabiTeaching.Result>();
        foreach (var m in models)
            foreach (var s in streams)
            {
                var clock = System.Diagnostics.Stopwatch.StartNew();
                double last = 0;
                var r = BabiTeaching.Run(m, s, questions, (q, c) =>
                {
                    if (clock.Elapsed.TotalSeconds - last < 5) return;
                    last = clock.Elapsed.TotalSeconds;
                    Console.Error.WriteLine($"{m} qa{s.Task}: {q:N0} questions, {c:N0} corrections, {q / last:F1} questions/s");
                });
                results.Add(r);
                if (json) Console.WriteLine(BabiTeaching.Json(r));
                else Console.WriteLine($"{r.Model} qa{r.Task} {r.TaskName} taught by interaction: {r.Accuracy:P1} right over " +
                    $"{r.Questions:N0} " +
                    $"questions, {r.AccuracySecondHalf:P1} in the second half; {r.Corrections:N0} corrections; last place mentioned " +
                    $"{r.LastPlace:P1} ({r.Seconds:F0} s)");
            }
        BabiTeaching.Plot(results, chart);
        if (!json) Console.WriteLine($"chart written to {chart}");
        return ExitCode.Success;
    }

    /// <summary>The bAbI folder: the one given, or shared/data/babi in the current folder or the nearest one above it.</summary>
    static string DataFolder(string? given)
    {
        const string expected = "expected the bAbI folder holding en/qa1_single-supporting-fact_train.txt and the other task files";
        if (given is not null)
        {
            if (File.Exists(given)) throw new EngramException($"{given}: is a file; {expected}");
            return Directory.Exists(given) ? given : throw new EngramException($"{given}: no such folder; {expected}");
        }
        var here = Directory.GetCurrentDirectory();
        if (SharedData.Find(d => Directory.Exists(Path.Combine(d, "babi")), here) is { } data) return Path.Combine(data, "babi");
        throw new EngramException($"no bAbI data: shared/data/babi is in neither {here} nor any folder above it; {expected} " +
            "(give it with --data DIR)");
    }
}
