// `engram bench recall`: facts planted in a stream, asked for after N bytes of other text, scored on the learner's own
// predictions.
using System.CommandLine;
using Engram.Experiments;
using Engram.Models;
using Engram.Tensors;

namespace Engram.Cli.Commands;

static class RecallCommand
{
    public static Command Create()
    {
        var models = Shared.ChoicesOption("--models", "Presets to compare", [Presets.Default, "neural", "transformer", "gru"],
            [.. Presets.All.Keys]);
        var distances = Shared.SizesOption("--distances", "Distances between a fact and its question",
            [1_000, 10_000, 100_000, 1_000_000], 1);
        var repeats = Shared.IntsOption("--repeats", "How many times each fact is planted", [1, 3], 1, 100);
        var facts = Shared.IntOption("--facts", "Facts planted per stream.", 10, 1, 10_000);
        var filler = new Option<string?>("--filler")
        {
            Description = "Use this text file as the filler instead of the built-in generator."
        };
        var png = new Option<string>("--png") { Description = "Where to write the chart.", DefaultValueFactory = _ => "recall.png" };
        var quick = new Option<bool>("--quick") { Description = "Distances 1KB and 10KB only, facts seen once (a smoke test)." };
        var command = new Command("recall", "Long-range recall: facts planted in a stream, asked for after N bytes of other text.")
            { Shared.Json, models, distances, repeats, facts, filler, png, quick, Shared.Threads };
        command.SetAction(parse =>
        {
            bool quickRun = parse.GetValue(quick);
            var fillerFile = parse.GetValue(filler);
            var chart = Shared.CheckOutput(parse.GetValue(png)!, null);
            var o = new RecallBench.Options
            {
                Models = parse.GetValue(models)!,
                Distances = quickRun ? [1_000, 10_000] : [.. parse.GetValue(distances)!.Select(d => d <= int.MaxValue ? (int)d
                    : throw new EngramException($"--distances {d}: at most {int.MaxValue} bytes"))],
                Repeats = quickRun ? [1] : parse.GetValue(repeats)!,
                Facts = parse.GetValue(facts),
                LeadIn = quickRun ? 5_000 : 20_000,
                FillerText = fillerFile is null ? null : File.Exists(fillerFile) ? File.ReadAllText(fillerFile)
                    : throw new EngramException($"{fillerFile}: no such file"),
            };
            bool json = parse.GetValue(Shared.Json);
            var results = RecallBench.Run(o, r =>
            {
                if (json) Console.WriteLine(RecallBench.Json(r));
                else Console.Error.WriteLine($"{r.Model} seen {r.Repeats}×, {RecallBench.Size(r.Distance)}: {r.Accuracy:P0} of facts, " +
                    $"{r.FirstDigitAccuracy:P0} of first digits ({r.BytesPerSecond / 1000:F1} KB/s)");
            });
            RecallBench.Plot(results, chart);
            if (!json) { Console.WriteLine(RecallBench.Table(results)); Console.WriteLine($"chart written to {parse.GetValue(png)}"); }
            return ExitCode.Success;
        });
        return command;
    }
}
