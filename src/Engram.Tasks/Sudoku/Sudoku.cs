// Sudoku of any box shape (4×4 with 2×2 boxes, 6×6 with 2×3, 9×9 with 3×3, 16×16 with 4×4): the one-line text
// format, an exact solver that counts solutions and the guesses a backtracking search needs (the difficulty
// rating), a generator of unique-solution puzzles at a chosen difficulty, and the validity-preserving augmentations.
// A grid is a byte per cell in row-major order: 0 for a blank, 1..N for a digit.
using System.Numerics;
using Engram.Tensors;

namespace Engram.Tasks;

/// <summary>The shape of a Sudoku: boxes of BoxRows × BoxCols, so N = BoxRows·BoxCols digits, N×N cells.</summary>
public readonly record struct SudokuShape(int BoxRows, int BoxCols)
{
    public int N => BoxRows * BoxCols;
    public int Cells => N * N;
    public int Box(int row, int col) => row / BoxRows * BoxRows + col / BoxCols;
    public override string ToString() => $"{N}×{N}";

    public static readonly SudokuShape Four = new(2, 2), Six = new(2, 3), Nine = new(3, 3), Sixteen = new(4, 4);

    /// <summary>The usual shape for N digits (4, 6, 9 or 16).</summary>
    public static SudokuShape ForSize(int n) => n switch
    {
        4 => Four,
        6 => Six,
        9 => Nine,
        16 => Sixteen,
        _ => throw new EngramException($"Sudoku size {n} is not supported (expected 4, 6, 9 or 16)"),
    };

    /// <summary>The shape whose grid has this many cells (16, 36, 81 or 256).</summary>
    public static SudokuShape? ForCells(int cells) => cells switch { 16 => Four, 36 => Six, 81 => Nine, 256 => Sixteen, _ => null };
}

/// <summary>A puzzle and, once solved, its solution.</summary>
public sealed record SudokuPuzzle(SudokuShape Shape, byte[] Givens, byte[] Solution)
{
    public int GivenCount => Givens.Count(c => c != 0);
}

public static class SudokuText
{
    const string Digits16 = "123456789ABCDEFG";

    /// <summary>Parses one puzzle line: N² characters, '.' or '0' for a blank, digits 1..N (A–G for 10–16 in 16×16).
    /// `what` names the input in errors (e.g. "top95.txt line 3").</summary>
    public static byte[] Parse(string line, string what = "puzzle")
    {
        var text = line.Trim();
        var shape = SudokuShape.ForCells(text.Length)
            ?? throw new EngramException($"{what}: {text.Length} characters, expected 81 (9×9), 36 (6×6), 16 (4×4) or 256 (16×16): " +
                "one character per cell, '.' or '0' for blanks");
        var grid = new byte[text.Length];
        for (int i = 0; i < text.Length; i++)
        {
            char c = char.ToUpperInvariant(text[i]);
            int d = c is '.' or '0' ? 0 : Digits16.IndexOf(c) + 1;
            if (d < 0 || d > shape.N || (d == 0 && c is not ('.' or '0')))
                throw new EngramException($"{what}: character '{text[i]}' at position {i + 1} is not a blank ('.' or '0') or a digit " +
                    $"1–{Digits16[shape.N - 1]}");
            grid[i] = (byte)d;
        }
        return grid;
    }

    public static string Format(ReadOnlySpan<byte> grid)
    {
        var chars = new char[grid.Length];
        for (int i = 0; i < grid.Length; i++) chars[i] = grid[i] == 0 ? '.' : Digits16[grid[i] - 1];
        return new string(chars);
    }

    /// <summary>The grid drawn with box separators, one text line per row.</summary>
    public static string Draw(ReadOnlySpan<byte> grid, SudokuShape shape)
    {
        var rows = new List<string>();
        for (int r = 0; r < shape.N; r++)
        {
            var line = new System.Text.StringBuilder();
            for (int c = 0; c < shape.N; c++)
            {
                if (c > 0 && c % shape.BoxCols == 0) line.Append(" |");
                byte v = grid[r * shape.N + c];
                line.Append(' ').Append(v == 0 ? '.' : Digits16[v - 1]);
            }
            if (r > 0 && r % shape.BoxRows == 0) rows.Add(new string(line.ToString().Select(ch => ch == '|' ? '+' : '-').ToArray()));
            rows.Add(line.ToString());
        }
        return string.Join(Environment.NewLine, rows) + Environment.NewLine;
    }

