// `engram train sudoku|maze`: HRM, TRM or the direct Transformer trained with deep supervision and adaptive halting; resumes
// from its run folder.
using System.CommandLine;
using System.Text.Json;
using Engram.Learning;
using Engram.Models.Reasoning;
using Engram.Tasks;
using Engram.Tensors;
using Engram.Tensors.IO;

using static Engram.Cli.Commands.Reasoning;

namespace Engram.Cli.Commands;

static class TrainCommand
{
    public sealed record Progress(long Step, double Loss, double LmLoss, double TrainCellAccuracy, double TrainExactAccuracy,
        double StepsPerSecond, double? EtaSeconds);
    public sealed record Summary(long Steps, long Examples, double TrainSeconds, long Parameters, double ExactAccuracy, double CellAccuracy,
        double MeanSegments, int Count);

    public static Command Create()
    {
        var data = new DataOptions();
        var task = TaskArgument();
        var model = Shared.ChoiceOption("--model", "Model", "trm", ModelNames);
        var steps = Shared.OptionalInt("--steps", "Optimizer steps in total (default 5,000 for cpu, 50,000 for paper).", 1, int.MaxValue);
        var minutes = Shared.OptionalDouble("--minutes", "Train for this many minutes in total instead.", 0.001, 1e7);
        var outDir = new Option<string?>("--out")
        {
            Description = "Run folder (default runs/TASK-MODEL-PRESET); re-running the same command there resumes."
        };
        var batch = Shared.OptionalInt("--batch", "Override the preset's batch size.", 1, 1 << 16);
        var lr = Shared.OptionalDouble("--lr", "Override the preset's learning rate.", 0, 10);
        var train = new Command("train",
            "Train HRM, TRM or the direct Transformer on Sudoku or mazes (deep supervision, adaptive halting).")
            { task, model, steps, minutes, outDir, batch, lr, Shared.Json, Shared.Threads };
        data.AddTo(train);
        train.SetAction(parse =>
        {
            Shared.ApplyThreads(parse, Environment.ProcessorCount);
            var t = ParseTask(parse.GetValue(task)!);
            var p = parse.GetValue(data.Preset)!;
            ReasonerPresets.CheckName(p);
            var kind = ReasonerPresets.ParseKind(parse.GetValue(model)!);
            if (parse.GetValue(steps) is < 1) throw new EngramException("--steps: expected at least 1");
            if (parse.GetValue(minutes) is <= 0) throw new EngramException("--minutes: expected a positive number");
            var o = new ReasoningRunOptions
            {
                Data = data.Spec(parse, t),
                Kind = kind, Preset = p, Steps = parse.GetValue(steps), Minutes = parse.GetValue(minutes), Seed = parse.GetValue(data.Seed),
                OutDir = Shared.CheckFolder(parse.GetValue(outDir)
                    ?? Path.Combine("runs", $"{t.ToString().ToLowerInvariant()}-{ReasonerPresets.KindName(kind)}-{p}")),
                Batch = parse.GetValue(batch), LearningRate = parse.GetValue(lr),
            };
            bool asJson = parse.GetValue(Shared.Json);
            double last = -100;
            bool announced = false;
            var (trainer, test) = ReasoningRun.Train(o, (s, tr, eta) =>
            {
                if (!announced)
                {
                    announced = true;
                    if (!asJson)
                        Console.Error.WriteLine($"training {ReasonerPresets.KindName(kind)} ({p}, " +
                            $"{tr.Model.ParameterCount():N0} parameters, batch {tr.Config.Batch}, " +
                            $"up to {tr.Config.MaxSegments} segments) on {o.Data.Describe()}; run folder {o.OutDir}");
                }
                if (tr.TrainSeconds - last < (asJson ? 10 : 2)) return;
                last = tr.TrainSeconds;
                double rate = s.Step / Math.Max(tr.TrainSeconds, 1e-9);
                string etaText = double.IsFinite(eta) ? $"{eta:F0} s" : "?";
                Console.Error.WriteLine(asJson
                    ? JsonSerializer.Serialize(new Progress(s.Step, Math.Round(s.Loss, 5), Math.Round(s.LmLoss, 5),
                        Math.Round(s.CellAccuracy, 4), Math.Round(s.ExactAccuracy, 4), Math.Round(rate, 3),
                        double.IsFinite(eta) ? Math.Round(eta) : null), Shared.JsonOptions)
                    : FormattableString.Invariant($"step {s.Step,7:N0}  loss {s.Loss:F4}  train cells {s.CellAccuracy,6:P1}  ") +
                        FormattableString.Invariant($"grids {s.ExactAccuracy,6:P1}  segments {s.MeanSegments:F1}  ") +
                        FormattableString.Invariant($"{rate:F2} steps/s  ETA {etaText}"));
            }, m => Console.Error.WriteLine(m));
            var eval = ReasoningEvaluation.Evaluate(trainer.EvaluationModel(), test, trainer.Config.MaxSegments);
            if (asJson)
                Shared.WriteJson(new Summary(trainer.Step, trainer.Examples, Math.Round(trainer.TrainSeconds, 1),
                    trainer.Model.ParameterCount(), Math.Round(eval.ExactAccuracy, 4), Math.Round(eval.CellAccuracy, 4),
                    Math.Round(eval.MeanHaltSegments, 2), eval.Count));
            else Console.WriteLine(FormattableString.Invariant(
                $"trained {trainer.Step:N0} steps ({trainer.Examples:N0} examples, {trainer.TrainSeconds / 60:F1} min); ") +
                FormattableString.Invariant($"held-out: {eval.ExactAccuracy:P1} exact, {eval.CellAccuracy:P1} of cells ") +
                FormattableString.Invariant($"({eval.Count} puzzles, {trainer.Config.MaxSegments} segments); ") +
                FormattableString.Invariant($"checkpoint {Path.Combine(o.OutDir, ReasoningRun.CheckpointFile)}"));
            return ExitCode.Success;
        });
        return train;

    }
}
