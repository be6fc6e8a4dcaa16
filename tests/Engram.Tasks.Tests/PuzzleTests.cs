using CsCheck;
using Engram.Tasks;
using Engram.Tensors;

namespace Engram.Tasks.Tests;

public class SudokuTests
{
    // A classic puzzle and its published solution (the Wikipedia example grid).
    const string Puzzle = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79";
    const string Solution = "534678912672195348198342567859761423426853791713924856961537284287419635345286179";

    [Fact]
    public void SolverFindsTheKnownSolution()
    {
        var r = new SudokuSolver(SudokuShape.Nine).Solve(SudokuText.Parse(Puzzle));
        Assert.Equal(1, r.Solutions);
        Assert.Equal(Solution, SudokuText.Format(r.Solution));
        Assert.True(SudokuSolver.IsSolved(r.Solution, SudokuShape.Nine));
    }

    [Fact]
    public void SolverCountsSeveralSolutionsAndNone()
    {
        Assert.Equal(2, new SudokuSolver(SudokuShape.Nine).Solve(new byte[81], 2).Solutions);
        var contradictory = SudokuText.Parse(Puzzle); contradictory[2] = 5; // a second 5 in row 1
        Assert.False(SudokuSolver.GivensConsistent(contradictory, SudokuShape.Nine));
        Assert.Equal(0, new SudokuSolver(SudokuShape.Nine).Solve(contradictory).Solutions);
        // Consistent givens, no solution: cell (1,3) sees 1 and 2 in its row, 3 and 4 in its column.
        var blocked = SudokuText.Parse("12....3...4.....");
        Assert.True(SudokuSolver.GivensConsistent(blocked, SudokuShape.Four));
        Assert.Equal(0, new SudokuSolver(SudokuShape.Four).Solve(blocked).Solutions);
        Assert.Contains("no solution", Assert.Throws<EngramException>(() => SudokuSolver.Validate(blocked, "p")).Message);
    }

    [Fact]
    public void HardPuzzlesNeedMoreGuessesThanEasyOnes()
    {
        var solver = new SudokuSolver(SudokuShape.Nine);
        Assert.Equal(0, solver.Solve(SudokuText.Parse(Puzzle)).Guesses); // solved by singles alone
        // Norvig's "hardest" puzzle (Arto Inkala): needs real search.
        var hard = SudokuText.Parse("8..........36......7..9.2...5...7.......457.....1...3...1....68..85...1..9....4..");
        var r = solver.Solve(hard);
        Assert.Equal(1, r.Solutions);
        Assert.True(r.Guesses > 10, $"guesses {r.Guesses}");
    }

    [Theory]
    [InlineData(4, SudokuDifficulty.Easy)]
    [InlineData(4, SudokuDifficulty.Medium)]
    [InlineData(6, SudokuDifficulty.Hard)]
    [InlineData(9, SudokuDifficulty.Medium)]
    [InlineData(9, SudokuDifficulty.Hard)]
    public void GeneratedPuzzlesHaveExactlyOneSolutionAndTheRequestedDifficulty(int n, SudokuDifficulty difficulty)
    {
        var shape = SudokuShape.ForSize(n);
        var rng = new Generator((ulong)n * 31 + (ulong)difficulty);
        var solver = new SudokuSolver(shape);
        for (int i = 0; i < 10; i++)
        {
            var p = SudokuGenerator.Generate(shape, rng, difficulty);
            var r = solver.Solve(p.Givens, 2);
            Assert.Equal(1, r.Solutions);
            Assert.Equal(p.Solution, r.Solution);
            for (int c = 0; c < shape.Cells; c++) Assert.True(p.Givens[c] == 0 || p.Givens[c] == p.Solution[c]);
            if (difficulty != SudokuDifficulty.Easy)
                for (int c = 0; c < shape.Cells; c++) // minimal: removing any given loses uniqueness
                {
                    if (p.Givens[c] == 0) continue;
                    var fewer = (byte[])p.Givens.Clone(); fewer[c] = 0;
                    Assert.Equal(2, solver.Solve(fewer, 2).Solutions);
                }
            if (difficulty == SudokuDifficulty.Hard) Assert.True(r.Guesses >= SudokuGenerator.HardGuesses(shape));
        }
    }