    /// <summary>Reads a file of puzzles, one per line; '#' starts a comment line, blank lines are skipped.
    /// Every puzzle must have the same shape. Errors name the file and line.</summary>
    public static List<byte[]> ReadFile(string path)
    {
        if (!File.Exists(path)) throw new EngramException($"{path}: no such file");
        var result = new List<byte[]>();
        int lineNo = 0;
        foreach (var raw in File.ReadLines(path))
        {
            lineNo++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var grid = Parse(line, $"{path} line {lineNo}");
            if (result.Count > 0 && grid.Length != result[0].Length)
                throw new EngramException($"{path} line {lineNo}: {grid.Length} cells, but the file's first puzzle has {result[0].Length}");
            result.Add(grid);
        }
        return result;
    }
}

/// <summary>What the exact solver found: the number of solutions (capped at the limit asked for), the first
/// solution, and the effort the search needed to find it: guesses = search nodes with two or more candidates,
/// dead ends = cells found with no candidate (backtracks).</summary>
public readonly record struct SudokuSolveResult(int Solutions, byte[]? Solution, long Guesses, long DeadEnds);

/// <summary>Exact solver: depth-first search over the cell with the fewest candidates (bitmasks per row, column
/// and box). Deterministic; with a generator it tries candidates in random order (used to make random grids).</summary>
public sealed class SudokuSolver
{
    readonly SudokuShape _shape;
    readonly int _n;
    readonly uint[] _row, _col, _box;
    readonly byte[] _grid;
    readonly int[] _boxOf;
    int _solutions, _limit;
    long _guesses, _deadEnds, _nodeBudget;
    byte[]? _first;
    Generator? _rng;

    public SudokuSolver(SudokuShape shape)
    {
        _shape = shape; _n = shape.N;
        _row = new uint[_n]; _col = new uint[_n]; _box = new uint[_n];
        _grid = new byte[shape.Cells];
        _boxOf = new int[shape.Cells];
        for (int i = 0; i < shape.Cells; i++) _boxOf[i] = shape.Box(i / _n, i % _n);
    }

    /// <summary>True when the givens break no rule (no digit twice in a row, column or box; digits in 0..N).</summary>
    public static bool GivensConsistent(ReadOnlySpan<byte> grid, SudokuShape shape) => new SudokuSolver(shape).Load(grid);

    bool Load(ReadOnlySpan<byte> grid)
    {
        if (grid.Length != _shape.Cells) throw new EngramException($"Sudoku: {grid.Length} cells, expected {_shape.Cells} for {_shape}");
        Array.Clear(_row); Array.Clear(_col); Array.Clear(_box);
        for (int i = 0; i < grid.Length; i++)
        {
            int d = grid[i];
            _grid[i] = (byte)d;
            if (d == 0) continue;
            if (d > _n) return false;
            uint bit = 1u << (d - 1);
            int r = i / _n, c = i % _n, b = _boxOf[i];
            if (((_row[r] | _col[c] | _box[b]) & bit) != 0) return false;
            _row[r] |= bit; _col[c] |= bit; _box[b] |= bit;
        }
        return true;
    }

    /// <summary>Solves, counting solutions up to `limit` (2 decides uniqueness). Contradictory givens give 0 solutions.
    /// nodeBudget bounds the search (guesses); when exceeded the count is a lower bound and Solutions is -1.</summary>
    public SudokuSolveResult Solve(ReadOnlySpan<byte> grid, int limit = 2, Generator? randomOrder = null, long nodeBudget = long.MaxValue)
    {
        _solutions = 0; _limit = limit; _guesses = 0; _deadEnds = 0; _first = null; _rng = randomOrder; _nodeBudget = nodeBudget;
        if (!Load(grid)) return new SudokuSolveResult(0, null, 0, 0);
        long guessesAtFirst = 0, deadAtFirst = 0;
        bool complete = Search(ref guessesAtFirst, ref deadAtFirst);
        return new SudokuSolveResult(complete ? _solutions : -1, _first, _first is null ? _guesses : guessesAtFirst,
            _first is null ? _deadEnds : deadAtFirst);
    }

