// `engram train`, `engram eval`, `engram solve`, `engram data` and `engram bench reasoning`: the recursive reasoning
// models (HRM, TRM, direct Transformer) on Sudoku and mazes from the command line.
using System.CommandLine;
using System.Globalization;
using Engram.Bench;
using Engram.Learning;
using Engram.Models.Reasoning;
using Engram.Tasks;
using Engram.Tensors;
using Engram.Tensors.IO;

namespace Engram.Cli;

static class ReasoningCommands
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    static Argument<string> TaskArgument() => new("task") { Description = "sudoku or maze." };
    static PuzzleTask ParseTask(string t) => t.ToLowerInvariant() switch
    {
        "sudoku" => PuzzleTask.Sudoku, "maze" => PuzzleTask.Maze,
        _ => throw new EngramException($"task '{t}' is not known (expected sudoku or maze)"),
    };

    /// <summary>Data defaults: the cpu preset learns 6×6 Sudoku with half the cells given and 12×12 mazes in minutes; the paper preset
    /// uses 9×9 hard Sudoku and 30×30 hard mazes as published.</summary>
    public static PuzzleSpec DataSpec(PuzzleTask task, string preset, int? size, string? difficulty, int trainSize, int? testSize, ulong seed)
    {
        bool cpu = preset == "cpu";
        int s = size ?? (task == PuzzleTask.Sudoku ? (cpu ? 6 : 9) : (cpu ? 12 : 30));
        string d = difficulty ?? (task == PuzzleTask.Sudoku && cpu ? "easy" : "hard");
        if (trainSize < 1) throw new EngramException($"--train-size {trainSize}: expected at least 1");
        int test = testSize ?? (cpu ? 500 : 1000);
        if (test < 1) throw new EngramException($"--test-size {test}: expected at least 1");
        if (task == PuzzleTask.Sudoku) SudokuShape.ForSize(s);
        else if (s < 5 || s > 64) throw new EngramException($"--size {s}: mazes from 5×5 to 64×64");
        return new PuzzleSpec(task, s, d, trainSize, test, seed);
    }

    public static void Add(RootCommand root, Command bench, Func<ParseResult, Func<int>, int> guarded)
    {
        var threads = new Option<int?>("--threads") { Description = "Threads for kernels (default: all cores); results do not depend on it." };
        var json = new Option<bool>("--json") { Description = "Machine-readable output: progress and the summary as JSON lines." };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the data, the weights and the sampling of examples.", DefaultValueFactory = _ => 1 };

        // ---- train
        var task = TaskArgument();
        var model = new Option<string>("--model") { Description = "hrm, trm, trm-mlp or transformer.", DefaultValueFactory = _ => "trm" };
        var preset = new Option<string>("--preset") { Description = "cpu (small; learns in minutes on 2 cores) or paper (published sizes).", DefaultValueFactory = _ => "cpu" };
        var trainSize = new Option<int>("--train-size") { Description = "Training puzzles (each seen under random augmentations).", DefaultValueFactory = _ => 1000 };
        var testSize = new Option<int?>("--test-size") { Description = "Held-out puzzles (default 500 for cpu, 1000 for paper)." };
        var size = new Option<int?>("--size") { Description = "Sudoku digits (4, 6, 9, 16) or maze side (default: 6 / 12 with cpu, 9 / 30 with paper)." };
        var difficulty = new Option<string?>("--difficulty") { Description = "Sudoku: easy, medium (minimal puzzles) or hard; maze: easy, hard (long shortest path) or a minimum path length." };
        var steps = new Option<long?>("--steps") { Description = "Optimizer steps in total (default 5,000 for cpu, 50,000 for paper)." };
        var minutes = new Option<double?>("--minutes") { Description = "Train for this many minutes in total instead." };
        var outDir = new Option<string?>("--out") { Description = "Run folder (default runs/TASK-MODEL-PRESET); re-running the same command there resumes." };
        var batch = new Option<int?>("--batch") { Description = "Override the preset's batch size." };
        var lr = new Option<double?>("--lr") { Description = "Override the preset's learning rate." };
        var train = new Command("train", "Train HRM, TRM or the direct Transformer on Sudoku or mazes (deep supervision, adaptive halting).")
            { task, model, preset, trainSize, testSize, size, difficulty, steps, minutes, outDir, seed, batch, lr, json, threads };
        train.SetAction(parse => guarded(parse, () =>
        {
            SetThreads(parse, threads);
            var t = ParseTask(parse.GetValue(task)!);
            var p = parse.GetValue(preset)!;
            ReasonerPresets.CheckName(p);
            var kind = ReasonerPresets.ParseKind(parse.GetValue(model)!);
            if (parse.GetValue(steps) is < 1) throw new EngramException("--steps: expected at least 1");
            if (parse.GetValue(minutes) is <= 0) throw new EngramException("--minutes: expected a positive number");
            var o = new ReasoningRunOptions
            {
                Data = DataSpec(t, p, parse.GetValue(size), parse.GetValue(difficulty), parse.GetValue(trainSize), parse.GetValue(testSize), parse.GetValue(seed)),
                Kind = kind, Preset = p, Steps = parse.GetValue(steps), Minutes = parse.GetValue(minutes), Seed = parse.GetValue(seed),
                OutDir = parse.GetValue(outDir) ?? Path.Combine("runs", $"{t.ToString().ToLowerInvariant()}-{ReasonerPresets.KindName(kind)}-{p}"),
                Batch = parse.GetValue(batch), LearningRate = parse.GetValue(lr),
            };
            bool asJson = parse.GetValue(json);
            double last = -100;
            bool announced = false;
            var (trainer, test) = ReasoningRun.Train(o, (s, tr, eta) =>
            {
                if (!announced)
                {
                    announced = true;
                    if (!asJson) Console.Error.WriteLine($"training {ReasonerPresets.KindName(kind)} ({p}, {tr.Model.ParameterCount():N0} parameters, batch {tr.Config.Batch}, up to {tr.Config.MaxSegments} segments) on {o.Data.Describe()}; run folder {o.OutDir}");
                }
                if (tr.TrainSeconds - last < (asJson ? 10 : 2)) return;
                last = tr.TrainSeconds;
                double rate = s.Step / Math.Max(tr.TrainSeconds, 1e-9);
                string etaText = double.IsFinite(eta) ? $"{eta:F0} s" : "?";
                Console.Error.WriteLine(asJson
                    ? FormattableString.Invariant($"{{\"step\":{s.Step},\"loss\":{s.Loss:F5},\"lm_loss\":{s.LmLoss:F5},\"train_cell_accuracy\":{s.CellAccuracy:F4},\"train_exact_accuracy\":{s.ExactAccuracy:F4},\"steps_per_second\":{rate:F3},\"eta_seconds\":{(double.IsFinite(eta) ? eta : -1):F0}}}")
                    : FormattableString.Invariant($"step {s.Step,7:N0}  loss {s.Loss:F4}  train cells {s.CellAccuracy,6:P1}  grids {s.ExactAccuracy,6:P1}  segments {s.MeanSegments:F1}  {rate:F2} steps/s  ETA {etaText}"));
            }, m => Console.Error.WriteLine(m));
            var eval = ReasoningTrainer.Evaluate(trainer.EvaluationModel(), test, trainer.Config.MaxSegments);
            if (asJson) Console.WriteLine(FormattableString.Invariant($"{{\"steps\":{trainer.Step},\"examples\":{trainer.Examples},\"train_seconds\":{trainer.TrainSeconds:F1},\"parameters\":{trainer.Model.ParameterCount()},\"exact_accuracy\":{eval.ExactAccuracy:F4},\"cell_accuracy\":{eval.CellAccuracy:F4},\"mean_segments\":{eval.MeanHaltSegments:F2},\"count\":{eval.Count}}}"));
            else Console.WriteLine(FormattableString.Invariant($"trained {trainer.Step:N0} steps ({trainer.Examples:N0} examples, {trainer.TrainSeconds / 60:F1} min); held-out: {eval.ExactAccuracy:P1} exact, {eval.CellAccuracy:P1} of cells ({eval.Count} puzzles, {trainer.Config.MaxSegments} segments); checkpoint {Path.Combine(o.OutDir, ReasoningRun.CheckpointFile)}"));
            return 0;
        }));
        root.Subcommands.Add(train);

        // ---- eval
        var evalTask = TaskArgument();
        var checkpoint = new Option<string>("--checkpoint") { Description = "Run folder written by `engram train` (or its checkpoint file).", Required = true };
        var puzzles = new Option<string?>("--puzzles") { Description = "Puzzles to score: a .puzzles file, or Sudoku one per line (solutions found by the exact solver). Default: the run's held-out set." };
        var segments = new Option<int?>("--segments") { Description = "Segments of thinking (default: the model's maximum)." };
        var limit = new Option<int?>("--limit") { Description = "Score only the first N puzzles." };
        var eval = new Command("eval", "Exact-match and per-cell accuracy of a trained model, by number of segments, and where halting stops.") { evalTask, checkpoint, puzzles, segments, limit, json, threads };
        eval.SetAction(parse => guarded(parse, () =>
        {
            SetThreads(parse, threads);
            var t = ParseTask(parse.GetValue(evalTask)!);
            var (m, dir) = LoadModel(parse.GetValue(checkpoint)!);
            var file = parse.GetValue(puzzles);
            var set = file is null ? PuzzleSet.Load(Path.Combine(dir, ReasoningRun.TestFile)) : ReadPuzzles(file, t);
            if (set.Task != t) throw new EngramException($"the puzzles are {set.Task.ToString().ToLowerInvariant()}, not {t.ToString().ToLowerInvariant()}");
            if (parse.GetValue(limit) is int n)
            {
                if (n < 1) throw new EngramException("--limit: expected at least 1");
                set = set.Slice(0, Math.Min(n, set.Count));
            }
            int segs = parse.GetValue(segments) ?? m.Config.MaxSegments;
            if (segs < 1) throw new EngramException("--segments: expected at least 1");
            bool asJson = parse.GetValue(json);
            double last = 0; var sw = System.Diagnostics.Stopwatch.StartNew();
            var r = ReasoningTrainer.Evaluate(m, set, segs, progress: (done, total) =>
            {
                if (asJson || sw.Elapsed.TotalSeconds - last < 2) return;
                last = sw.Elapsed.TotalSeconds;
                Console.Error.WriteLine($"  {done:N0} / {total:N0} puzzles, ETA {(total - done) * sw.Elapsed.TotalSeconds / done:F0} s");
            });
            if (!asJson)
            {
                Console.WriteLine($"{r.Count:N0} puzzles ({set.Description}), model {ReasonerPresets.KindName(m.Config.Kind)} ({m.Config.Preset})");
                Console.WriteLine($"{"segments",9}{"exact",9}{"cells",9}");
                for (int k = 1; k <= segs; k *= 2) Console.WriteLine(FormattableString.Invariant($"{k,9}{r.ExactBySegment[k - 1],9:P1}{r.CellBySegment[k - 1],9:P1}"));
                if ((segs & (segs - 1)) != 0) Console.WriteLine(FormattableString.Invariant($"{segs,9}{r.ExactAccuracy,9:P1}{r.CellAccuracy,9:P1}"));
                Console.WriteLine(FormattableString.Invariant($"with halting: {r.HaltedExactAccuracy:P1} exact after {r.MeanHaltSegments:F2} segments on average"));
            }
            Console.WriteLine(FormattableString.Invariant($"{{\"exact_accuracy\":{r.ExactAccuracy:F4},\"cell_accuracy\":{r.CellAccuracy:F4},\"mean_segments\":{r.MeanHaltSegments:F2},\"halted_exact_accuracy\":{r.HaltedExactAccuracy:F4},\"segments\":{segs},\"count\":{r.Count}}}"));
            return 0;
        }));
        root.Subcommands.Add(eval);

        // ---- solve
        var solveTask = TaskArgument();
        var puzzle = new Argument<string>("puzzle") { Description = "The puzzle on one line: 81 (or 16, 36, 256) characters, '.' or '0' for blanks." };
        var solveCheckpoint = new Option<string?>("--checkpoint") { Description = "Run folder of a trained model; without it the exact solver answers." };
        var solveSegments = new Option<int?>("--segments") { Description = "Most segments to think (default: the model's maximum)." };
        var solve = new Command("solve", "Answer one Sudoku with a trained model (or the exact solver) and check the answer.") { solveTask, puzzle, solveCheckpoint, solveSegments, threads };
        solve.SetAction(parse => guarded(parse, () =>
        {
            SetThreads(parse, threads);
            if (ParseTask(parse.GetValue(solveTask)!) != PuzzleTask.Sudoku) throw new EngramException("solve: only sudoku puzzles can be given on the command line");
            var grid = SudokuText.Parse(parse.GetValue(puzzle)!, "puzzle");
            var p = SudokuSolver.Validate(grid, "puzzle");
            var ck = parse.GetValue(solveCheckpoint);
            if (ck is null)
            {
                var r = new SudokuSolver(p.Shape).Solve(grid);
                Console.Write(SudokuText.Draw(p.Solution, p.Shape));
                Console.WriteLine($"exact solver: unique solution, {r.Guesses} guesses, {r.DeadEnds} dead ends ({p.GivenCount} givens)");
                Console.WriteLine(SudokuText.Format(p.Solution));
                return 0;
            }
            var (m, _) = LoadModel(ck);
            if (m.Config.SeqLen != p.Shape.Cells) throw new EngramException($"the model in {ck} answers {Math.Sqrt(m.Config.SeqLen)}×{Math.Sqrt(m.Config.SeqLen)} grids, the puzzle is {p.Shape}");
            var tokens = PuzzleSet.SudokuTokens(grid);
            var (answer, used) = ReasoningTrainer.Answer(m, tokens, parse.GetValue(solveSegments) ?? m.Config.MaxSegments);
            var cells = PuzzleSet.SudokuCells(answer);
            bool keepsGivens = Enumerable.Range(0, grid.Length).All(i => grid[i] == 0 || grid[i] == cells[i]);
            bool valid = keepsGivens && SudokuSolver.IsSolved(cells, p.Shape);
            int wrong = Enumerable.Range(0, grid.Length).Count(i => cells[i] != p.Solution[i]);
            Console.Write(SudokuText.Draw(cells, p.Shape));
            Console.WriteLine($"thought for {used} segment{(used == 1 ? "" : "s")}; {(valid ? "the exact solver confirms the answer" : $"wrong: {wrong} of {grid.Length} cells differ from the solution")}");
            Console.WriteLine(SudokuText.Format(cells));
            return valid ? 0 : 1;
        }));
        root.Subcommands.Add(solve);

        // ---- data
        var dataTask = TaskArgument();
        var count = new Option<int>("--count") { Description = "Puzzles to make.", DefaultValueFactory = _ => 100 };
        var dataSize = new Option<int?>("--size") { Description = "Sudoku digits (4, 6, 9, 16; default 9) or maze side (default 30)." };
        var dataDifficulty = new Option<string?>("--difficulty") { Description = "Sudoku: easy, medium, hard (default); maze: easy, hard (default) or a minimum path length." };
        var dataOut = new Option<string>("--out") { Description = "Output: a .puzzles file (inputs and solutions), or text (Sudoku one per line; mazes drawn).", Required = true };
        var data = new Command("data", "Make puzzles (unique-solution Sudoku at a difficulty, mazes with shortest paths) from a seed.") { dataTask, count, dataSize, dataDifficulty, seed, dataOut };
        data.SetAction(parse => guarded(parse, () =>
        {
            var t = ParseTask(parse.GetValue(dataTask)!);
            int n = parse.GetValue(count);
            if (n < 1) throw new EngramException("--count: expected at least 1");
            var spec = DataSpec(t, "paper", parse.GetValue(dataSize), parse.GetValue(dataDifficulty), n, 1, parse.GetValue(seed));
            var set = (spec with { TestCount = 0 }).MakeAll();
            var path = parse.GetValue(dataOut)!;
            if (path.EndsWith(".puzzles", StringComparison.OrdinalIgnoreCase)) set.Save(path);
            else AtomicFile.WriteAllBytes(path, System.Text.Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, set.Count).Select(i => t == PuzzleTask.Sudoku
                ? SudokuText.Format(PuzzleSet.SudokuCells(set.Input(i))) + "\n"
                : MazePuzzle.Draw(set.Input(i), set.Size).Replace("\r", "") + "\n"))));
            Console.WriteLine($"wrote {set.Count:N0} puzzles ({spec.Describe()}) to {path}");
            return 0;
        }));
        root.Subcommands.Add(data);

        // ---- bench reasoning
        var benchTask = new Option<string>("--task") { Description = "sudoku or maze.", DefaultValueFactory = _ => "sudoku" };
        var benchModels = new Option<string>("--models") { Description = "Comma-separated models.", DefaultValueFactory = _ => "transformer,hrm,trm" };
        var benchSteps = new Option<long>("--steps") { Description = "Optimizer steps for every model, all at the same batch size.", DefaultValueFactory = _ => 5000 };
        var benchOut = new Option<string>("--out") { Description = "Folder for the runs (each resumable).", DefaultValueFactory = _ => Path.Combine("runs", "bench-reasoning") };
        var benchPng = new Option<string>("--png") { Description = "Where to write the chart.", DefaultValueFactory = _ => "reasoning.png" };
        var benchQuick = new Option<bool>("--quick") { Description = "100 easy training puzzles (6×6 Sudoku or 9×9 mazes), 20 test, 30 steps (a smoke test, not a measurement)." };
        var reasoning = new Command("reasoning", "Direct Transformer vs HRM vs TRM at equal parameters and training examples: held-out exact accuracy by segments of thinking.")
            { benchTask, benchModels, preset, trainSize, testSize, size, difficulty, benchSteps, benchOut, benchPng, seed, json, benchQuick, threads };
        reasoning.SetAction(parse => guarded(parse, () =>
        {
            SetThreads(parse, threads);
            var t = ParseTask(parse.GetValue(benchTask)!);
            bool quick = parse.GetValue(benchQuick);
            var p = parse.GetValue(preset)!;
            ReasonerPresets.CheckName(p);
            var spec = quick ? DataSpec(t, p, t == PuzzleTask.Sudoku ? 6 : 9, "easy", 100, 20, parse.GetValue(seed))
                : DataSpec(t, p, parse.GetValue(size), parse.GetValue(difficulty), parse.GetValue(trainSize), parse.GetValue(testSize), parse.GetValue(seed));
            var o = new ReasoningBench.Options
            {
                Data = spec, Preset = p, Steps = quick ? 30 : parse.GetValue(benchSteps), OutDir = parse.GetValue(benchOut)!, Seed = parse.GetValue(seed),
                Models = parse.GetValue(benchModels)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(ReasonerPresets.ParseKind).ToArray(),
            };
            if (o.Steps < 1) throw new EngramException("--steps: expected at least 1");
            bool asJson = parse.GetValue(json);
            var results = ReasoningBench.Run(o, m => Console.Error.WriteLine(m), r => { if (asJson) Console.WriteLine(ReasoningBench.Json(r)); });
            var png = parse.GetValue(benchPng)!;
            ReasoningBench.Plot(results, png, $"held-out exact accuracy, {spec.Describe()}");
            if (!asJson) { Console.WriteLine($"{spec.Describe()}: {spec.TrainCount:N0} training puzzles, {spec.TestCount:N0} held out; {o.Steps:N0} steps each, preset {p}"); Console.Write(ReasoningBench.Table(results)); Console.WriteLine($"chart written to {png}"); }
            return 0;
        }));
        bench.Subcommands.Add(reasoning);

        // ---- bench reasoning-step
        var stepModel = new Option<string>("--model") { Description = "hrm, trm, trm-mlp or transformer.", DefaultValueFactory = _ => "hrm" };
        var stepPreset = new Option<string>("--preset") { Description = "cpu or paper.", DefaultValueFactory = _ => "paper" };
        var stepTask = new Option<string>("--task") { Description = "sudoku (9×9) or maze (30×30).", DefaultValueFactory = _ => "sudoku" };
        var stepBatch = new Option<int>("--batch") { Description = "Batch size.", DefaultValueFactory = _ => 16 };
        var stepCount = new Option<int>("--steps") { Description = "Timed steps (after one warm-up step).", DefaultValueFactory = _ => 2 };
        var step = new Command("reasoning-step", "Parameters, time and peak memory of one training step (one segment with its loss, backward and Adam-atan2 update) of a reasoning model; run one model per process so the peak is its own.")
            { stepModel, stepPreset, stepTask, stepBatch, stepCount, json, threads };
        step.SetAction(parse => guarded(parse, () =>
        {
            SetThreads(parse, threads);
            var t = ParseTask(parse.GetValue(stepTask)!);
            var p = parse.GetValue(stepPreset)!;
            ReasonerPresets.CheckName(p);
            var kind = ReasonerPresets.ParseKind(parse.GetValue(stepModel)!);
            int batchSize = parse.GetValue(stepBatch), timed = parse.GetValue(stepCount);
            if (batchSize < 1 || timed < 1) throw new EngramException("--batch and --steps: expected at least 1");
            var data = (t == PuzzleTask.Sudoku ? new PuzzleSpec(t, 9, "medium", 4, 1, 1) : new PuzzleSpec(t, 30, "hard", 4, 1, 1)).Make().Train;
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
            if (parse.GetValue(json)) Console.WriteLine(FormattableString.Invariant($"{{\"model\":\"{name}\",\"preset\":\"{p}\",\"task\":\"{t.ToString().ToLowerInvariant()}\",\"parameters\":{trainer.Model.ParameterCount()},\"batch\":{batchSize},\"seconds_per_step\":{seconds:F3},\"peak_working_set_bytes\":{peak},\"threads\":{Engine.MaxThreads}}}"));
            else Console.WriteLine(FormattableString.Invariant($"{name} ({p}, {t.ToString().ToLowerInvariant()}): {trainer.Model.ParameterCount():N0} parameters; one training step at batch {batchSize}: {seconds:F2} s; peak working set {peak / 1048576.0:F0} MiB ({Engine.MaxThreads} threads)"));
            return 0;
        }));
        bench.Subcommands.Add(step);
    }

    static void SetThreads(ParseResult parse, Option<int?> threads)
    {
        if (parse.GetValue(threads) is int t)
        {
            if (t < 1) throw new EngramException("--threads: expected at least 1");
            Engine.MaxThreads = t;
        }
    }

    static (Reasoner Model, string Dir) LoadModel(string path)
    {
        string file = Directory.Exists(path) ? Path.Combine(path, ReasoningRun.CheckpointFile) : path;
        if (!File.Exists(file)) throw new EngramException($"{path}: no checkpoint there (expected a run folder written by `engram train`)");
        var (m, _) = ReasoningTrainer.LoadForEvaluation(file);
        return (m, Path.GetDirectoryName(Path.GetFullPath(file))!);
    }

    static PuzzleSet ReadPuzzles(string file, PuzzleTask task)
    {
        if (file.EndsWith(".puzzles", StringComparison.OrdinalIgnoreCase)) return PuzzleSet.Load(file);
        if (task != PuzzleTask.Sudoku) throw new EngramException($"{file}: mazes are read from .puzzles files (see `engram data maze`)");
        var grids = SudokuText.ReadFile(file);
        if (grids.Count == 0) throw new EngramException($"{file}: no puzzles in the file");
        var solved = grids.Select((g, i) => SudokuSolver.Validate(g, $"{file} puzzle {i + 1}")).ToList();
        return PuzzleSet.FromSudoku(solved, Path.GetFileName(file));
    }
}
