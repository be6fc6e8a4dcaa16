// Puzzle data sets for the reasoning models: inputs and labels as token grids, made deterministically from a seed
// with train and test splits that share no puzzle up to augmentation, and cached on disk.
//
// Tokens. Sudoku: 0 pad, 1 blank, 2..N+1 the digits 1..N (vocabulary N + 2 = 11 for 9×9). Mazes: 0 pad, 1 wall,
// 2 open, 3 start, 4 goal, 5 path (vocabulary 6). Labels use the same tokens (the solved grid).
//
// File format (".puzzles", little-endian): the 8 bytes "ENGRPZ1\n"; int32 length of a UTF-8 JSON header
// {"task","size","count","seq_len","vocab","description"}; count×seq_len input bytes; count×seq_len label bytes;
// CRC-32C (uint32) of everything before it.
using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Engram.Tensors;
using Engram.Tensors.IO;

namespace Engram.Tasks;

public enum PuzzleTask { Sudoku, Maze }

public sealed class PuzzleSet
{
    static readonly byte[] Magic = "ENGRPZ1\n"u8.ToArray();

    public PuzzleTask Task { get; }
    /// <summary>Digits N for Sudoku (4, 6, 9, 16); side for mazes.</summary>
    public int Size { get; }
    public int Count { get; }
    public int SeqLen { get; }
    public int Vocab { get; }
    public string Description { get; }
    readonly byte[] _inputs, _labels;

    public PuzzleSet(PuzzleTask task, int size, byte[] inputs, byte[] labels, string description = "")
    {
        Task = task; Size = size; Description = description;
        SeqLen = size * size;
        Vocab = task == PuzzleTask.Sudoku ? size + 2 : MazeCell.Vocabulary;
        if (task == PuzzleTask.Sudoku) SudokuShape.ForSize(size);
        if (inputs.Length != labels.Length || inputs.Length % SeqLen != 0)
            throw new EngramException($"puzzle set: {inputs.Length} input and {labels.Length} label tokens for grids of {SeqLen}");
        foreach (var t in inputs)
            if (t >= Vocab) throw new EngramException($"puzzle set: input token {t} outside the vocabulary of {Vocab}");
        foreach (var t in labels)
            if (t >= Vocab) throw new EngramException($"puzzle set: label token {t} outside the vocabulary of {Vocab}");
        _inputs = inputs; _labels = labels; Count = inputs.Length / SeqLen;
    }

    public ReadOnlySpan<byte> Input(int i) => _inputs.AsSpan(i * SeqLen, SeqLen);
    public ReadOnlySpan<byte> Label(int i) => _labels.AsSpan(i * SeqLen, SeqLen);

    public static PuzzleSet FromSudoku(IReadOnlyList<SudokuPuzzle> puzzles, string description = "")
    {
        if (puzzles.Count == 0) throw new EngramException("puzzle set: no puzzles");
        int n = puzzles[0].Shape.N, cells = n * n;
        var inputs = new byte[puzzles.Count * cells]; var labels = new byte[inputs.Length];
        for (int p = 0; p < puzzles.Count; p++)
        {
            if (puzzles[p].Shape.N != n)
                throw new EngramException($"puzzle set: puzzle {p + 1} is {puzzles[p].Shape}, the first is {puzzles[0].Shape}");
            SudokuTokens(puzzles[p].Givens).CopyTo(inputs, p * cells);
            SudokuTokens(puzzles[p].Solution).CopyTo(labels, p * cells);
        }
        return new PuzzleSet(PuzzleTask.Sudoku, n, inputs, labels, description);
    }

    public static PuzzleSet FromMazes(IReadOnlyList<MazePuzzle> mazes, string description = "")
    {
        if (mazes.Count == 0) throw new EngramException("puzzle set: no mazes");
        int side = mazes[0].Side, cells = side * side;
        var inputs = new byte[mazes.Count * cells]; var labels = new byte[inputs.Length];
        for (int p = 0; p < mazes.Count; p++)
        {
            if (mazes[p].Side != side)
                throw new EngramException($"puzzle set: maze {p + 1} is {mazes[p].Side}×{mazes[p].Side}, the first is {side}×{side}");
            mazes[p].Grid.CopyTo(inputs, p * cells); mazes[p].Solution.CopyTo(labels, p * cells);
        }
        return new PuzzleSet(PuzzleTask.Maze, side, inputs, labels, description);
    }

