// `engram compress IN OUT`: the online learner drives a range coder (Compressor). IN may be - (standard input, read
// whole first: the header records the length); OUT may be - (standard output). An existing OUT is replaced, atomically.
using System.CommandLine;
using Engram.Learning;

namespace Engram.Cli.Commands;

static class CompressCommand
{
    public sealed record Summary(long Bytes, long CompressedBytes, double BitsPerByte, double BytesPerSecond, double ModelBitsPerByte);

    public static Command Create()
    {
        var input = new Argument<string>("in") { Description = "File to compress, or - for standard input." };
        var output = new Argument<string>("out")
        {
            Description = "Compressed file (an existing one is replaced, atomically), or - for standard output."
        };
        var command = new Command("compress", "Compress a file with the online learner driving a range coder.")
            { input, output, Shared.Model, Shared.Set, Shared.Threads, Shared.Json };
        command.SetAction(parse =>
        {
            Shared.ApplyThreads(parse, 1);
            bool json = parse.GetValue(Shared.Json);
            string inName = parse.GetValue(input)!;
            var target = Shared.CheckOutput(parse.GetValue(output)!, inName);
            var (m, l) = Shared.Configure(parse);
            using var source = Shared.OpenInput(inName, out long? length);
            Stream data = source;
            if (length is null)
            {
                var buffer = new MemoryStream();
                source.CopyTo(buffer);
                buffer.Position = 0;
                data = buffer;
                length = buffer.Length;
            }
            CompressionResult r = null!;
            Shared.WriteOutput(target, s => r = Compressor.Compress(data, length.Value, s, m, l, new ConsoleProgress(json, quiet: json)));
            var summary = new Summary(r.Bytes, r.CompressedBytes, Math.Round(r.BitsPerByte, 6), Math.Round(r.BytesPerSecond, 1),
                Math.Round(r.ModelBitsPerByte, 6));
            // with the compressed bytes on standard output, the summary goes to standard error
            if (json && target == "-") Console.Error.WriteLine(System.Text.Json.JsonSerializer.Serialize(summary, Shared.JsonOptions));
            else if (json) Shared.WriteJson(summary);
            else Console.Error.WriteLine(FormattableString.Invariant(
                $"{inName}: {r.Bytes:N0} → {r.CompressedBytes:N0} bytes, {r.BitsPerByte:F4} bits per byte ") +
                FormattableString.Invariant($"(model {r.ModelBitsPerByte:F4}), {r.BytesPerSecond / 1000:F1} KB/s"));
            return ExitCode.Success;
        });
        return command;
    }
}