    [Fact]
    public void GenerationIsDeterministic()
    {
        var a = SudokuGenerator.Generate(SudokuShape.Nine, new Generator(7), SudokuDifficulty.Medium);
        var b = SudokuGenerator.Generate(SudokuShape.Nine, new Generator(7), SudokuDifficulty.Medium);
        Assert.Equal(a.Givens, b.Givens);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(6)]
    [InlineData(9)]
    public void AugmentationsKeepPuzzlesValidAndSolutionsUnique(int n)
    {
        var shape = SudokuShape.ForSize(n);
        var rng = new Generator(3);
        var solver = new SudokuSolver(shape);
        var p = SudokuGenerator.Generate(shape, rng, SudokuDifficulty.Medium);
        var signature = SudokuAugmentation.Signature(p.Givens, shape);
        var canonical = SudokuAugmentation.Canonical(p.Givens, shape);
        Assert.Equal(n == 9, canonical is null); // exact canonical forms only where the group is small
        bool changed = false;
        for (int i = 0; i < 50; i++)
        {
            var aug = SudokuAugmentation.Random(shape, rng);
            Assert.Equal(Enumerable.Range(0, shape.Cells), aug.SourceCell.Order()); // a permutation of the cells
            var givens = aug.Apply(p.Givens); var solution = aug.Apply(p.Solution);
            Assert.True(SudokuSolver.IsSolved(solution, shape));
            var r = solver.Solve(givens, 2);
            Assert.Equal(1, r.Solutions);
            Assert.Equal(solution, r.Solution);
            Assert.Equal(signature, SudokuAugmentation.Signature(givens, shape));
            Assert.Equal(canonical, SudokuAugmentation.Canonical(givens, shape));
            changed |= !givens.SequenceEqual(p.Givens);
        }
        Assert.True(changed);
        if (canonical is not null) // a different puzzle has a different form
            Assert.NotEqual(canonical,
                SudokuAugmentation.Canonical(SudokuGenerator.Generate(shape, new Generator(99), SudokuDifficulty.Easy).Givens, shape));
    }

    [Fact]
    public void ParserAcceptsDotsAndZerosAndRejectsBadLines()
    {
        Assert.Equal(SudokuText.Parse(Puzzle), SudokuText.Parse(Puzzle.Replace('.', '0')));
        var e = Assert.Throws<EngramException>(() => SudokuText.Parse(Puzzle[..80], "line 3"));
        Assert.Contains("line 3", e.Message); Assert.Contains("80 characters", e.Message);
        e = Assert.Throws<EngramException>(() => SudokuText.Parse(Puzzle[..40] + "x" + Puzzle[41..]));
        Assert.Contains("'x'", e.Message);
        Assert.Throws<EngramException>(() => SudokuText.Parse("1234123412347.12")); // 7 in a 4×4
        Gen.String.Sample(s =>
        {
            try { var g = SudokuText.Parse(s); Assert.NotNull(SudokuShape.ForCells(g.Length)); }
            catch (EngramException) { }
        }, iter: 2000);
    }

    [Fact]
    public void ValidateNamesWhatIsWrong()
    {
        var twice = SudokuText.Parse(Puzzle); twice[2] = 5;
        Assert.Contains("contradictory", Assert.Throws<EngramException>(() => SudokuSolver.Validate(twice, "p")).Message);
        Assert.Contains("more than one", Assert.Throws<EngramException>(() => SudokuSolver.Validate(new byte[81], "p")).Message);
        Assert.Equal(Solution, SudokuText.Format(SudokuSolver.Validate(SudokuText.Parse(Puzzle), "p").Solution));
    }

