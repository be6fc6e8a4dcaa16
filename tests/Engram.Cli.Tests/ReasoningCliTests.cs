// The reasoning commands end to end, as a user runs them: data, train (and resume), eval, solve, bench reasoning.
namespace Engram.Cli.Tests;

public sealed class ReasoningCliTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("engram-reasoning-cli").FullName;
    public void Dispose() { try { Directory.Delete(_dir, true); } catch (IOException) { } }

    static (int Code, string Out, string Err) Engram(params string[] args) => EngramProcess.Run(null, 300, args);

    const string Puzzle = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79";

    [Fact]
    public void TrainResumesEvaluatesAndSolves()
    {
        var run = Path.Combine(_dir, "run");
        string[] train = ["train", "sudoku", "--model", "trm", "--size", "4", "--difficulty", "easy", "--train-size", "30",
            "--test-size", "8", "--batch", "4", "--out", run, "--json"];
        var first = Engram([.. train, "--steps", "3"]);
        Assert.True(first.Code == 0, first.Err);
        Assert.Contains("\"steps\":3", first.Out);
        Assert.True(File.Exists(Path.Combine(run, "checkpoint.safetensors")));
        var again = Engram([.. train, "--steps", "5"]);
        Assert.True(again.Code == 0, again.Err);
        Assert.Contains("resuming at step 3", again.Err);
        Assert.Contains("\"steps\":5", again.Out);
        // Other settings in the same folder are refused rather than mixed.
        var other = Engram([.. train[..^1], "--seed", "2", "--steps", "6"]);
        Assert.Equal(2, other.Code);
        Assert.Contains("other settings", other.Err);

        var eval = Engram("eval", "sudoku", "--checkpoint", run, "--segments", "2", "--json");
        Assert.True(eval.Code == 0, eval.Err);
        var last = eval.Out.Trim().Split('\n')[^1];
        Assert.StartsWith("{\"exact_accuracy\":", last);
        Assert.Contains("\"count\":8", last);

        var solve = Engram("solve", "sudoku", "1...............", "--checkpoint", run);
        Assert.Equal(2, solve.Code); // several solutions: refused before the model runs
        Assert.Contains("more than one solution", solve.Err);
        var wrongSize = Engram("solve", "sudoku", Puzzle, "--checkpoint", run);
        Assert.Equal(2, wrongSize.Code);
        Assert.Contains("4×4", wrongSize.Err);
    }

    [Fact]
    public void SolveWithTheExactSolverAndBadPuzzles()
    {
        var ok = Engram("solve", "sudoku", Puzzle);
        Assert.True(ok.Code == 0, ok.Err);
        Assert.Contains("534678912672195348198342567859761423426853791713924856961537284287419635345286179", ok.Out);
        foreach (var (bad, message) in new[]
        {
            (Puzzle[..80], "80 characters"),
            (Puzzle[..10] + "x" + Puzzle[11..], "'x'"),
            ("55" + Puzzle[2..], "contradictory"),
            (new string('.', 81), "more than one solution"),
            ("12....3...4.....", "no solution"),
        })
        {
            var r = Engram("solve", "sudoku", bad);
            Assert.Equal(2, r.Code);
            Assert.Contains(message, r.Err);
        }
        Assert.Equal(2, Engram("solve", "maze", Puzzle).Code);
        Assert.Contains("no checkpoint", Engram("eval", "sudoku", "--checkpoint", Path.Combine(_dir, "missing")).Err);
    }

    [Fact]
    public void DataWritesPuzzlesThatEvalCanRead()
    {
        var text = Path.Combine(_dir, "p.txt");
        var r = Engram("data", "sudoku", "--count", "5", "--size", "9", "--difficulty", "medium", "--out", text);
        Assert.True(r.Code == 0, r.Err);
        var lines = File.ReadAllLines(text);
        Assert.Equal(5, lines.Length);
        Assert.All(lines, l => Assert.Equal(81, l.Length));
        var solved = Engram("solve", "sudoku", lines[0]);
        Assert.True(solved.Code == 0, solved.Err);
        var mazes = Path.Combine(_dir, "m.puzzles");
        Assert.Equal(0, Engram("data", "maze", "--count", "3", "--size", "11", "--out", mazes).Code);
        Assert.True(new FileInfo(mazes).Length > 3 * 121 * 2);
    }

    [Fact]
    public void QuickReasoningBenchPrintsATableAndAChart()
    {
        var png = Path.Combine(_dir, "r.png");
        var r = Engram("bench", "reasoning", "--quick", "--out", Path.Combine(_dir, "bench"), "--png", png, "--json");
        Assert.True(r.Code == 0, r.Err);
        var lines = r.Out.Trim().Split('\n');
        Assert.Equal(3, lines.Length);
        Assert.Contains("\"model\":\"transformer\"", lines[0]);
        Assert.Contains("\"model\":\"trm\"", lines[2]);
        Assert.Contains("\"exact_by_segments\":{\"1\":", lines[1]);
        Assert.True(new FileInfo(png).Length > 1000);
    }
}