    /// <summary>Puzzles start..start+count−1 as a new set.</summary>
    public PuzzleSet Slice(int start, int count, string? description = null)
    {
        if (start < 0 || count < 0 || start + count > Count)
            throw new EngramException($"puzzle set: puzzles {start}..{start + count} of {Count}");
        return new PuzzleSet(Task, Size, _inputs.AsSpan(start * SeqLen, count * SeqLen).ToArray(),
            _labels.AsSpan(start * SeqLen, count * SeqLen).ToArray(), description ?? Description);
    }

    /// <summary>Sudoku tokens from cells (0 blank → 1, digit d → d + 1).</summary>
    public static byte[] SudokuTokens(ReadOnlySpan<byte> cells)
    {
        var tokens = new byte[cells.Length];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = (byte)(cells[i] + 1);
        return tokens;
    }

    /// <summary>Sudoku cells (0 blank, 1..N) from tokens.</summary>
    public static byte[] SudokuCells(ReadOnlySpan<byte> tokens)
    {
        var cells = new byte[tokens.Length];
        for (int i = 0; i < cells.Length; i++) cells[i] = (byte)Math.Max(0, tokens[i] - 1);
        return cells;
    }

    /// <summary>Puzzle i under a random augmentation (Sudoku: digit relabelling, line permutations, transposition;
    /// maze: one of the 8 dihedral transforms).</summary>
    public (byte[] Input, byte[] Label) Augmented(int i, Generator rng)
    {
        if (Task == PuzzleTask.Sudoku)
        {
            var aug = SudokuAugmentation.Random(SudokuShape.ForSize(Size), rng);
            // Tokens are digits shifted by one; map through the digit permutation in cell space.
            byte[] Map(ReadOnlySpan<byte> tokens)
            {
                var r = new byte[SeqLen];
                for (int k = 0; k < SeqLen; k++)
                {
                    int t = tokens[aug.SourceCell[k]];
                    r[k] = t <= 1 ? (byte)t : (byte)(aug.DigitMap[t - 1] + 1);
                }
                return r;
            }
            return (Map(Input(i)), Map(Label(i)));
        }
        int transform = rng.NextInt(8);
        return (Dihedral.Apply(Input(i), Size, transform), Dihedral.Apply(Label(i), Size, transform));
    }

    public void Save(string path) => AtomicFile.Write(path, s =>
    {
        var header = new JsonObject
        {
            ["task"] = Task.ToString().ToLowerInvariant(), ["size"] = Size, ["count"] = Count,
            ["seq_len"] = SeqLen, ["vocab"] = Vocab, ["description"] = Description
        };
        var h = Encoding.UTF8.GetBytes(header.ToJsonString());
        using var ms = new MemoryStream();
        ms.Write(Magic);
        Span<byte> b4 = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(b4, h.Length); ms.Write(b4);
        ms.Write(h); ms.Write(_inputs); ms.Write(_labels);
        BinaryPrimitives.WriteUInt32LittleEndian(b4, Crc32C.Compute(ms.GetBuffer().AsSpan(0, (int)ms.Length))); ms.Write(b4);
        ms.Position = 0; ms.CopyTo(s);
    });

    public static PuzzleSet Load(string path)
    {
        if (!File.Exists(path)) throw new EngramException($"{path}: no such file");
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 16 || !bytes.AsSpan(0, 8).SequenceEqual(Magic))
            throw new InvalidFileException($"{path}: not an Engram puzzle file (bad magic)");
        if (Crc32C.Compute(bytes.AsSpan(0, bytes.Length - 4)) != BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(bytes.Length - 4)))
            throw new InvalidFileException($"{path}: checksum mismatch (the file is corrupt or truncated)");
        int hl = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8));
        if (hl <= 0 || 12L + hl > bytes.Length - 4) throw new InvalidFileException($"{path}: header length {hl} does not fit the file");
        try
        {
            var header = JsonNode.Parse(bytes.AsSpan(12, hl))!.AsObject();
            var task = (string?)header["task"] switch
            {
                "sudoku" => PuzzleTask.Sudoku,
                "maze" => PuzzleTask.Maze,
                var t => throw new InvalidFileException($"{path}: unknown task '{t}'")
            };
            int size = (int)header["size"]!, count = (int)header["count"]!;
            long cells = (long)size * size * count;
            if (size <= 0 || count < 0 || 12L + hl + 2 * cells + 4 != bytes.Length)
                throw new InvalidFileException($"{path}: {count} grids of {size}×{size} do not match the file length");
            var inputs = bytes.AsSpan(12 + hl, (int)cells).ToArray();
            var labels = bytes.AsSpan(12 + hl + (int)cells, (int)cells).ToArray();
            return new PuzzleSet(task, size, inputs, labels, (string?)header["description"] ?? "");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or NullReferenceException
            or ArgumentException)
        {
            throw new InvalidFileException($"{path}: invalid header ({e.Message})");
        }
        catch (EngramException e) when (e is not InvalidFileException) { throw new InvalidFileException($"{path}: {e.Message}"); }
    }
}

