// `engram bench engine`: GEMM GFLOP/s, FMA peak and tiny-step latency (table or JSON lines); --full adds model shapes.
using System.CommandLine;
using Engram.Experiments;

namespace Engram.Cli.Commands;

static class EngineCommand
{
    public static Command Create()
    {
        var quick = new Option<bool>("--quick") { Description = "Short timing windows (a smoke test, not a measurement)." };
        var full = new Option<bool>("--full")
        {
            Description = "Also tall-skinny GEMMs, attention at T = 81, 900, 4096 and a 2-block " +
            "Transformer training step (fused vs composed)."
        };
        var command = new Command("engine", "GEMM GFLOP/s at n = 64, 256, 512, 1024 and tiny-step latency (forward, forward+backward).")
            { Shared.Json, quick, Shared.Threads, full };
        command.SetAction(parse =>
        {
            Shared.ApplyThreads(parse, Environment.ProcessorCount);
            bool json = parse.GetValue(Shared.Json);
            var figures = EngineBench.Measure(parse.GetValue(quick), json ? null : s => Console.Error.WriteLine($"measuring {s} ..."),
                parse.GetValue(full));
            if (json) foreach (var f in figures) Console.WriteLine(EngineBench.ToJson(f));
            else Console.WriteLine(EngineBench.Table(figures));
            return ExitCode.Success;
        });
        return command;
    }
}