    // Returns false when the node budget ran out.
    bool Search(ref long guessesAtFirst, ref long deadAtFirst)
    {
        int best = -1, bestCount = int.MaxValue;
        uint full = _n == 32 ? uint.MaxValue : (1u << _n) - 1, bestMask = 0;
        for (int i = 0; i < _grid.Length; i++)
        {
            if (_grid[i] != 0) continue;
            uint mask = full & ~(_row[i / _n] | _col[i % _n] | _box[_boxOf[i]]);
            int count = BitOperations.PopCount(mask);
            if (count < bestCount) { best = i; bestCount = count; bestMask = mask; if (count <= 1) break; }
        }
        if (best < 0)
        {
            _solutions++;
            if (_first is null) { _first = (byte[])_grid.Clone(); guessesAtFirst = _guesses; deadAtFirst = _deadEnds; }
            return true;
        }
        if (bestCount == 0) { _deadEnds++; return true; }
        if (bestCount > 1 && ++_guesses > _nodeBudget) return false;
        Span<int> digits = stackalloc int[bestCount];
        for (int k = 0; k < bestCount; k++) { digits[k] = BitOperations.TrailingZeroCount(bestMask) + 1; bestMask &= bestMask - 1; }
        _rng?.Shuffle(digits);
        int r = best / _n, c = best % _n, b = _boxOf[best];
        foreach (var d in digits)
        {
            uint bit = 1u << (d - 1);
            _grid[best] = (byte)d; _row[r] |= bit; _col[c] |= bit; _box[b] |= bit;
            bool ok = Search(ref guessesAtFirst, ref deadAtFirst);
            _grid[best] = 0; _row[r] &= ~bit; _col[c] &= ~bit; _box[b] &= ~bit;
            if (!ok) return false;
            if (_solutions >= _limit) return true;
        }
        return true;
    }

    /// <summary>True when the grid is completely and correctly filled.</summary>
    public static bool IsSolved(ReadOnlySpan<byte> grid, SudokuShape shape)
    {
        if (grid.Length != shape.Cells) return false;
        foreach (var v in grid) if (v == 0) return false;
        return GivensConsistent(grid, shape);
    }

    /// <summary>Checks a user's puzzle: consistent givens and exactly one solution; returns the solution and rating.</summary>
    public static SudokuPuzzle Validate(byte[] grid, string what)
    {
        var shape = SudokuShape.ForCells(grid.Length) ?? throw new EngramException($"{what}: {grid.Length} cells is not a Sudoku size");
        var solver = new SudokuSolver(shape);
        if (!GivensConsistent(grid, shape))
            throw new EngramException($"{what}: contradictory givens (a digit appears twice in a row, column or box)");
        var r = solver.Solve(grid, 2, nodeBudget: 50_000_000);
        if (r.Solutions == 0) throw new EngramException($"{what}: has no solution");
        if (r.Solutions > 1) throw new EngramException($"{what}: has more than one solution (a Sudoku must have exactly one)");
        if (r.Solutions < 0) throw new EngramException($"{what}: the solver gave up deciding whether it has a unique solution");
        return new SudokuPuzzle(shape, grid, r.Solution!);
    }
}

public enum SudokuDifficulty { Easy, Medium, Hard }

/// <summary>Random puzzles with exactly one solution. Easy: about half the cells given. Medium: minimal puzzles (no
/// given can be removed without losing uniqueness). Hard: minimal puzzles the solver needs at least
/// HardGuesses(shape) guesses for. A seed fixes every puzzle.</summary>
public static class SudokuGenerator
{
    /// <summary>Guess count (this solver: fewest-candidates-first, no other deduction) from which a puzzle counts as
    /// hard. Random minimal 9×9 puzzles need a median of about 19; Norvig's top95 about 290.</summary>
    public static int HardGuesses(SudokuShape shape) => shape.N switch { <= 4 => 1, 6 => 3, 9 => 50, _ => 200 };

