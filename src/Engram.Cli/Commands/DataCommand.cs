// `engram data sudoku|maze`: puzzles from a seed (unique-solution Sudoku at a difficulty, mazes with shortest paths).
using System.CommandLine;
using Engram.Tasks;
using Engram.Tensors;
using Engram.Tensors.IO;

using static Engram.Cli.Commands.Reasoning;

namespace Engram.Cli.Commands;

static class DataCommand
{
    public static Command Create()
    {
        var seed = Shared.Seed("Seed of the data, the weights and the sampling of examples.");
        var dataTask = TaskArgument();
        var count = Shared.IntOption("--count", "Puzzles to make.", 100, 1, 10_000_000);
        var dataSize = Shared.OptionalInt("--size", "Sudoku digits (4, 6, 9, 16; default 9) or maze side (default 30).", 1, 1024);
        var dataDifficulty = new Option<string?>("--difficulty")
        {
            Description = "Sudoku: easy, medium, hard (default); maze: easy, hard (default) or a minimum path length."
        };
        var dataOut = new Option<string>("--out")
        {
            Description = "Output: a .puzzles file (inputs and solutions), or text (Sudoku one per line; mazes drawn).",
            Required = true
        };
        var data = new Command("data", "Make puzzles (unique-solution Sudoku at a difficulty, mazes with shortest paths) from a seed.")
            { dataTask, count, dataSize, dataDifficulty, seed, dataOut };
        data.SetAction(parse =>
        {
            var t = ParseTask(parse.GetValue(dataTask)!);
            var path = Shared.CheckOutput(parse.GetValue(dataOut)!, null);
            int n = parse.GetValue(count);
            if (n < 1) throw new EngramException("--count: expected at least 1");
            var spec = DataSpec(t, "paper", parse.GetValue(dataSize), parse.GetValue(dataDifficulty), n, 1, parse.GetValue(seed));
            var set = (spec with { TestCount = 0 }).MakeAll();
            if (path.EndsWith(".puzzles", StringComparison.OrdinalIgnoreCase)) set.Save(path);
            else AtomicFile.WriteAllBytes(path, System.Text.Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, set.Count)
                .Select(i => t == PuzzleTask.Sudoku
                    ? SudokuText.Format(PuzzleSet.SudokuCells(set.Input(i))) + "\n"
                    : MazePuzzle.Draw(set.Input(i), set.Size).Replace("\r", "") + "\n"))));
            Console.WriteLine($"wrote {set.Count:N0} puzzles ({spec.Describe()}) to {path}");
            return ExitCode.Success;
        });
        return data;

    }
}
