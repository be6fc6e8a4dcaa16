// `engram bench teaching`: lessons taught to brains and measured as knowledge edits — efficacy, paraphrase, neighbourhood
// and exact recall right after each lesson, retention after 1 KB to 1 MB of other text, the lifelong matrix (ACC, BWT,
// forgetting) and the teach-on-error loop — for the default brain and `neural` (no count memory).
using System.CommandLine;
using Engram.Experiments;
using Engram.Models;

namespace Engram.Cli.Commands;

static class TeachingCommand
{
    public static Command Create()
    {
        var models = Shared.ChoicesOption("--models", "Presets to teach", [Presets.Default, "neural"], [.. Presets.All.Keys]);
        var lessons = Shared.IntOption("--lessons", "Lessons in the lifelong sequence.", 50, 2, 2000);
        var distances = Shared.SizesOption("--distances", "Retention distances (bytes of other text after the lessons)",
            [1_000, 10_000, 100_000, 1_000_000], 1);
        var filler = new Option<string?>("--filler")
        {
            Description = "Other text between and after lessons: a text file, or 'generated' for the built-in prose (default: Tiny " +
                "Stories and Tiny Shakespeare from shared/data when found, else generated)."
        };
        var png = new Option<string>("--png") { Description = "Where to write the chart.", DefaultValueFactory = _ => "teaching.png" };
        var seed = Shared.Seed("Seed of the lessons, the filler's starting point and the brains.");
        var quick = new Option<bool>("--quick") { Description = "10 lessons, 10 probe lessons, distances 1KB and 10KB (a smoke test)." };
        var command = new Command("teaching", "Teach lessons to fresh brains and measure them as knowledge edits (efficacy, " +
            "paraphrase, neighbourhood, exact, retention, ACC/BWT/forgetting, teach-on-error).")
            { Shared.Json, models, lessons, distances, filler, png, seed, quick, Shared.Threads };
        command.SetAction(parse =>
        {
            Shared.ApplyThreads(parse, 1);
            bool q = parse.GetValue(quick), json = parse.GetValue(Shared.Json);
            var chart = Shared.CheckOutput(parse.GetValue(png)!, null);
            var o = new Teaching.Options
            {
                Lessons = q ? 10 : parse.GetValue(lessons), Probe = q ? 10 : 20, WarmUp = q ? 5_000 : 20_000,
                Distances = q ? [1_000, 10_000] : parse.GetValue(distances)!, Seed = parse.GetValue(seed),
                Filler = Shared.Filler(parse.GetValue(filler)),
            };
            var results = new List<Teaching.Result>();
            foreach (var m in parse.GetValue(models)!.Distinct())
            {
                var r = Teaching.Run(m, o, line => Console.Error.WriteLine(line));
                results.Add(r);
                if (json) Console.WriteLine(Teaching.Json(r));
            }
            Teaching.Plot(results, chart);
            if (!json)
            {
                foreach (var r in results)
                {
                    Console.WriteLine($"{r.Brain} ({r.Lessons} lessons, filler {r.Filler}, {r.Seconds:F0} s): efficacy {r.Efficacy:P0}, " +
                        $"paraphrase {r.Paraphrase:P0} (control {r.ParaphraseControl:P0}), neighbourhood {r.Neighbourhood:P0}, " +
                        $"exact {r.Exact:P0}; ACC {r.Acc:P0}, " +
                        FormattableString.Invariant($"BWT {r.Bwt:+0.00;-0.00}, forgetting {r.Forgetting:F2}"));
                    Console.WriteLine("  retention (efficacy / exact): " + string.Join(", ", r.Retention.Select(kv =>
                        $"{RecallBench.Size(kv.Key)} {kv.Value:P0} / {r.RetentionExact[kv.Key]:P0}")));
                    Console.WriteLine($"  teach on error: {r.TeachOnErrorLessons} lessons in {r.TeachOnErrorRounds} rounds, " +
                        (r.TeachOnErrorAllRight ? "all right" : "not all right") + $", {r.Flips} answers flipped back; held-out " +
                        FormattableString.Invariant($"bits per byte {r.HeldOutBefore:F3} → {r.HeldOutAfter:F3}"));
                }
                Console.WriteLine($"chart written to {chart}");
            }
            return ExitCode.Success;
        });
        return command;
    }
}
