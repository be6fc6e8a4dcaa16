// `engram demo`: the continual learner on built-in data. A generated stream with facts planted near its start is
// learned online; bits per byte are compared with gzip and brotli on the same bytes; then the facts are asked back,
// long after any window the model has could still see them.
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using Engram.Learning;
using Engram.Models;
using Engram.Tasks;

namespace Engram.Cli;

static class DemoCommand
{
    public static int Run(string preset, int fillerBytes, int facts, bool json)
    {
        var model = Presets.Get(preset);
        var stream = new RecallStream(facts, fillerBytes, repeats: 1, leadIn: 20_000, seed: 7);
        // learn only up to the first question: the questions are asked at the end, as a user would ask them
        int stop = stream.AnswerOffsets.Min(a => a[0]) - stream.Facts[0].Question.Length;
        var data = stream.Bytes.AsSpan(0, stop).ToArray();
        var learner = new OnlineLearner(model, LearnerConfig.ForPreset(preset));
        if (!json)
        {
            Console.WriteLine($"Engram demo: a byte-level model that learns while it reads (preset '{preset}', {learner.Model.ParameterCount():N0} parameters)");
            Console.WriteLine($"the stream: {data.Length:N0} bytes of generated prose, {facts} facts like \"{stream.Facts[0].Statement.Trim()}\" planted near the start");
        }
        var sw = Stopwatch.StartNew();
        double lastReport = 0;
        for (int pos = 0; pos < data.Length; pos += learner.Config.Chunk)
        {
            learner.LearnChunk(data.AsSpan(pos, Math.Min(learner.Config.Chunk, data.Length - pos)));
            if (!json && sw.Elapsed.TotalSeconds - lastReport >= 1)
            {
                lastReport = sw.Elapsed.TotalSeconds;
                double rate = learner.Position / sw.Elapsed.TotalSeconds;
                Console.Error.WriteLine($"  {learner.Position,9:N0} / {data.Length:N0} bytes  {learner.BitsPerByte:F3} bits/byte  {rate / 1000:F1} KB/s  ETA {(data.Length - learner.Position) / rate:F0} s");
            }
        }
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
            Console.WriteLine(FormattableString.Invariant($"{{\"bytes\":{data.Length},\"bits_per_byte\":{learner.BitsPerByte:F4},\"gzip_bits_per_byte\":{gzip:F4},\"brotli_bits_per_byte\":{brotli:F4},\"bytes_per_second\":{data.Length / seconds:F0},\"facts\":{facts},\"recalled\":{recalled},\"distance\":{distance}}}"));
            return 0;
        }
        Console.WriteLine();
        Console.WriteLine($"learned {data.Length:N0} bytes in {seconds:F1} s ({data.Length / seconds / 1000:F1} KB/s), predicting every byte before seeing it:");
        Console.WriteLine($"  bits per byte   engram {learner.BitsPerByte:F3}   gzip {gzip:F3}   brotli {brotli:F3}   (lower is better; same bytes)");
        Console.WriteLine();
        Console.WriteLine($"asking the facts back, {distance / 1000:N0} KB or more after they were read (its {(model.Mixer == MixerKind.Attention ? $"attention window is {model.Window}" : $"convolution sees {model.ConvKernel}")} bytes):");
        foreach (var (f, a) in answers) Console.WriteLine($"  {f.Question}…   model: {a,-6} {(a == f.Code ? "✓" : $"✗ (was {f.Code})")}");
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
