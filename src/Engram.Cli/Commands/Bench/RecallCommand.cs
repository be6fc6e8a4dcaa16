// `engram bench recall`: facts of several templates planted in real text (or the built-in prose), asked for after N
// bytes of filler with the learner's own greedy decoding, first byte and multiple choice; updates report which value
// comes back.
using System.CommandLine;
using System.Diagnostics;
using Engram.Experiments;
using Engram.Models;
using Engram.Tasks;
using Engram.Tensors;

namespace Engram.Cli.Commands;

static class RecallCommand
{
    public static Command Create()
    {
        var models = Shared.ChoicesOption("--models", "Presets to compare", [Presets.Default], [.. Presets.All.Keys]);
        var templates = Shared.ChoicesOption("--templates", "Fact templates", FactTemplates.Names, FactTemplates.Names);
        var distances = Shared.SizesOption("--distances", "Distances between the facts and their questions",
            [1_000, 10_000, 100_000, 1_000_000], 1);
        var updateDistances = Shared.SizesOption("--update-distances", "Distances after the updates", [1_000, 100_000], 1);
        var facts = Shared.IntOption("--facts", "Facts planted per stream.", 20, 2, 45);
        var filler = new Option<string?>("--filler")
        {
            Description = "Filler text file, or 'generated' for the built-in prose (default: Tiny Stories and Tiny Shakespeare from " +
                "shared/data when found, else generated)."
        };
        var noUpdates = new Option<bool>("--no-updates") { Description = "Skip the update streams." };
        var long10 = new Option<bool>("--long") { Description = "Add the 10 MB distance (about 10 MB read per template)." };
        var png = new Option<string>("--png") { Description = "Where to write the chart.", DefaultValueFactory = _ => "recall.png" };
        var quick = new Option<bool>("--quick")
        {
            Description = "Two templates, distances 1KB and 10KB, one update distance (a smoke test)."
        };
        var command = new Command("recall", "Long-range recall on real text: facts planted, asked for after N bytes of other text.")
            { Shared.Json, models, templates, distances, updateDistances, facts, filler, noUpdates, long10, png, quick, Shared.Threads };
        command.SetAction(parse =>
        {
            bool quickRun = parse.GetValue(quick);
            var fillerFile = parse.GetValue(filler);
            var chart = Shared.CheckOutput(parse.GetValue(png)!, null);
            var text = Shared.Filler(fillerFile);
            long[] d = quickRun ? [1_000, 10_000] : parse.GetValue(distances)!;
            if (parse.GetValue(long10)) d = [.. d, 10_000_000];
            foreach (var x in d.Concat(parse.GetValue(updateDistances)!))
                if (x > int.MaxValue) throw new EngramException($"--distances {x}: at most {int.MaxValue} bytes");
            var o = new RecallBench.Options
            {
                Models = parse.GetValue(models)!,
                Templates = quickRun ? ["code", "capital"] : parse.GetValue(templates)!,
                Distances = d,
                UpdateDistances = quickRun ? [1_000] : parse.GetValue(updateDistances)!,
                Updates = !parse.GetValue(noUpdates),
                Facts = parse.GetValue(facts),
                LeadIn = quickRun ? 5_000 : 20_000,
                Filler = text,
            };
            bool json = parse.GetValue(Shared.Json);
            var sw = Stopwatch.StartNew();
            double lastReport = 0;
            var results = RecallBench.Run(o, r =>
            {
                if (json) Console.WriteLine(RecallBench.Json(r));
                else Console.Error.WriteLine($"{r.Model} {r.Template}{(r.Update ? " update" : "")} at {RecallBench.Size(r.Distance)}: " +
                    $"greedy {r.Greedy:P0}, first byte {r.FirstToken:P0}, choice {r.Choice:P0}" +
                    (r.Update ? $", old value {r.Oldest:P0}" : ""));
            }, (done, total) =>
            {
                double s = sw.Elapsed.TotalSeconds;
                if (s - lastReport < 10) return;
                lastReport = s;
                double rate = done / s;
                Console.Error.WriteLine($"{done:N0} / {total:N0} bytes read  {rate / 1000:F1} KB/s  ETA {(total - done) / rate:F0} s");
            });
            RecallBench.Plot(results, chart);
            if (!json) { Console.WriteLine(RecallBench.Table(results)); Console.WriteLine($"chart written to {parse.GetValue(png)}"); }
            return ExitCode.Success;
        });
        return command;
    }
}
