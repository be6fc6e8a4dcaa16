// `engram bench forgetting`: held-out loss on domain A before and after learning domain B, and after a short return to A.
using System.CommandLine;
using Engram.Experiments;
using Engram.Models;
using Engram.Tensors;

namespace Engram.Cli.Commands;

static class ForgettingCommand
{
    public static Command Create()
    {
        var model = Shared.Model;
        var a = new Option<string?>("--a") { Description = "Text file for domain A (default: built-in countryside prose)." };
        var b = new Option<string?>("--b") { Description = "Text file for domain B (default: built-in seafaring prose)." };
        var train = Shared.SizeOption("--train", "Bytes learned from each domain", 100_000, 1);
        var back = Shared.SizeOption("--return", "Bytes of A learned again at the end", 10_000, 1);
        var command = new Command("forgetting",
            "Held-out loss on domain A before and after learning domain B, and after a short return to A.")
            { Shared.Json, model, a, b, train, back, Shared.Threads };
        command.SetAction(parse =>
        {
            Shared.ApplyThreads(parse, 1);
            string? Read(string? f) => f is null ? null : File.Exists(f) ? File.ReadAllText(f)
                : throw new EngramException($"{f}: no such file");
            int Bytes(Option<long> o) => parse.GetValue(o) <= 100_000_000 ? (int)parse.GetValue(o)
                : throw new EngramException($"{o.Name}: at most 100MB");
            var options = new ForgettingBench.Options
            {
                Model = parse.GetValue(model)!, TextA = Read(parse.GetValue(a)), TextB = Read(parse.GetValue(b)),
                TrainBytes = Bytes(train), ReturnBytes = Bytes(back),
            };
            bool json = parse.GetValue(Shared.Json);
            if (!json) Console.WriteLine($"{"stage",-20}{"bytes learned",14}{"held-out A",12}{"held-out B",12}   (bits per byte)");
            ForgettingBench.Run(options, p => Console.WriteLine(json ? ForgettingBench.Json(p)
                : $"{p.Stage,-20}{p.BytesLearned,14:N0}{p.HeldOutA,12:F3}{p.HeldOutB,12:F3}"));
            return ExitCode.Success;
        });
        return command;
    }
}