    /// <summary>A random complete valid grid.</summary>
    public static byte[] RandomSolution(SudokuShape shape, Generator rng)
        => new SudokuSolver(shape).Solve(new byte[shape.Cells], 1, rng).Solution!;

    public static SudokuPuzzle Generate(SudokuShape shape, Generator rng, SudokuDifficulty difficulty)
    {
        var solver = new SudokuSolver(shape);
        for (int attempt = 0; ; attempt++)
        {
            var solution = RandomSolution(shape, rng);
            var puzzle = (byte[])solution.Clone();
            int keep = difficulty == SudokuDifficulty.Easy ? (shape.Cells + 1) / 2 : 0;
            var order = Enumerable.Range(0, shape.Cells).ToArray();
            rng.Shuffle<int>(order);
            int givens = shape.Cells;
            foreach (var cell in order)
            {
                if (givens <= keep) break;
                var d = puzzle[cell];
                puzzle[cell] = 0;
                if (solver.Solve(puzzle, 2).Solutions != 1) puzzle[cell] = d;
                else givens--;
            }
            if (difficulty == SudokuDifficulty.Hard && solver.Solve(puzzle, 1).Guesses < HardGuesses(shape) && attempt < 10_000) continue;
            return new SudokuPuzzle(shape, puzzle, solution);
        }
    }
}

/// <summary>A symmetry of Sudoku: cell permutation (bands, stacks, rows within bands, columns within stacks,
/// transposition for square boxes) and digit relabelling. Applied to a puzzle and its solution alike, it keeps
/// the puzzle valid and its solution unique.</summary>
public sealed class SudokuAugmentation
{
    /// <summary>new[i] = old[SourceCell[i]], then digits mapped through DigitMap (DigitMap[0] = 0).</summary>
    public int[] SourceCell { get; }
    public byte[] DigitMap { get; }

    SudokuAugmentation(int[] sourceCell, byte[] digitMap) { SourceCell = sourceCell; DigitMap = digitMap; }

    public static SudokuAugmentation Identity(SudokuShape shape)
        => new(Enumerable.Range(0, shape.Cells).ToArray(), Enumerable.Range(0, shape.N + 1).Select(i => (byte)i).ToArray());

    static int[] Perm(int n, Generator rng)
    {
        var p = Enumerable.Range(0, n).ToArray();
        rng.Shuffle<int>(p);
        return p;
    }

    public static SudokuAugmentation Random(SudokuShape shape, Generator rng)
    {
        int n = shape.N;
        // Rows come in BoxCols bands of BoxRows rows; columns in BoxRows stacks of BoxCols columns.
        int[] Lines(int groups, int perGroup)
        {
            var groupOrder = Perm(groups, rng);
            var lines = new int[n];
            for (int g = 0; g < groups; g++)
            {
                var inner = Perm(perGroup, rng);
                for (int k = 0; k < perGroup; k++) lines[g * perGroup + k] = groupOrder[g] * perGroup + inner[k];
            }
            return lines;
        }
        var rows = Lines(shape.BoxCols, shape.BoxRows);
        var cols = Lines(shape.BoxRows, shape.BoxCols);
        bool transpose = shape.BoxRows == shape.BoxCols && rng.NextInt(2) == 1;
        var source = new int[shape.Cells];
        for (int r = 0; r < n; r++)
            for (int c = 0; c < n; c++)
            {
                int sr = rows[r], sc = cols[c];
                source[r * n + c] = transpose ? sc * n + sr : sr * n + sc;
            }
        var digits = new byte[n + 1];
        var dp = Perm(n, rng);
        for (int d = 1; d <= n; d++) digits[d] = (byte)(dp[d - 1] + 1);
        return new SudokuAugmentation(source, digits);
    }

