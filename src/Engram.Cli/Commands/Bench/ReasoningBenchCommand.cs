// `engram bench reasoning`: direct Transformer vs HRM vs TRM at equal parameters and training examples.
using System.CommandLine;
using Engram.Experiments;
using Engram.Models.Reasoning;
using Engram.Tasks;
using Engram.Tensors;

using static Engram.Cli.Commands.Reasoning;

namespace Engram.Cli.Commands;

static class ReasoningBenchCommand
{
    public static Command Create()
    {
        var seed = Shared.Seed("Seed of the data, the weights and the sampling of examples.");
        var preset = Shared.ChoiceOption("--preset", "cpu (small; learns in minutes on 2 cores) or paper (published sizes)", "cpu",
            [.. ReasonerPresets.Names]);
        var trainSize = Shared.IntOption("--train-size", "Training puzzles (each seen under random augmentations).", 1000, 1, 10_000_000);
        var testSize = Shared.OptionalInt("--test-size", "Held-out puzzles (default 500 for cpu, 1000 for paper).", 1, 10_000_000);
        var size = Shared.OptionalInt("--size", "Sudoku digits (4, 6, 9, 16) or maze side (default: 6 / 12 with cpu, 9 / 30 with paper).",
            1, 1024);
        var difficulty = new Option<string?>("--difficulty")
        {
            Description = "Sudoku: easy, medium (minimal puzzles) or hard; maze: easy, hard (long shortest path) or a minimum path length."
        };
        var benchTask = Shared.ChoiceOption("--task", "Task", "sudoku", ["sudoku", "maze"]);
        var benchModels = Shared.ChoicesOption("--models", "Models", ["transformer", "hrm", "trm"],
            ["hrm", "trm", "trm-mlp", "transformer"]);
        var benchSteps = Shared.IntOption("--steps", "Optimizer steps for every model, all at the same batch size.", 5000, 1, int.MaxValue);
        var benchOut = new Option<string>("--out")
        {
            Description = "Folder for the runs (each resumable).",
            DefaultValueFactory = _ => Path.Combine("runs", "bench-reasoning")
        };
        var benchPng = new Option<string>("--png")
        {
            Description = "Where to write the chart.",
            DefaultValueFactory = _ => "reasoning.png"
        };
        var benchQuick = new Option<bool>("--quick")
        {
            Description = "100 easy training puzzles (6×6 Sudoku or 9×9 mazes), 20 test, 30 steps (a smoke test, not a measurement)."
        };
        var reasoning = new Command("reasoning", "Direct Transformer vs HRM vs TRM at equal parameters and training examples: " +
            "held-out exact accuracy by segments of thinking.")
            { benchTask, benchModels, preset, trainSize, testSize, size, difficulty, benchSteps, benchOut, benchPng, seed, Shared.Json,
                benchQuick, Shared.Threads };
        reasoning.SetAction(parse =>
        {
            Shared.ApplyThreads(parse, Environment.ProcessorCount);
            var t = ParseTask(parse.GetValue(benchTask)!);
            bool quick = parse.GetValue(benchQuick);
            var png = Shared.CheckOutput(parse.GetValue(benchPng)!, null);
            var p = parse.GetValue(preset)!;
            ReasonerPresets.CheckName(p);
            var spec = quick ? DataSpec(t, p, t == PuzzleTask.Sudoku ? 6 : 9, "easy", 100, 20, parse.GetValue(seed))
                : DataSpec(t, p, parse.GetValue(size), parse.GetValue(difficulty), parse.GetValue(trainSize), parse.GetValue(testSize),
                    parse.GetValue(seed));
            var o = new ReasoningBench.Options
            {
                Data = spec, Preset = p, Steps = quick ? 30 : parse.GetValue(benchSteps),
                OutDir = Shared.CheckFolder(parse.GetValue(benchOut)!), Seed = parse.GetValue(seed),
                Models = [.. parse.GetValue(benchModels)!.Select(ReasonerPresets.ParseKind)],
            };
            if (o.Steps < 1) throw new EngramException("--steps: expected at least 1");
            bool asJson = parse.GetValue(Shared.Json);
            var results = ReasoningBench.Run(o, m => Console.Error.WriteLine(m),
                r => { if (asJson) Console.WriteLine(ReasoningBench.Json(r)); });
            ReasoningBench.Plot(results, png, $"held-out exact accuracy, {spec.Describe()}");
            if (!asJson)
            {
                Console.WriteLine($"{spec.Describe()}: {spec.TrainCount:N0} training puzzles, {spec.TestCount:N0} held out; " +
                    $"{o.Steps:N0} steps each, preset {p}");
                Console.Write(ReasoningBench.Table(results));
                Console.WriteLine($"chart written to {png}");
            }
            return ExitCode.Success;
        });
        return reasoning;

    }
}
