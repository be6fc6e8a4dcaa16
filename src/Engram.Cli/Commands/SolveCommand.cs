// `engram solve sudoku PUZZLE`: one puzzle answered by a trained model (or the exact solver) and checked; exit code 1
// when the model's answer is wrong.
using System.CommandLine;
using Engram.Models.Reasoning;
using Engram.Tasks;
using Engram.Tensors;
using Engram.Tensors.IO;

using static Engram.Cli.Commands.Reasoning;

namespace Engram.Cli.Commands;

static class SolveCommand
{
    public static Command Create()
    {
        var solveTask = TaskArgument();
        var puzzle = new Argument<string>("puzzle")
        {
            Description = "The puzzle on one line: 81 (or 16, 36, 256) characters, '.' or '0' for blanks."
        };
        var solveCheckpoint = new Option<string?>("--checkpoint")
        {
            Description = "Run folder of a trained model; without it the exact solver answers."
        };
        var solveSegments = Shared.OptionalInt("--segments", "Most segments to think (default: the model's maximum).", 1, 1024);
        var solve = new Command("solve", "Answer one Sudoku with a trained model (or the exact solver) and check the answer.")
            { solveTask, puzzle, solveCheckpoint, solveSegments, Shared.Threads };
        solve.SetAction(parse =>
        {
            Shared.ApplyThreads(parse, Environment.ProcessorCount);
            if (ParseTask(parse.GetValue(solveTask)!) != PuzzleTask.Sudoku)
                throw new EngramException("solve: only sudoku puzzles can be given on the command line");
            var grid = SudokuText.Parse(parse.GetValue(puzzle)!, "puzzle");
            var p = SudokuSolver.Validate(grid, "puzzle");
            var ck = parse.GetValue(solveCheckpoint);
            if (ck is null)
            {
                var r = new SudokuSolver(p.Shape).Solve(grid);
                Console.Write(SudokuText.Draw(p.Solution, p.Shape));
                Console.WriteLine($"exact solver: unique solution, {r.Guesses} guesses, {r.DeadEnds} dead ends ({p.GivenCount} givens)");
                Console.WriteLine(SudokuText.Format(p.Solution));
                return ExitCode.Success;
            }
            var (m, _) = LoadModel(ck);
            if (m.Config.SeqLen != p.Shape.Cells)
                throw new EngramException(
                    $"the model in {ck} answers {Math.Sqrt(m.Config.SeqLen)}×{Math.Sqrt(m.Config.SeqLen)} grids, the puzzle is {p.Shape}");
            var tokens = PuzzleSet.SudokuTokens(grid);
            var (answer, used) = AdaptiveComputation.Answer(m, tokens, parse.GetValue(solveSegments) ?? m.Config.MaxSegments);
            var cells = PuzzleSet.SudokuCells(answer);
            bool keepsGivens = Enumerable.Range(0, grid.Length).All(i => grid[i] == 0 || grid[i] == cells[i]);
            bool valid = keepsGivens && SudokuSolver.IsSolved(cells, p.Shape);
            int wrong = Enumerable.Range(0, grid.Length).Count(i => cells[i] != p.Solution[i]);
            Console.Write(SudokuText.Draw(cells, p.Shape));
            Console.WriteLine($"thought for {used} segment{(used == 1 ? "" : "s")}; " +
                $"{(valid ? "the exact solver confirms the answer" : $"wrong: {wrong} of {grid.Length} cells differ from the solution")}");
            Console.WriteLine(SudokuText.Format(cells));
            return valid ? ExitCode.Success : ExitCode.WrongAnswer;
        });
        return solve;

    }
}
