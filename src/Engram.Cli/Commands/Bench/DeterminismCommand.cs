// `engram bench determinism`: the hash of a short float32 training run; it must be the same on every machine, SIMD path
// and thread count.
using System.CommandLine;
using Engram.Experiments;

namespace Engram.Cli.Commands;

static class DeterminismCommand
{
    public sealed record Line(string Metric, string Path, string Value);

    public static Command Create()
    {
        var command = new Command("determinism",
            "Hash of a short float32 training run; it must be the same on every machine and SIMD path.") { Shared.Json, Shared.Threads };
        command.SetAction(parse =>
        {
            Shared.ApplyThreads(parse, Environment.ProcessorCount);
            var (hash, path) = DeterminismBench.Run();
            if (parse.GetValue(Shared.Json)) Shared.WriteJson(new Line("determinism_hash", path, hash));
            else Console.WriteLine($"determinism hash {hash} (SIMD path {path}, {Environment.ProcessorCount} cores)");
            return ExitCode.Success;
        });
        return command;
    }
}
