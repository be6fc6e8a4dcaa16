// `engram learn FILE|- [--brain DIR]`: reads a stream once, predicting each byte before learning from it. The input is
// learned as it arrives (a pipe is learned while it flows); with --brain the learner resumes from the folder, is saved
// there every --save-every seconds and at the end, and Ctrl-C (or SIGTERM) stops it cleanly: what was read is learned
// and saved.
using System.CommandLine;
using System.Runtime.InteropServices;
using Engram.Learning;
using Engram.Safety;
using Engram.Tensors;

namespace Engram.Cli.Commands;

static class LearnCommand
{
    public sealed record Summary(long Bytes, double BitsPerByte, double BytesPerSecond, long StreamBytes, double StreamBitsPerByte,
        bool Stopped, int Saves);

    public static Command Create()
    {
        var file = new Argument<string>("file") { Description = "File to read, or - for standard input (learned as it arrives)." };
        var brain = new Option<string?>("--brain")
        {
            Description = "Folder holding the learner's whole state: " +
            "resumed if it holds a brain, saved periodically and at the end (locked while in use)."
        };
        var force = new Option<bool>("--force")
        {
            Description = "Resume a brain even though --model or --set was given (they are then ignored)."
        };
        var saveEvery = Shared.IntOption("--save-every", "Seconds between saves of the brain while learning.", 60, 1, 86_400);
        var command = new Command("learn", "Read a stream once, predicting each byte before learning from it; prints bits per byte.")
            { file, brain, Shared.Model, Shared.Set, force, saveEvery, Shared.Threads, Shared.Json };
        command.SetAction(parse =>
        {
            Shared.ApplyThreads(parse, 1);
            bool json = parse.GetValue(Shared.Json);
            var dir = parse.GetValue(brain);
            using var input = Shared.OpenInput(parse.GetValue(file)!, out long? length);
            bool resuming = dir is not null && Brain.Exists(dir);
            var (m, l) = resuming ? (null!, null!) : Shared.Configure(parse);
            // with a brain folder: locked, versioned (every save is a version in its audit log), checked against its log
            using var versioned = dir is null ? null : VersionedBrain.Open(dir, () => new OnlineLearner(m, l));
            if (versioned is not null) Shared.Tell(versioned, dir!);
            var learner = versioned?.Learner ?? new OnlineLearner(m, l);
            if (resuming)
            {
                bool modelGiven = parse.GetResult(Shared.Model) is { Implicit: false }
                    && parse.GetValue(Shared.Model) != learner.ModelConfig.Preset;
                if ((modelGiven || (parse.GetValue(Shared.Set)?.Length ?? 0) > 0) && !parse.GetValue(force))
                    throw new EngramException($"{dir}: the brain there is model '{learner.ModelConfig.Preset}'; --model/--set " +
                        "cannot change it (use another folder, or --force to resume with the brain's own model)");
            }
            long start = learner.Position;
            if (!json)
                Console.Error.WriteLine($"learning {(length is long n ? $"{n:N0} bytes" : "standard input")} " +
                    $"with model '{learner.ModelConfig.Preset}' " +
                    $"({learner.Model.ParameterCount():N0} parameters), chunks of {learner.Config.Chunk}" +
                    (start > 0 ? $", resuming at byte {start:N0} of the stream" : ""));
            using var stop = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; stop.Cancel(); };
            Console.CancelKeyPress += onCancel;
            using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
            LearnSummary r;
            try
            {
                var options = new LearnOptions { ExpectedBytes = length, SaveEvery = TimeSpan.FromSeconds(parse.GetValue(saveEvery)) };
                var source = parse.GetValue(file)! == "-" ? "stdin" : Path.GetFullPath(parse.GetValue(file)!);
                if (versioned is { Policy: { Quarantine: true, Gates: true } })
                {
                    // quarantine: the stream is learned 64 KB at a time, each stretch gated (a rejected one is logged, not learned)
                    var clock = System.Diagnostics.Stopwatch.StartNew();
                    double bits = learner.TotalBits;
                    var (bytes, rejected) = versioned.LearnGated(input, source, 1 << 16, new ConsoleProgress(json), stop.Token);
                    if (rejected > 0)
                        Console.Error.WriteLine($"quarantine: {rejected:N0} of {bytes:N0} bytes rejected by the gates (engram brain log)");
                    learner = versioned.Learner;
                    r = new LearnSummary(bytes - rejected, learner.TotalBits - bits, clock.Elapsed.TotalSeconds,
                        stop.IsCancellationRequested, (int)Math.Min(int.MaxValue, (bytes + (1 << 16) - 1) >> 16));
                }
                else r = versioned is null ? learner.Learn(input, options, new ConsoleProgress(json), stop.Token)
                    : versioned.LearnStream(input, source, options, new ConsoleProgress(json), stop.Token);
            }
            finally { Console.CancelKeyPress -= onCancel; }
            if (json)
                Shared.WriteJson(new Summary(r.Bytes, Math.Round(r.BitsPerByte, 6), Math.Round(r.BytesPerSecond, 1), learner.Position,
                    Math.Round(learner.BitsPerByte, 6), r.Cancelled, r.Saves));
            else
            {
                if (r.Cancelled) Console.Error.WriteLine("stopped: the bytes read so far are learned");
                Console.WriteLine(FormattableString.Invariant($"learned {r.Bytes:N0} bytes in {r.Seconds:F1} s ") +
                    FormattableString.Invariant($"({r.BytesPerSecond / 1000:F1} KB/s): {r.BitsPerByte:F4} bits per byte"));
                if (start > 0)
                    Console.WriteLine(FormattableString.Invariant(
                        $"whole stream so far: {learner.Position:N0} bytes, {learner.BitsPerByte:F4} bits per byte"));
                if (versioned is not null)
                    Console.WriteLine(r.Saves > 0 ? $"brain saved to {dir} (version {versioned.Version})"
                        : $"nothing learned; the brain in {dir} is unchanged (version {versioned.Version})");
            }
            return ExitCode.Success;
        });
        return command;
    }
}
