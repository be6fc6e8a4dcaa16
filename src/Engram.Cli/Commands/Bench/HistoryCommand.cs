// `engram bench history`: the cost of a brain's history (audit log, hashes, snapshots) on `learn` throughput, as the
// ratio to plain saves of the same bytes measured in the same run.
using System.CommandLine;
using Engram.Experiments;
using Engram.Models;

namespace Engram.Cli.Commands;

static class HistoryCommand
{
    public static Command Create()
    {
        var model = Shared.ChoiceOption("--model", "Model preset", Presets.Default, [.. Presets.All.Keys]);
        var size = Shared.SizeOption("--size", "Bytes to learn (from shared/data's corpora when found, else generated prose).",
            1_000_000, 1000);
        var saveEvery = Shared.IntOption("--save-every", "Seconds between saves, as learn --save-every.", 60, 1, 86_400);
        var command = new Command("history", "The cost of a brain's history (audit log, hashes, snapshots) on learn throughput: the " +
            "same bytes saved plainly, then versioned, in one run.") { model, size, saveEvery, Shared.Json, Shared.Threads };
        command.SetAction(parse =>
        {
            Shared.ApplyThreads(parse, 1);
            long n = parse.GetValue(size);
            var text = Shared.Filler(null);
            var source = text is { } t ? new FillerSource(t.Name, t.Text, 0) : new FillerSource(1);
            var data = System.Text.Encoding.UTF8.GetBytes(source.Take((int)Math.Min(n, int.MaxValue - 10_000)))[..(int)n];
            bool json = parse.GetValue(Shared.Json);
            var r = HistoryBench.Run(parse.GetValue(model)!, data, TimeSpan.FromSeconds(parse.GetValue(saveEvery)),
                json ? null : line => Console.Error.WriteLine(line));
            if (json) Console.WriteLine(HistoryBench.Json(r));
            else Console.WriteLine($"{r.Model}, {r.Bytes:N0} bytes, a save every {r.SaveEverySeconds} s: plain " +
                $"{r.PlainBytesPerSecond / 1000:F1} KB/s, versioned {r.VersionedBytesPerSecond / 1000:F1} KB/s — ratio {r.Ratio:F3}; " +
                $"{r.Versions} versions, {r.Snapshots} " +
                $"snapshots, audit log {r.AuditBytes:N0} bytes, brain {r.BrainBytes:N0} bytes");
            return ExitCode.Success;
        });
        return command;
    }
}
