// `engram decompress IN OUT`: replays the compressor's learning to restore the bytes, chunk by chunk, streaming them to
// OUT. A file is written only when its checksum matched (temp, then rename); to standard output (-) the bytes flow as
// they are decoded and a mismatch is reported at the end with exit code 2.
using System.CommandLine;
using Engram.Learning;

namespace Engram.Cli.Commands;

static class DecompressCommand
{
    public static Command Create()
    {
        var input = new Argument<string>("in") { Description = "File written by `engram compress`, or - for standard input." };
        var output = new Argument<string>("out")
        {
            Description = "Restored file (an existing one is replaced, only on success), or - for standard output."
        };
        var maxSize = Shared.SizeOption("--max-size", "Refuse to restore more than this", long.MaxValue / 4, 0);
        var quiet = new Option<bool>("--quiet") { Description = "No progress or summary." };
        var command = new Command("decompress", "Restore a file written by `engram compress` (replays the same learning).")
            { input, output, maxSize, Shared.Threads, quiet };
        command.SetAction(parse =>
        {
            Shared.ApplyThreads(parse, 1);
            string inName = parse.GetValue(input)!;
            var target = Shared.CheckOutput(parse.GetValue(output)!, inName);
            bool silent = parse.GetValue(quiet);
            using var source = new BufferedStream(Shared.OpenInput(inName, out _), 1 << 16);
            long restored = 0;
            Shared.WriteOutput(target, s => restored = Compressor.Decompress(source, s, inName, parse.GetValue(maxSize),
                new ConsoleProgress(json: false, quiet: silent)));
            if (!silent) Console.Error.WriteLine($"{inName}: {restored:N0} bytes restored to {parse.GetValue(output)}, checksum verified");
            return ExitCode.Success;
        });
        return command;
    }
}
