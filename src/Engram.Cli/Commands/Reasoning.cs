// What the reasoning commands (train, eval, solve, data, bench reasoning) share: the task argument, data defaults,
// loading a trained model and reading puzzle files.
using System.CommandLine;
using Engram.Learning;
using Engram.Models.Reasoning;
using Engram.Tasks;
using Engram.Tensors;
using Engram.Tensors.IO;

namespace Engram.Cli.Commands;

static class Reasoning
{
    public static readonly string[] ModelNames = ["hrm", "trm", "trm-mlp", "transformer"];

    /// <summary>The options that describe a data set (and its seed), defined once for train and bench reasoning.</summary>
    public sealed class DataOptions
    {
        public Option<ulong> Seed { get; } = Shared.Seed("Seed of the data, the weights and the sampling of examples.");
        public Option<string> Preset { get; } = Shared.ChoiceOption("--preset",
            "cpu (small; learns in minutes on 2 cores) or paper (published sizes)", "cpu", [.. ReasonerPresets.Names]);
        public Option<int> TrainSize { get; } =
            Shared.IntOption("--train-size", "Training puzzles (each seen under random augmentations).", 1000, 1, 10_000_000);
        public Option<int?> TestSize { get; } =
            Shared.OptionalInt("--test-size", "Held-out puzzles (default 500 for cpu, 1000 for paper).", 1, 10_000_000);
        public Option<int?> Size { get; } = Shared.OptionalInt("--size",
            "Sudoku digits (4, 6, 9, 16) or maze side (default: 6 / 12 with cpu, 9 / 30 with paper).", 1, 1024);
        public Option<string?> Difficulty { get; } = new("--difficulty")
        {
            Description = "Sudoku: easy, medium (minimal puzzles) or hard; maze: easy, hard (long shortest path) or a minimum path length."
        };

        public void AddTo(Command command)
        {
            foreach (var o in new Option[] { Preset, TrainSize, TestSize, Size, Difficulty, Seed }) command.Options.Add(o);
        }

        public PuzzleSpec Spec(ParseResult parse, PuzzleTask task) => DataSpec(task, parse.GetValue(Preset)!, parse.GetValue(Size),
            parse.GetValue(Difficulty), parse.GetValue(TrainSize), parse.GetValue(TestSize), parse.GetValue(Seed));
    }

    public static Argument<string> TaskArgument() => new("task") { Description = "sudoku or maze." };

    public static PuzzleTask ParseTask(string t) => t.ToLowerInvariant() switch
    {
        "sudoku" => PuzzleTask.Sudoku,
        "maze" => PuzzleTask.Maze,
        _ => throw new EngramException($"task '{t}' is not known (expected sudoku or maze)"),
    };

    /// <summary>Data defaults: the cpu preset learns 6×6 Sudoku with half the cells given and 12×12 mazes in minutes; the paper preset
    /// uses 9×9 hard Sudoku and 30×30 hard mazes as published.</summary>
    public static PuzzleSpec DataSpec(PuzzleTask task, string preset, int? size, string? difficulty, int trainSize, int? testSize,
        ulong seed)
    {
        bool cpu = preset == "cpu";
        int s = size ?? (task == PuzzleTask.Sudoku ? (cpu ? 6 : 9) : (cpu ? 12 : 30));
        string d = difficulty ?? (task == PuzzleTask.Sudoku && cpu ? "easy" : "hard");
        if (trainSize < 1) throw new EngramException($"--train-size {trainSize}: expected at least 1");
        int test = testSize ?? (cpu ? 500 : 1000);
        if (test < 1) throw new EngramException($"--test-size {test}: expected at least 1");
        if (task == PuzzleTask.Sudoku) SudokuShape.ForSize(s);
        else if (s < 5 || s > 64) throw new EngramException($"--size {s}: mazes from 5×5 to 64×64");
        var spec = new PuzzleSpec(task, s, d, trainSize, test, seed);
        spec.Validate();
        return spec;
    }

    public static (Reasoner Model, string Dir) LoadModel(string path)
    {
        string file = Directory.Exists(path) ? Path.Combine(path, ReasoningRun.CheckpointFile) : path;
        if (!File.Exists(file)) throw new EngramException($"{path}: no checkpoint there (expected a run folder written by `engram train`)");
        var (m, _) = ReasoningTrainer.LoadForEvaluation(file);
        return (m, Path.GetDirectoryName(Path.GetFullPath(file))!);
    }

    public static PuzzleSet ReadPuzzles(string file, PuzzleTask task)
    {
        if (file.EndsWith(".puzzles", StringComparison.OrdinalIgnoreCase)) return PuzzleSet.Load(file);
        if (task != PuzzleTask.Sudoku) throw new EngramException($"{file}: mazes are read from .puzzles files (see `engram data maze`)");
        var grids = SudokuText.ReadFile(file);
        if (grids.Count == 0) throw new EngramException($"{file}: no puzzles in the file");
        var solved = grids.Select((g, i) => SudokuSolver.Validate(g, $"{file} puzzle {i + 1}")).ToList();
        return PuzzleSet.FromSudoku(solved, Path.GetFileName(file));
    }
}
