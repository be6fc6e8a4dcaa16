// `engram demo`: the continual learner on built-in data. A generated stream with facts planted near its start is
// learned online; bits per byte are compared with gzip and brotli on the same bytes; then the facts are asked back,
// long after any window the model has could still see them.
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using Engram.Learning;
using Engram.Models;
using Engram.Tasks;
using System.CommandLine;

namespace Engram.Cli.Commands;

static class DemoCommand
{
    public sealed record Summary(long Bytes, double BitsPerByte, double GzipBitsPerByte, double BrotliBitsPerByte, double BytesPerSecond,
        int Facts, int Recalled, int Distance);

    public static Command Create()
    {
        var distance = Shared.IntOption("--distance", "Bytes of other text between the facts and the questions.", 200_000, 0, 100_000_000);
        var facts = Shared.IntOption("--facts", "Facts to plant.", 10, 1, 1000);
        var command = new Command("demo", "Learn a generated stream online, compare with gzip and brotli, and ask planted facts back.")
            { Shared.Model, distance, facts, Shared.Json, Shared.Threads };
        command.SetAction(parse =>
        {
            Shared.ApplyThreads(parse, 1);
            return Run(parse.GetValue(Shared.Model)!, parse.GetValue(distance), parse.GetValue(facts), parse.GetValue(Shared.Json));
        });
        return command;
    }

    static int Run(string preset, int fillerBytes, int facts, bool json)
    {
        var model = Presets.Get(preset);
        var stream = new RecallStream(facts, fillerBytes, repeats: 1, leadIn: 20_000, seed: 7);
        // learn only up to the first question: the questions are asked at the end, as a user would ask them
        int stop = stream.AnswerOffsets.Min(a => a[0]) - stream.Facts[0].Question.Length;
        var data = stream.Bytes.AsSpan(0, stop).ToArray();
        var learner = new OnlineLearner(model, LearnerConfig.ForPreset(preset));
        if (!json)
        {
            Console.WriteLine($"Engram demo: a byte-level model that learns while it reads (preset '{preset}', " +
                $"{learner.Model.ParameterCount():N0} parameters)");
            Console.WriteLine($"the stream: {data.Length:N0} bytes of generated prose, " +
                $"{facts} facts like \"{stream.Facts[0].Statement.Trim()}\" planted near the start");
        }
        var sw = Stopwatch.StartNew();
        learner.Learn(new MemoryStream(data), new LearnOptions { ExpectedBytes = data.Length },
            json ? null : new ConsoleProgress(json: false));
        double seconds = sw.Elapsed.TotalSeconds;
        double gzip = CompressedBits(data, s => new GZipStream(s, CompressionLevel.SmallestSize, leaveOpen: true)) / data.Length;
        double brotli = CompressedBits(data, s => new BrotliStream(s, CompressionLevel.SmallestSize, leaveOpen: true)) / data.Length;
        int recalled = 0;
        var answers = new List<(Fact Fact, string Answer)>();
        foreach (var f in stream.Facts)
        {
            var answer = Encoding.ASCII.GetString(learner.Continue(Encoding.ASCII.GetBytes(f.Question), f.Code.Length));
            answers.Add((f, answer));
            if (answer == f.Code) recalled++;
        }
        var lastStatement = Encoding.ASCII.GetBytes(stream.Facts[^1].Statement);
        int distance = data.Length - (data.AsSpan().LastIndexOf(lastStatement) + lastStatement.Length); // the closest fact
        if (json)
        {
            Shared.WriteJson(new Summary(data.Length, Math.Round(learner.BitsPerByte, 4), Math.Round(gzip, 4), Math.Round(brotli, 4),
                Math.Round(data.Length / seconds), facts, recalled, distance));
            return 0;
        }
        Console.WriteLine();
        Console.WriteLine($"learned {data.Length:N0} bytes in {seconds:F1} s ({data.Length / seconds / 1000:F1} KB/s), " +
            "predicting every byte before seeing it:");
        Console.WriteLine($"  bits per byte   engram {learner.BitsPerByte:F3}   gzip {gzip:F3}   brotli {brotli:F3}   " +
            "(lower is better; same bytes)");
        Console.WriteLine();
        Console.WriteLine($"asking the facts back, {distance / 1000:N0} KB or more after they were read (its " +
            $"{(model.Mixer == MixerKind.Attention ? $"attention window is {model.Window}" : $"convolution sees {model.ConvKernel}")}" +
            " bytes):");
        foreach (var (f, a) in answers)
            Console.WriteLine($"  {f.Question}…   model: {a,-6} {(a == f.Code ? "✓" : $"✗ (was {f.Code})")}");
        Console.WriteLine($"recalled {recalled} of {facts}");
        Console.WriteLine();
        Console.WriteLine("next: engram learn FILE --brain DIR · engram compress IN OUT · engram bench recall (see README)");
        return 0;
    }

    static double CompressedBits(byte[] data, Func<Stream, Stream> make)
    {
        using var ms = new MemoryStream();
        using (var z = make(ms)) z.Write(data);
        return ms.Length * 8.0;
    }
}
