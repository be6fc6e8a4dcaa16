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
        var data = new DataOptions();
        var benchTask = Shared.ChoiceOption("--task", "Task", "sudoku", ["sudoku", "maze"]);
        var benchModels = Shared.ChoicesOption("--models", "Models", ["transformer", "hrm", "trm"], ModelNames);
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
            { benchTask, benchModels, benchSteps, benchOut, benchPng, Shared.Json, benchQuick, Shared.Threads };
        data.AddTo(reasoning);
        reasoning.SetAction(parse =>
        {
            Shared.ApplyThreads(parse, Environment.ProcessorCount);
            var t = ParseTask(parse.GetValue(benchTask)!);
            bool quick = parse.GetValue(benchQuick);
            var png = Shared.CheckOutput(parse.GetValue(benchPng)!, null);
            var p = parse.GetValue(data.Preset)!;
            ReasonerPresets.CheckName(p);
            var spec = quick ? DataSpec(t, p, t == PuzzleTask.Sudoku ? 6 : 9, "easy", 100, 20, parse.GetValue(data.Seed))
                : data.Spec(parse, t);
            var o = new ReasoningBench.Options
            {
                Data = spec, Preset = p, Steps = quick ? 30 : parse.GetValue(benchSteps),
                OutDir = Shared.CheckFolder(parse.GetValue(benchOut)!), Seed = parse.GetValue(data.Seed),
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
