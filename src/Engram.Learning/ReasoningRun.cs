// A training run of a reasoning model in one folder, so that re-running the same command resumes it:
//   run.json                the task, model, preset, seed and budget the run was started with
//   train.puzzles, test.puzzles   the data (made once from the seed, see PuzzleSet)
//   checkpoint.safetensors  everything needed to continue bit for bit (ReasoningTrainer.Save), written atomically
using System.Diagnostics;
using System.Text.Json.Nodes;
using Engram.Models.Reasoning;
using Engram.Tasks;
using Engram.Tensors;
using Engram.Tensors.IO;

namespace Engram.Learning;

public sealed record ReasoningRunOptions
{
    public required PuzzleSpec Data { get; init; }
    public ReasonerKind Kind { get; init; } = ReasonerKind.Trm;
    public string Preset { get; init; } = "cpu";
    /// <summary>Stop after this many optimizer steps in total (over every resumption)…</summary>
    public long? Steps { get; init; }
    /// <summary>…or after this many minutes of training in total.</summary>
    public double? Minutes { get; init; }
    public required string OutDir { get; init; }
    public ulong Seed { get; init; } = 1;
    /// <summary>Overrides of the preset (null: the preset's value).</summary>
    public int? Batch { get; init; }
    public double? LearningRate { get; init; }
    /// <summary>Seconds between checkpoints.</summary>
    public double CheckpointSeconds { get; init; } = 60;

    public long DefaultSteps => Preset == "paper" ? 50_000 : 5_000;
}

public static class ReasoningRun
{
    public const string CheckpointFile = "checkpoint.safetensors";
    public const string TestFile = "test.puzzles";
    public const string TrainFile = "train.puzzles";

    /// <summary>The data of a run: read from the folder when it is there (and made from the same spec), otherwise made and saved.</summary>
    public static (PuzzleSet Train, PuzzleSet Test) Data(PuzzleSpec spec, string dir, Action<string>? log = null)
    {
        string trainPath = Path.Combine(dir, TrainFile), testPath = Path.Combine(dir, TestFile);
        if (File.Exists(trainPath) && File.Exists(testPath))
        {
            var train = PuzzleSet.Load(trainPath); var test = PuzzleSet.Load(testPath);
            if (train.Description != spec.Describe() + ", train")
                throw new EngramException($"{dir} holds data for '{train.Description}', not '{spec.Describe()}'; use another run folder");
            return (train, test);
        }
        log?.Invoke($"making {spec.TrainCount:N0} training and {spec.TestCount:N0} test puzzles ({spec.Describe()}) ...");
        var sw = Stopwatch.StartNew();
        double last = 0;
        var (tr, te) = spec.Make((done, total) =>
        {
            if (sw.Elapsed.TotalSeconds - last < 2) return;
            last = sw.Elapsed.TotalSeconds;
            log?.Invoke($"  {done:N0} / {total:N0} puzzles, ETA {(total - done) * sw.Elapsed.TotalSeconds / done:F0} s");
        });
        tr.Save(trainPath); te.Save(testPath);
        return (tr, te);
    }

    public static ReasonerConfig Configure(ReasoningRunOptions o, PuzzleSet train)
    {
        var c = ReasonerPresets.Get(o.Kind, o.Preset, train.Vocab, train.SeqLen, train.Task == PuzzleTask.Maze) with { Seed = o.Seed };
        if (o.Batch is int b) c = c with { Batch = b };
        if (o.LearningRate is double lr) c = c with { LearningRate = lr };
        c.Validate();
        return c;
    }

    static JsonObject Describe(ReasoningRunOptions o) => new()
    {
        ["task"] = o.Data.Task.ToString().ToLowerInvariant(), ["size"] = o.Data.Size, ["difficulty"] = o.Data.Difficulty,
        ["train_size"] = o.Data.TrainCount, ["test_size"] = o.Data.TestCount, ["data_seed"] = o.Data.Seed,
        ["model"] = ReasonerPresets.KindName(o.Kind), ["preset"] = o.Preset, ["seed"] = o.Seed, ["batch"] = o.Batch,
        ["lr"] = o.LearningRate,
    };

    /// <summary>Trains (or resumes) until the step or time budget is spent, checkpointing as it goes; returns the trainer
    /// and the run's held-out set. onProgress gets each step's statistics, the trainer and the estimated seconds left.</summary>
    public static (ReasoningTrainer Trainer, PuzzleSet Test) Train(ReasoningRunOptions o,
        Action<ReasoningStepStats, ReasoningTrainer, double>? onProgress = null, Action<string>? log = null)
    {
        Directory.CreateDirectory(o.OutDir);
        var runPath = Path.Combine(o.OutDir, "run.json");
        var describe = Describe(o);
        if (File.Exists(runPath))
        {
            JsonNode? previous;
            try { previous = JsonNode.Parse(File.ReadAllText(runPath)); }
            catch (System.Text.Json.JsonException) { throw new InvalidFileException($"{runPath}: not valid JSON"); }
            if (!JsonNode.DeepEquals(previous, describe))
                throw new EngramException($"{o.OutDir} holds a run started with other settings ({previous?.ToJsonString()}); " +
                    "use the same settings to resume it, or another run folder");
        }
        var (train, test) = Data(o.Data, o.OutDir, log);
        AtomicFile.WriteAllBytes(runPath, System.Text.Encoding.UTF8.GetBytes(describe.ToJsonString()));
        var ckPath = Path.Combine(o.OutDir, CheckpointFile);
        ReasoningTrainer trainer;
        if (File.Exists(ckPath))
        {
            trainer = ReasoningTrainer.Resume(ckPath, train);
            log?.Invoke($"resuming at step {trainer.Step:N0} ({trainer.TrainSeconds / 60:F1} min trained)");
        }
        else trainer = new ReasoningTrainer(Configure(o, train), train, o.Seed);
        long targetSteps = o.Steps ?? (o.Minutes is null ? o.DefaultSteps : long.MaxValue);
        double targetSeconds = o.Minutes is double m ? m * 60 : double.PositiveInfinity;
        var sw = Stopwatch.StartNew();
        double startSeconds = trainer.TrainSeconds, lastCheckpoint = 0;
        long startStep = trainer.Step;
        while (trainer.Step < targetSteps && trainer.TrainSeconds < targetSeconds)
        {
            var stats = trainer.TrainStep();
            if (!double.IsFinite(stats.Loss))
                throw new EngramException($"training diverged at step {stats.Step} (loss {stats.Loss}); try a lower learning rate");
            double elapsed = sw.Elapsed.TotalSeconds;
            trainer.TrainSeconds = startSeconds + elapsed;
            double perStep = elapsed / (trainer.Step - startStep);
            double eta = Math.Min(targetSteps == long.MaxValue ? double.PositiveInfinity : (targetSteps - trainer.Step) * perStep,
                targetSeconds - trainer.TrainSeconds);
            onProgress?.Invoke(stats, trainer, eta);
            if (elapsed - lastCheckpoint >= o.CheckpointSeconds) { trainer.Save(ckPath); lastCheckpoint = elapsed; }
        }
        trainer.Save(ckPath);
        return (trainer, test);
    }
}