    [Fact]
    public void ReadsTheRealCollectionsWhenPresent()
    {
        var path = Path.Combine(FindShared(), "data", "sudoku", "norvig_top95.txt");
        if (!File.Exists(path)) return; // the shared data is optional
        var puzzles = SudokuText.ReadFile(path);
        Assert.Equal(95, puzzles.Count);
        foreach (var p in puzzles.Take(20)) Assert.Equal(1, new SudokuSolver(SudokuShape.Nine).Solve(p, 2).Solutions);
    }

    internal static string FindShared()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (Directory.Exists(Path.Combine(d.FullName, "shared", "data"))) return Path.Combine(d.FullName, "shared");
        return "/nonexistent";
    }
}

public class MazeTests
{
    [Theory]
    [InlineData(30)]
    [InlineData(12)]
    [InlineData(9)]
    public void GeneratedMazesHaveOneShortestPathOfTheRequestedLength(int side)
    {
        var rng = new Generator(5);
        int min = MazeGenerator.HardPathLength(side);
        for (int i = 0; i < 5; i++)
        {
            var m = MazeGenerator.Generate(side, rng, min);
            Assert.Equal(1, m.Grid.Count(c => c == MazeCell.Start));
            Assert.Equal(1, m.Grid.Count(c => c == MazeCell.Goal));
            Assert.True(m.PathLength >= min, $"path {m.PathLength} < {min}");
            Assert.True(MazeGenerator.IsShortestPath(m.Grid, m.Solution, side));
            int s = Array.IndexOf(m.Grid, MazeCell.Start), g = Array.IndexOf(m.Grid, MazeCell.Goal);
            Assert.Equal(m.PathLength, MazeGenerator.Distances(m.Grid, side, s)[g]);
        }
    }

    [Fact]
    public void HardMazesAt30HaveThePublishedThreshold() => Assert.Equal(110, MazeGenerator.HardPathLength(30));

    [Fact]
    public void AWrongPathIsRejected()
    {
        var m = MazeGenerator.Generate(15, new Generator(2), 10);
        var wrong = (byte[])m.Solution.Clone();
        int onPath = Array.IndexOf(wrong, MazeCell.Path);
        wrong[onPath] = MazeCell.Open; // a gap
        Assert.False(MazeGenerator.IsShortestPath(m.Grid, wrong, 15));
        var detour = (byte[])m.Solution.Clone();
        detour[Array.IndexOf(detour, MazeCell.Open)] = MazeCell.Path; // an extra cell
        Assert.False(MazeGenerator.IsShortestPath(m.Grid, detour, 15));
    }

    [Fact]
    public void DihedralTransformsAreTheEightSymmetriesAndKeepPathsValid()
    {
        var m = MazeGenerator.Generate(13, new Generator(9), 20);
        var seen = new HashSet<string>();
        var canonical = Dihedral.Canonical(m.Grid, 13);
        for (int t = 0; t < 8; t++)
        {
            var src = Dihedral.SourceCells(13, t);
            Assert.Equal(Enumerable.Range(0, 169), src.Order());
            var g = Dihedral.Apply(m.Grid, 13, t); var s = Dihedral.Apply(m.Solution, 13, t);
            Assert.True(MazeGenerator.IsShortestPath(g, s, 13));
            Assert.Equal(canonical, Dihedral.Canonical(g, 13));
            seen.Add(Convert.ToBase64String(g));
        }
        Assert.Equal(8, seen.Count); // a random maze has no symmetry of its own
    }
}

