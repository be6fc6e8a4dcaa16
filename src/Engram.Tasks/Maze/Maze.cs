// N×N mazes with a start and a goal; the label is the shortest path found by breadth-first search. Mazes are
// "perfect" (carved by a randomised depth-first search, so exactly one path joins any two open cells and the
// label is unambiguous). Hard mazes have a shortest path longer than a threshold (110 steps at 30×30, as in the
// HRM maze set). Dihedral augmentations (rotations, reflections) keep a maze and its path valid.
using Engram.Tensors;

namespace Engram.Tasks;

public static class MazeCell
{
    // Token ids shared with the models: 0 is padding.
    public const byte Wall = 1, Open = 2, Start = 3, Goal = 4, Path = 5;
    public const int Vocabulary = 6;
    const string Chars = "?# SGo";
    public static char ToChar(byte cell) => cell < Chars.Length ? Chars[cell] : '?';
    public static byte FromChar(char c)
        => c switch { '#' => Wall, ' ' or '.' => Open, 'S' => Start, 'G' => Goal, 'o' or '*' => Path, _ => 0 };
}

/// <summary>A maze (cells Wall/Open/Start/Goal, row-major) and its solution (the same with the shortest path marked).</summary>
public sealed record MazePuzzle(int Side, byte[] Grid, byte[] Solution)
{
    public int PathLength => Solution.Count(c => c == MazeCell.Path) + 1;

    public static string Draw(ReadOnlySpan<byte> grid, int side)
    {
        var sb = new System.Text.StringBuilder();
        for (int r = 0; r < side; r++)
        {
            for (int c = 0; c < side; c++) sb.Append(MazeCell.ToChar(grid[r * side + c]));
            sb.AppendLine();
        }
        return sb.ToString();
    }
}

public static class MazeGenerator
{
    /// <summary>Shortest-path length above which a maze counts as hard: 110 at 30×30 (the HRM set), scaled with the area.</summary>
    public static int HardPathLength(int side) => (int)Math.Round(110.0 * side * side / 900);

    /// <summary>A perfect maze on an N×N grid (N ≥ 5) with start and goal at least minPath steps apart.</summary>
    public static MazePuzzle Generate(int side, Generator rng, int minPath)
    {
        if (side < 5) throw new EngramException($"maze side {side} is too small (expected at least 5)");
        for (int attempt = 0; ; attempt++)
        {
            var grid = Carve(side, rng);
            var open = Enumerable.Range(0, grid.Length).Where(i => grid[i] == MazeCell.Open).ToArray();
            int start = open[rng.NextInt(open.Length)];
            var dist = Distances(grid, side, start);
            var far = open.Where(i => dist[i] >= minPath).ToArray();
            if (far.Length == 0)
            {
                if (attempt > 1000)
                    throw new EngramException($"no {side}×{side} maze has a path of {minPath} steps; ask for a shorter one");
                continue;
            }
            int goal = far[rng.NextInt(far.Length)];
            grid[start] = MazeCell.Start; grid[goal] = MazeCell.Goal;
            return new MazePuzzle(side, grid, Solve(grid, side) ?? throw new InvalidOperationException("carved maze is not connected"));
        }
    }

    // Randomised depth-first carving over the cells at odd coordinates; the walls between them open as it goes.
    static byte[] Carve(int side, Generator rng)
    {
        var grid = new byte[side * side];
        Array.Fill(grid, MazeCell.Wall);
        int cellsPerSide = (side - 1) / 2;
        var stack = new Stack<(int R, int C)>();
        var visited = new bool[cellsPerSide, cellsPerSide];
        int sr = rng.NextInt(cellsPerSide), sc = rng.NextInt(cellsPerSide);
        visited[sr, sc] = true; grid[(2 * sr + 1) * side + 2 * sc + 1] = MazeCell.Open;
        stack.Push((sr, sc));
        Span<(int, int)> moves = stackalloc (int, int)[4];
        while (stack.Count > 0)
        {
            var (r, c) = stack.Peek();
            int count = 0;
            if (r > 0 && !visited[r - 1, c]) moves[count++] = (-1, 0);
            if (r + 1 < cellsPerSide && !visited[r + 1, c]) moves[count++] = (1, 0);
            if (c > 0 && !visited[r, c - 1]) moves[count++] = (0, -1);
            if (c + 1 < cellsPerSide && !visited[r, c + 1]) moves[count++] = (0, 1);
            if (count == 0) { stack.Pop(); continue; }
            var (dr, dc) = moves[rng.NextInt(count)];
            int nr = r + dr, nc = c + dc;
            visited[nr, nc] = true;
            grid[(2 * r + 1 + dr) * side + 2 * c + 1 + dc] = MazeCell.Open;
            grid[(2 * nr + 1) * side + 2 * nc + 1] = MazeCell.Open;
            stack.Push((nr, nc));
        }
        return grid;
    }