/// <summary>How to make a data set: task, size, difficulty, counts and seed. The same spec always gives the same sets.</summary>
public sealed record PuzzleSpec(PuzzleTask Task, int Size, string Difficulty, int TrainCount, int TestCount, ulong Seed)
{
    public static PuzzleSpec Default(PuzzleTask task) => task == PuzzleTask.Sudoku
        ? new(task, 9, "hard", 1000, 1000, 1) : new(task, 30, "hard", 1000, 1000, 1);

    /// <summary>Checks the difficulty before any puzzle is made (an EngramException names what is wrong).</summary>
    public void Validate()
    {
        if (Task == PuzzleTask.Sudoku) SudokuLevel(); else MazeMinPath();
    }

    SudokuDifficulty SudokuLevel() => Difficulty switch
    {
        "easy" => SudokuDifficulty.Easy,
        "medium" => SudokuDifficulty.Medium,
        "hard" => SudokuDifficulty.Hard,
        _ => throw new EngramException($"Sudoku difficulty '{Difficulty}' is not known (expected easy, medium or hard)"),
    };

    int MazeMinPath() => Difficulty switch
    {
        "easy" => 1,
        "hard" => MazeGenerator.HardPathLength(Size),
        _ => int.TryParse(Difficulty, out var m) && m > 0 ? m
            : throw new EngramException($"maze difficulty '{Difficulty}' is not known (expected easy, hard or a minimum path length)"),
    };

    public string Describe() => $"{Task.ToString().ToLowerInvariant()} {Size}×{Size} {Difficulty}, seed {Seed}";

    /// <summary>Train and test sets; no test puzzle equals a training puzzle under any augmentation (Sudoku: the exact
    /// canonical form up to 6×6; at 9×9 and above, puzzles with equal augmentation-invariant signatures are skipped;
    /// mazes: equal canonical dihedral forms are skipped).
    /// progress(done, total) is called as puzzles are made.</summary>
    public (PuzzleSet Train, PuzzleSet Test) Make(Action<int, int>? progress = null)
    {
        if (TrainCount < 1 || TestCount < 1)
            throw new EngramException($"puzzle split: {TrainCount} training and {TestCount} test puzzles (expected at least one of each)");
        var all = MakeAll(progress);
        return (all.Slice(0, TrainCount, Describe() + ", train"), all.Slice(TrainCount, TestCount, Describe() + ", test"));
    }

    /// <summary>TrainCount + TestCount distinct puzzles (up to augmentation) in one set.</summary>
    public PuzzleSet MakeAll(Action<int, int>? progress = null)
    {
        var rng = new Generator(Seed);
        var seen = new HashSet<string>();
        int total = TrainCount + TestCount, rejected = 0;
        void Duplicate(int have)
        {
            if (++rejected > 2000 + 20 * total)
                throw new EngramException($"{Describe()}: only {have} puzzles distinct up to augmentation were found, {total} asked for; " +
                    "ask for fewer or a larger size");
        }
        if (Task == PuzzleTask.Sudoku)
        {
            var shape = SudokuShape.ForSize(Size);
            var level = SudokuLevel();
            var all = new List<SudokuPuzzle>();
            while (all.Count < total)
            {
                var p = SudokuGenerator.Generate(shape, rng, level);
                if (!seen.Add(SudokuAugmentation.Canonical(p.Givens, shape) ?? SudokuAugmentation.Signature(p.Givens, shape)))
                {
                    Duplicate(all.Count);
                    continue;
                }
                all.Add(p); progress?.Invoke(all.Count, total);
            }
            return PuzzleSet.FromSudoku(all, Describe());
        }
        int minPath = MazeMinPath();
        var mazes = new List<MazePuzzle>();
        while (mazes.Count < total)
        {
            var m = MazeGenerator.Generate(Size, rng, minPath);
            if (!seen.Add(Dihedral.Canonical(m.Grid, Size))) { Duplicate(mazes.Count); continue; }
            mazes.Add(m); progress?.Invoke(mazes.Count, total);
        }
        return PuzzleSet.FromMazes(mazes, Describe());
    }
}