public class PuzzleSetTests
{
    [Fact]
    public void SplitsShareNoPuzzleUpToAugmentationAndAreDeterministic()
    {
        var spec = new PuzzleSpec(PuzzleTask.Sudoku, 6, "medium", 60, 40, 11);
        var (train, test) = spec.Make();
        var (train2, _) = spec.Make();
        Assert.Equal(60, train.Count); Assert.Equal(40, test.Count);
        Assert.Equal(train.Input(5).ToArray(), train2.Input(5).ToArray());
        var trainForms = Enumerable.Range(0, train.Count)
            .Select(i => SudokuAugmentation.Canonical(PuzzleSet.SudokuCells(train.Input(i)), SudokuShape.Six)).ToHashSet();
        for (int i = 0; i < test.Count; i++)
            Assert.DoesNotContain(SudokuAugmentation.Canonical(PuzzleSet.SudokuCells(test.Input(i)), SudokuShape.Six), trainForms);
        var (train9, test9) = new PuzzleSpec(PuzzleTask.Sudoku, 9, "medium", 30, 10, 11).Make();
        var trainSigs = Enumerable.Range(0, train9.Count)
            .Select(i => SudokuAugmentation.Signature(PuzzleSet.SudokuCells(train9.Input(i)), SudokuShape.Nine)).ToHashSet();
        for (int i = 0; i < test9.Count; i++)
            Assert.DoesNotContain(SudokuAugmentation.Signature(PuzzleSet.SudokuCells(test9.Input(i)), SudokuShape.Nine), trainSigs);

        // 4×4 Sudoku has few distinct minimal puzzles: asking for too many is an error, not an endless search.
        Assert.Contains("distinct",
            Assert.Throws<EngramException>(() => new PuzzleSpec(PuzzleTask.Sudoku, 4, "medium", 500, 100, 1).Make()).Message);
        var (mTrain, mTest) = new PuzzleSpec(PuzzleTask.Maze, 9, "hard", 20, 10, 3).Make();
        var canon = Enumerable.Range(0, mTrain.Count).Select(i => Dihedral.Canonical(mTrain.Input(i), 9)).ToHashSet();
        for (int i = 0; i < mTest.Count; i++) Assert.DoesNotContain(Dihedral.Canonical(mTest.Input(i), 9), canon);
    }

    [Fact]
    public void AugmentedExamplesStaySolved()
    {
        var (train, _) = new PuzzleSpec(PuzzleTask.Sudoku, 6, "medium", 5, 1, 2).Make();
        var rng = new Generator(1);
        for (int k = 0; k < 20; k++)
        {
            var (input, label) = train.Augmented(k % 5, rng);
            var cells = PuzzleSet.SudokuCells(label);
            Assert.True(SudokuSolver.IsSolved(cells, SudokuShape.Six));
            Assert.Equal(cells, new SudokuSolver(SudokuShape.Six).Solve(PuzzleSet.SudokuCells(input)).Solution);
        }
        var (mazes, _) = new PuzzleSpec(PuzzleTask.Maze, 11, "hard", 3, 1, 2).Make();
        for (int k = 0; k < 10; k++)
        {
            var (input, label) = mazes.Augmented(k % 3, rng);
            Assert.True(MazeGenerator.IsShortestPath(input, label, 11));
        }
    }

    [Fact]
    public void SavesAndLoadsExactlyAndRejectsCorruptFiles()
    {
        var dir = Directory.CreateTempSubdirectory("engram-puzzles");
        try
        {
            var (train, _) = new PuzzleSpec(PuzzleTask.Maze, 7, "easy", 10, 2, 4).Make();
            var path = Path.Combine(dir.FullName, "t.puzzles");
            train.Save(path);
            var back = PuzzleSet.Load(path);
            Assert.Equal(train.Count, back.Count); Assert.Equal(train.Description, back.Description);
            for (int i = 0; i < train.Count; i++)
            {
                Assert.Equal(train.Input(i).ToArray(), back.Input(i).ToArray());
                Assert.Equal(train.Label(i).ToArray(), back.Label(i).ToArray());
            }
            var bytes = File.ReadAllBytes(path);
            var rng = new Generator(8);
            for (int k = 0; k < 300; k++)
            {
                var bad = (byte[])bytes.Clone();
                if (k % 3 == 0) bad = bad[..rng.NextInt(bad.Length)];
                else bad[rng.NextInt(bad.Length)] ^= (byte)(1 + rng.NextInt(255));
                File.WriteAllBytes(path, bad);
                Assert.ThrowsAny<EngramException>(() => PuzzleSet.Load(path));
            }
        }
        finally { dir.Delete(true); }
    }
}