    /// <summary>The cells above, below, left and right of cell i (−1 where the grid ends), written into `into` (length 4).</summary>
    static Span<int> Neighbours(int i, int side, Span<int> into)
    {
        int r = i / side, c = i % side;
        into[0] = r > 0 ? i - side : -1; into[1] = r + 1 < side ? i + side : -1;
        into[2] = c > 0 ? i - 1 : -1; into[3] = c + 1 < side ? i + 1 : -1;
        return into;
    }

    /// <summary>Breadth-first distances from one cell over non-wall cells (-1 where unreachable).</summary>
    public static int[] Distances(ReadOnlySpan<byte> grid, int side, int from)
    {
        var dist = new int[grid.Length];
        Array.Fill(dist, -1);
        var queue = new Queue<int>();
        Span<int> around = stackalloc int[4];
        dist[from] = 0; queue.Enqueue(from);
        while (queue.Count > 0)
        {
            int i = queue.Dequeue();
            foreach (var j in Neighbours(i, side, around))
                if (j >= 0 && dist[j] < 0 && grid[j] != MazeCell.Wall) { dist[j] = dist[i] + 1; queue.Enqueue(j); }
        }
        return dist;
    }

    /// <summary>The grid with one shortest start→goal path marked (neighbours tried up, down, left, right), or null
    /// when there is no path or not exactly one start and one goal.</summary>
    public static byte[]? Solve(ReadOnlySpan<byte> grid, int side)
    {
        int start = grid.IndexOf(MazeCell.Start), goal = grid.IndexOf(MazeCell.Goal);
        if (start < 0 || goal < 0 || grid.LastIndexOf(MazeCell.Start) != start || grid.LastIndexOf(MazeCell.Goal) != goal) return null;
        var dist = Distances(grid, side, goal);
        if (dist[start] < 0) return null;
        var solution = grid.ToArray();
        Span<int> around = stackalloc int[4];
        for (int i = start; i != goal;)
        {
            int next = -1;
            foreach (var j in Neighbours(i, side, around))
                if (j >= 0 && dist[j] == dist[i] - 1) { next = j; break; }
            i = next;
            if (i != goal) solution[i] = MazeCell.Path;
        }
        return solution;
    }

    /// <summary>True when `answer` is the maze with a valid shortest start→goal path marked (any shortest path counts).</summary>
    public static bool IsShortestPath(ReadOnlySpan<byte> grid, ReadOnlySpan<byte> answer, int side)
    {
        if (answer.Length != grid.Length) return false;
        int pathCells = 0;
        for (int i = 0; i < grid.Length; i++)
        {
            if (answer[i] == MazeCell.Path) { if (grid[i] != MazeCell.Open) return false; pathCells++; }
            else if (answer[i] != grid[i]) return false;
        }
        int start = grid.IndexOf(MazeCell.Start), goal = grid.IndexOf(MazeCell.Goal);
        if (start < 0 || goal < 0) return false;
        var dist = Distances(grid, side, start);
        if (dist[goal] != pathCells + 1) return false;
        // The marked cells must connect start to goal.
        var walk = answer.ToArray();
        for (int i = 0; i < walk.Length; i++) if (walk[i] == MazeCell.Open) walk[i] = MazeCell.Wall;
        return Distances(walk, side, start)[goal] == pathCells + 1;
    }
}

/// <summary>The 8 symmetries of a square grid: k quarter turns, then an optional mirror.</summary>
public static class Dihedral
{
    /// <summary>new[i] = old[Source(i)] for transform t in 0..7.</summary>
    public static int[] SourceCells(int side, int t)
    {
        var src = new int[side * side];
        for (int r = 0; r < side; r++)
            for (int c = 0; c < side; c++)
            {
                int rr = r, cc = t >= 4 ? side - 1 - c : c;
                for (int k = 0; k < t % 4; k++) (rr, cc) = (cc, side - 1 - rr);
                src[r * side + c] = rr * side + cc;
            }
        return src;
    }

    public static byte[] Apply(ReadOnlySpan<byte> grid, int side, int t)
    {
        var src = SourceCells(side, t);
        var result = new byte[grid.Length];
        for (int i = 0; i < result.Length; i++) result[i] = grid[src[i]];
        return result;
    }

    /// <summary>The smallest of the 8 transformed grids (as text): equal for a grid and any of its rotations/reflections.</summary>
    public static string Canonical(ReadOnlySpan<byte> grid, int side)
    {
        string? best = null;
        for (int t = 0; t < 8; t++)
        {
            var s = Convert.ToBase64String(Apply(grid, side, t));
            if (best is null || string.CompareOrdinal(s, best) < 0) best = s;
        }
        return best!;
    }
}
