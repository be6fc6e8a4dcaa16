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
            { input, output, maxSize, Shared.Threads, quiet, Shared.Json };
        command.SetAction(parse =>
        {
            Shared.ApplyThreads(parse, 1);
            string inName = parse.GetValue(input)!;
            var target = Shared.CheckOutput(parse.GetValue(output)!, inName);
            bool json = parse.GetValue(Shared.Json), silent = parse.GetValue(quiet) || json;
            using var source = new BufferedStream(Shared.OpenInput(inName, out _), 1 << 16);
            CompressionResult r = null!;
            Shared.WriteOutput(target, s => r = Compressor.Decompress(source, s, inName, parse.GetValue(maxSize),
                new ConsoleProgress(json: false, quiet: silent)));
            var summary = new CompressCommand.Summary(r.Bytes, r.CompressedBytes, Math.Round(r.BitsPerByte, 6),
                Math.Round(r.BytesPerSecond, 1), Math.Round(r.ModelBitsPerByte, 6));
            // with the restored bytes on standard output, the summary goes to standard error
            if (json && target == "-") Console.Error.WriteLine(System.Text.Json.JsonSerializer.Serialize(summary, Shared.JsonOptions));
            else if (json) Shared.WriteJson(summary);
            else if (!silent)
                Console.Error.WriteLine(FormattableString.Invariant($"{inName}: {r.Bytes:N0} bytes restored to ") +
                    FormattableString.Invariant($"{parse.GetValue(output)}, checksum verified, {r.BytesPerSecond / 1000:F1} KB/s"));
            return ExitCode.Success;
        });
        return command;
    }
}