    public byte[] Apply(ReadOnlySpan<byte> grid)
    {
        var result = new byte[grid.Length];
        for (int i = 0; i < result.Length; i++) result[i] = DigitMap[grid[SourceCell[i]]];
        return result;
    }

    /// <summary>Every line order of the group: rows (bands, then rows inside each band) or columns likewise.</summary>
    static List<int[]> AllLines(int groups, int perGroup)
    {
        static IEnumerable<int[]> Perms(int n)
        {
            if (n == 1) { yield return [0]; yield break; }
            foreach (var p in Perms(n - 1))
                for (int i = 0; i < n; i++) { var q = new List<int>(p); q.Insert(i, n - 1); yield return q.ToArray(); }
        }
        var result = new List<int[]>();
        var inner = Perms(perGroup).ToList();
        foreach (var order in Perms(groups))
        {
            var choice = new int[groups];
            while (true)
            {
                var lines = new int[groups * perGroup];
                for (int g = 0; g < groups; g++)
                    for (int k = 0; k < perGroup; k++) lines[g * perGroup + k] = order[g] * perGroup + inner[choice[g]][k];
                result.Add(lines);
                int d = 0;
                while (d < groups && ++choice[d] == inner.Count) choice[d++] = 0;
                if (d == groups) break;
            }
        }
        return result;
    }

    /// <summary>The exact canonical form of a puzzle under the whole augmentation group (the smallest grid over every
    /// line permutation and transposition, digits renumbered by first appearance), for shapes whose group of cell
    /// permutations is small enough to enumerate (4×4: 128, 6×6: 3,456); null for larger shapes.</summary>
    public static string? Canonical(ReadOnlySpan<byte> grid, SudokuShape shape)
    {
        var rowsAll = AllLines(shape.BoxCols, shape.BoxRows);
        var colsAll = AllLines(shape.BoxRows, shape.BoxCols);
        bool square = shape.BoxRows == shape.BoxCols;
        if ((long)rowsAll.Count * colsAll.Count * (square ? 2 : 1) > 10_000) return null;
        int n = shape.N;
        var best = new byte[grid.Length]; bool have = false;
        var candidate = new byte[grid.Length]; var relabel = new byte[n + 1];
        for (int t = 0; t < (square ? 2 : 1); t++)
            foreach (var rows in rowsAll)
                foreach (var cols in colsAll)
                {
                    Array.Clear(relabel); byte next = 1;
                    int cmp = have ? 0 : -1;
                    for (int r = 0; r < n; r++)
                        for (int c = 0; c < n; c++)
                        {
                            int src = t == 1 ? cols[c] * n + rows[r] : rows[r] * n + cols[c];
                            byte v = grid[src];
                            if (v != 0 && relabel[v] == 0) relabel[v] = next++;
                            byte w = relabel[v];
                            candidate[r * n + c] = w;
                            if (cmp == 0) cmp = w.CompareTo(best[r * n + c]);
                        }
                    if (cmp < 0) { (best, candidate) = (candidate, best); have = true; }
                }
        return Convert.ToBase64String(best);
    }

    /// <summary>A description invariant under every augmentation: givens per row and per column (as one sorted list,
    /// so transposition does not change it), per box (sorted), and how often each digit is given (sorted). Two
    /// puzzles that are augmentations of each other have equal signatures, so equal signatures are treated as
    /// possible duplicates when splitting train from test.</summary>
    public static string Signature(ReadOnlySpan<byte> grid, SudokuShape shape)
    {
        int n = shape.N;
        var lines = new int[2 * n]; var boxes = new int[n]; var digits = new int[n + 1];
        for (int i = 0; i < grid.Length; i++)
        {
            if (grid[i] == 0) continue;
            lines[i / n]++; lines[n + i % n]++; boxes[shape.Box(i / n, i % n)]++; digits[grid[i]]++;
        }
        Array.Sort(lines); Array.Sort(boxes); var d = digits[1..]; Array.Sort(d);
        return string.Join(",", lines) + "|" + string.Join(",", boxes) + "|" + string.Join(",", d);
    }
}
