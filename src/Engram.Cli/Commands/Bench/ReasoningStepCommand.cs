// `engram bench reasoning-step`: parameters, time and peak memory of one training step of a reasoning model.
using System.CommandLine;
using Engram.Learning;
using Engram.Models.Reasoning;
using Engram.Tasks;
using Engram.Tensors;

using static Engram.Cli.Commands.Reasoning;

namespace Engram.Cli.Commands;

static class ReasoningStepCommand
{
    public sealed record Line(string Model, string Preset, string Task, long Parameters, int Batch, double SecondsPerStep,
        long PeakWorkingSetBytes, int Threads);

    public static Command Create()
    {
        var stepModel = Shared.ChoiceOption("--model", "Model", "hrm", ModelNames);
        var stepPreset = Shared.ChoiceOption("--preset", "Preset", "paper", [.. ReasonerPresets.Names]);
        var stepTask = Shared.ChoiceOption("--task", "sudoku (9×9) or maze (30×30)", "sudoku", ["sudoku", "maze"]);
        var stepBatch = Shared.IntOption("--batch", "Batch size.", 16, 1, 1 << 16);
        var stepCount = Shared.IntOption("--steps", "Timed steps (after one warm-up step).", 2, 1, 1_000_000);
        var step = new Command("reasoning-step", "Parameters, time and peak memory of one training step (one segment with its loss, " +
            "backward and Adam-atan2 update) of a reasoning model; run one model per process so the peak is its own.")
            { stepModel, stepPreset, stepTask, stepBatch, stepCount, Shared.Json, Shared.Threads };
        step.SetAction(parse =>
        {
            Shared.ApplyThreads(parse, Environment.ProcessorCount);
            var t = ParseTask(parse.GetValue(stepTask)!);
            var p = parse.GetValue(stepPreset)!;
            ReasonerPresets.CheckName(p);
            var kind = ReasonerPresets.ParseKind(parse.GetValue(stepModel)!);
            int batchSize = parse.GetValue(stepBatch), timed = parse.GetValue(stepCount);
            if (batchSize < 1 || timed < 1) throw new EngramException("--batch and --steps: expected at least 1");
            var data = (t == PuzzleTask.Sudoku ? new PuzzleSpec(t, 9, "medium", 4, 1, 1) : new PuzzleSpec(t, 30, "hard", 4, 1, 1))
                .Make().Train;
            var config = ReasonerPresets.Get(kind, p, data.Vocab, data.SeqLen, t == PuzzleTask.Maze) with { Batch = batchSize };
            var trainer = new ReasoningTrainer(config, data, 1);
            trainer.TrainStep();
            var sw = System.Diagnostics.Stopwatch.StartNew();
            for (int i = 0; i < timed; i++) trainer.TrainStep();
            double seconds = sw.Elapsed.TotalSeconds / timed;
            using var self = System.Diagnostics.Process.GetCurrentProcess();
            self.Refresh();
            long peak = self.PeakWorkingSet64;
            string name = ReasonerPresets.KindName(kind);
            if (parse.GetValue(Shared.Json))
                Shared.WriteJson(new Line(name, p, t.ToString().ToLowerInvariant(), trainer.Model.ParameterCount(), batchSize,
                    Math.Round(seconds, 3), peak, Engine.MaxThreads));
            else Console.WriteLine(FormattableString.Invariant(
                $"{name} ({p}, {t.ToString().ToLowerInvariant()}): {trainer.Model.ParameterCount():N0} parameters; ") +
                FormattableString.Invariant($"one training step at batch {batchSize}: {seconds:F2} s; ") +
                FormattableString.Invariant($"peak working set {peak / 1048576.0:F0} MiB ({Engine.MaxThreads} threads)"));
            return ExitCode.Success;
        });
        return step;
    }
}
