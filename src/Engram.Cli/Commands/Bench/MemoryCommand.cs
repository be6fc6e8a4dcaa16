// `engram bench memory`: RSS, managed heap, count-table bytes and brain size as the learner's stream grows.
using System.CommandLine;
using Engram.Experiments;
using Engram.Tensors;

namespace Engram.Cli.Commands;

static class MemoryCommand
{
    public static Command Create()
    {
        var sizes = Shared.SizesOption("--sizes", "Stream lengths at which to measure", [1_000_000, 10_000_000], 1);
        var text = new Option<string?>("--text")
        {
            Description = "Text file to learn (repeated as needed); default: built-in generated prose."
        };
        var command = new Command("memory", "Where memory goes as a stream grows: RSS, managed heap, context-count tables, brain size.")
            { Shared.Model, sizes, text, Shared.Json, Shared.Threads };
        command.SetAction(parse =>
        {
            Shared.ApplyThreads(parse, 1);
            var file = parse.GetValue(text);
            byte[]? bytes = file is null ? null : File.Exists(file) ? File.ReadAllBytes(file)
                : throw new EngramException($"{file}: no such file");
            if (bytes is { Length: 0 }) throw new EngramException($"{file}: the file is empty");
            bool json = parse.GetValue(Shared.Json);
            if (!json)
                Console.WriteLine($"{"stream",10}{"RSS",10}{"managed",10}{"counts",10}{"contexts",12}{"brain",10}{"bits/byte",11}" +
                    "   (MB = 10^6 bytes)");
            MemoryBench.Run(parse.GetValue(Shared.Model)!, parse.GetValue(sizes)!, bytes, p =>
            {
                if (json) Shared.WriteJson(p);
                else Console.WriteLine(FormattableString.Invariant(
                    $"{p.StreamBytes / 1e6,8:F1}MB{p.RssBytes / 1e6,8:F0}MB{p.ManagedBytes / 1e6,8:F0}MB{p.CountTableBytes / 1e6,8:F0}MB") +
                    FormattableString.Invariant($"{p.Contexts,12:N0}{p.BrainBytes / 1e6,8:F1}MB{p.BitsPerByte,11:F3}"));
            }, json ? null : new ConsoleProgress(json: false));
            return ExitCode.Success;
        });
        return command;
    }
}
