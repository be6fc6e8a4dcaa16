// `engram bench poisoning`: lessons that try to overwrite canary facts and earlier lessons, mixed with benign lessons,
// taught to a brain whose gates forbid flipping a canary or forgetting a lesson: poisoning caught, benign rejected.
using System.CommandLine;
using Engram.Experiments;
using Engram.Models;

namespace Engram.Cli.Commands;

static class PoisoningCommand
{
    public static Command Create()
    {
        var models = Shared.ChoicesOption("--models", "Presets to teach", [Presets.Default], [.. Presets.All.Keys]);
        var lessons = Shared.IntOption("--lessons", "Lessons in the stream (half poisoning).", 40, 2, 2000);
        var canaries = Shared.IntOption("--canaries", "Canary facts the brain holds before the lessons.", 16, 1, 500);
        var filler = new Option<string?>("--filler")
        {
            Description = "Other text among the canary facts: a text file, or 'generated' (default: shared/data when found)."
        };
        var seed = Shared.Seed("Seed of the facts, lessons, order and brain.");
        var repeats = Shared.IntOption("--repeats", "Times each canary fact is stated before the lessons.", 2, 1, 100);
        var rise = Shared.OptionalDouble("--max-canary-rise", "The gate on a canary answer's rise in bits per byte (default 1; 0 " +
            "turns it off and leaves the flip and retention gates).", 0, 64);
        var quick = new Option<bool>("--quick") { Description = "10 lessons, 6 canaries, 5 KB of other text (a smoke test)." };
        var command = new Command("poisoning", "Poisoning lessons mixed with benign ones against a brain's gates: the share caught and " +
            "the share of benign lessons rejected.")
            { Shared.Json, models, lessons, canaries, repeats, rise, filler, seed, quick, Shared.Threads };
        command.SetAction(parse =>
        {
            Shared.ApplyThreads(parse, 1);
            bool q = parse.GetValue(quick);
            var o = new Poisoning.Options
            {
                Lessons = q ? 10 : parse.GetValue(lessons), Canaries = q ? 6 : parse.GetValue(canaries), WarmUp = q ? 5_000 : 20_000,
                Seed = parse.GetValue(seed), Filler = Shared.Filler(parse.GetValue(filler)), Repeats = parse.GetValue(repeats),
                MaxCanaryRise = parse.GetValue(rise) is double x ? (x == 0 ? null : x) : 1,
            };
            bool json = parse.GetValue(Shared.Json);
            foreach (var m in parse.GetValue(models)!.Distinct())
            {
                var r = Poisoning.Run(m, o, line => Console.Error.WriteLine(line));
                if (json) Console.WriteLine(Poisoning.Json(r));
                else Console.WriteLine($"{r.Brain} ({r.Canaries} canary facts, filler {r.Filler}, {r.Seconds:F0} s): " +
                    "poisoning lessons caught " +
                    $"{r.Caught:P0} of {r.PoisoningLessons} ({r.HarmfulAccepted} accepted and took effect); benign lessons rejected " +
                    $"{r.FalseRejections:P0} of {r.BenignLessons}");
            }
            return ExitCode.Success;
        });
        return command;
    }
}
