// The continual learner from the command line: learn (progress, JSON, brains that resume), compress/decompress
// (round trips on every SIMD path and thread count; corrupt input fails cleanly and writes nothing), generate, demo,
// and the recall and forgetting benchmarks in their quick forms.
using System.Text;
using System.Text.Json;

namespace Engram.Cli.Tests;

public sealed class LearnerCliTests : IDisposable
{
    readonly string _dir = Path.Combine(Path.GetTempPath(), "engram-cli-" + Guid.NewGuid());
    public LearnerCliTests() => Directory.CreateDirectory(_dir);
    public void Dispose() { try { Directory.Delete(_dir, true); } catch (IOException) { } }

    static (int Code, string Out, string Err) Run(Dictionary<string, string>? env, params string[] args)
        => EngramProcess.Run(env, 300, args);

    string Text(string name, int length)
    {
        var words = new[] { "the ", "river ", "ran ", "past ", "a ", "mill, ", "and ", "we ", "sang. ", "\n" };
        var rng = new Random(length);
        var sb = new StringBuilder();
        while (sb.Length < length) sb.Append(words[rng.Next(words.Length)]);
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, sb.ToString(0, length));
        return path;
    }

    static JsonElement LastJson(string output)
        => JsonDocument.Parse(output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]).RootElement;

    [Fact]
    public void LearnPrintsBitsPerByteAndResumesFromItsBrain()
    {
        var file = Text("a.txt", 6000);
        var brain = Path.Combine(_dir, "brain");
        var first = Run(null, "learn", file, "--brain", brain, "--json");
        Assert.True(first.Code == 0, first.Err);
        var j = LastJson(first.Out);
        Assert.Equal(6000, j.GetProperty("bytes").GetInt64());
        Assert.InRange(j.GetProperty("bits_per_byte").GetDouble(), 0.1, 4.0); // a ten-word language is learned fast
        Assert.True(j.GetProperty("bytes_per_second").GetDouble() > 0);
        var second = Run(null, "learn", file, "--brain", brain);
        Assert.True(second.Code == 0, second.Err);
        Assert.Contains("resuming at byte 6,000", second.Err);
        Assert.Contains("whole stream so far: 12,000 bytes", second.Out);

        var gen = Run(null, "generate", "--brain", brain, "--prompt", "the river", "--length", "40", "--seed", "3");
        Assert.True(gen.Code == 0, gen.Err);
        Assert.StartsWith("the river", gen.Out);
        Assert.True(Encoding.UTF8.GetByteCount(gen.Out.TrimEnd('\n')) >= 40);
        Assert.Equal(gen.Out, Run(null, "generate", "--brain", brain, "--prompt", "the river", "--length", "40", "--seed", "3").Out);
    }

    [Fact]
    public void CompressedFilesOpenOnEverySimdPathAndThreadCount()
    {
        var file = Text("b.txt", 2500);
        var packed = Path.Combine(_dir, "b.ez");
        var c = Run(null, "compress", file, packed, "--json", "--threads", "2");
        Assert.True(c.Code == 0, c.Err);
        var j = LastJson(c.Out);
        Assert.Equal(2500, j.GetProperty("bytes").GetInt64());
        Assert.Equal(new FileInfo(packed).Length, j.GetProperty("compressed_bytes").GetInt64());
        Assert.True(j.GetProperty("bits_per_byte").GetDouble() < 4);
        foreach (var env in new Dictionary<string, string>[] { new(), new() { ["DOTNET_EnableAVX512"] = "0" },
            new() { ["DOTNET_EnableAVX2"] = "0" }, new() { ["DOTNET_PROCESSOR_COUNT"] = "1" } })
        {
            var restored = Path.Combine(_dir, "b.out");
            File.Delete(restored);
            var d = Run(env, "decompress", packed, restored, "--threads", env.Count == 0 ? "1" : "2", "--json");
            Assert.True(d.Code == 0, $"{string.Join(",", env.Keys)}: {d.Err}");
            Assert.Equal(File.ReadAllBytes(file), File.ReadAllBytes(restored));
            var dj = LastJson(d.Out);
            Assert.Equal(2500, dj.GetProperty("bytes").GetInt64());
            Assert.Equal(new FileInfo(packed).Length, dj.GetProperty("compressed_bytes").GetInt64());
            Assert.Equal(j.GetProperty("bits_per_byte").GetDouble(), dj.GetProperty("bits_per_byte").GetDouble());
            Assert.True(dj.GetProperty("bytes_per_second").GetDouble() > 0);
        }
    }

    [Fact]
    public void BadInputsGiveClearErrorsAndWriteNothing()
    {
        var file = Text("c.txt", 800);
        var packed = Path.Combine(_dir, "c.ez");
        Assert.Equal(0, Run(null, "compress", file, packed).Code);
        var bytes = File.ReadAllBytes(packed);
        bytes[bytes.Length - 10] ^= 0x55;
        var corrupt = Path.Combine(_dir, "corrupt.ez");
        File.WriteAllBytes(corrupt, bytes);
        var output = Path.Combine(_dir, "never.txt");
        var r = Run(null, "decompress", corrupt, output);
        Assert.Equal(2, r.Code);
        Assert.Contains("corrupt.ez", r.Err);
        Assert.False(File.Exists(output));

        File.WriteAllBytes(corrupt, bytes.AsSpan(0, bytes.Length / 2).ToArray());
        r = Run(null, "decompress", corrupt, output);
        Assert.Equal(2, r.Code); Assert.False(File.Exists(output));

        r = Run(null, "decompress", file, output);
        Assert.Equal(2, r.Code); Assert.Contains("magic", r.Err);

        r = Run(null, "learn", Path.Combine(_dir, "missing.txt"));
        Assert.Equal(2, r.Code); Assert.Contains("missing.txt", r.Err); Assert.DoesNotContain("   at ", r.Err);

        var brain = Path.Combine(_dir, "notabrain");
        Directory.CreateDirectory(brain);
        File.WriteAllText(Path.Combine(brain, "brain.safetensors"), "garbage");
        r = Run(null, "learn", file, "--brain", brain);
        Assert.Equal(2, r.Code); Assert.Contains("notabrain", r.Err);
        Assert.Equal("garbage", File.ReadAllText(Path.Combine(brain, "brain.safetensors")));

        r = Run(null, "learn", file, "--model", "huge");
        Assert.Equal(2, r.Code); Assert.Contains("--model 'huge': expected one of", r.Err);
    }

    [Fact]
    public async Task LearningFromAPipeStopsOnSigtermLearningWhatWasReadAndSaving()
    {
        var brain = Path.Combine(_dir, "pipe-brain");
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        string[] args = [Path.Combine(AppContext.BaseDirectory, "engram.dll"), "learn", "-", "--brain", brain, "--save-every", "1"];
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        for (int i = 0; i < 20; i++) p.StandardInput.Write($"log line {i}: request {i} answered with status 200 OK\n");
        p.StandardInput.Flush(); // 20 lines, the pipe stays open: a writer that has gone quiet
        // wait until a periodic save shows bytes learned while the input is still open (the brain's version 0, the empty
        // brain, is written at once)
        var deadline = DateTime.UtcNow.AddSeconds(120);
        bool Learned() => File.Exists(Path.Combine(brain, "brain.safetensors"))
            && Run(null, "brain", "info", brain, "--json") is { Code: 0 } i && LastJson(i.Out).GetProperty("stream_bytes").GetInt64() > 0;
        while (!Learned() && DateTime.UtcNow < deadline) Thread.Sleep(500);
        Assert.True(Learned(), "no periodic save while the pipe was open");
        var pid = p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        System.Diagnostics.Process.Start("kill", ["-TERM", pid])!.WaitForExit();
        if (!p.WaitForExit(60_000)) { p.Kill(true); Assert.Fail("learn did not stop on SIGTERM"); }
        var (output, error) = (await stdout, await stderr);
        Assert.True(p.ExitCode == 0, error);
        Assert.Contains("stopped", error);
        Assert.Contains("brain saved", output);
        var info = LastJson(Run(null, "brain", "info", brain, "--json").Out);
        int written = Enumerable.Range(0, 20).Sum(i => $"log line {i}: request {i} answered with status 200 OK\n".Length);
        Assert.Equal(written, info.GetProperty("stream_bytes").GetInt64()); // every byte read was learned, the partial chunk too
    }

    [Fact]
    public void OutputsAreCheckedBeforeWorkAndBrainsKeepTheirModel()
    {
        var file = Text("d.txt", 3000);
        // the input as output, a folder, a FIFO, a device: refused before any work, nothing replaced
        var r = Run(null, "compress", file, file);
        Assert.Equal(2, r.Code); Assert.Contains("is the input", r.Err);
        Assert.Equal(3000, new FileInfo(file).Length);
        Assert.Contains("is a folder", Run(null, "compress", file, _dir).Err);
        Assert.Contains("not a regular file", Run(null, "compress", file, "/dev/null").Err);
        var fifo = Path.Combine(_dir, "fifo");
        System.Diagnostics.Process.Start("mkfifo", fifo)!.WaitForExit();
        r = Run(null, "compress", file, fifo);
        Assert.Equal(2, r.Code); Assert.Contains("not a regular file", r.Err);
        Assert.Contains("does not exist", Run(null, "compress", file, Path.Combine(_dir, "no", "such", "x.ez")).Err);

        // a symbolic link is written through, and stays a link
        var target = Path.Combine(_dir, "target.ez");
        File.WriteAllText(target, "old");
        var link = Path.Combine(_dir, "link.ez");
        File.CreateSymbolicLink(link, target);
        Assert.Equal(0, Run(null, "compress", file, link).Code);
        Assert.NotNull(new FileInfo(link).LinkTarget);
        Assert.NotEqual("old", File.ReadAllText(target));

        // - is standard output; the restored bytes equal the input
        r = Run(null, "decompress", link, "-", "--quiet");
        Assert.Equal(0, r.Code);
        Assert.Equal(File.ReadAllText(file), r.Out);
        r = Run(null, "decompress", link, Path.Combine(_dir, "big.out"), "--max-size", "1KB");
        Assert.Equal(2, r.Code); Assert.Contains("over the limit", r.Err);

        // a brain: a file as brain fails at once; another model for an existing brain is an error unless forced
        r = Run(null, "learn", file, "--brain", file);
        Assert.Equal(2, r.Code); Assert.Contains("is a file", r.Err);
        var brain = Path.Combine(_dir, "brain-d");
        Assert.Equal(0, Run(null, "learn", file, "--brain", brain, "--model", "tiny").Code);
        r = Run(null, "learn", file, "--brain", brain, "--model", "small");
        Assert.Equal(2, r.Code); Assert.Contains("model 'tiny'", r.Err);
        Assert.Equal(0, Run(null, "learn", file, "--brain", brain, "--model", "tiny").Code); // the same model is fine
        Assert.Equal(0, Run(null, "learn", file, "--brain", brain, "--set", "Dim=8", "--force").Code);
        // settings by their type: a fraction, an enumeration by name; options may come before the arguments
        var custom = Run(null, "learn", "--set", "Clip=0.5", "--set", "Mixer=attention", "--set", "Dim=32", file, "--json");
        Assert.True(custom.Code == 0, custom.Err);
        Assert.Contains("expected one of Attention, Conv, None", Run(null, "learn", file, "--set", "Mixer=lstm").Err);
        var info = Run(null, "brain", "info", brain, "--json");
        Assert.True(info.Code == 0, info.Err);
        var j = LastJson(info.Out);
        Assert.Equal(9000, j.GetProperty("stream_bytes").GetInt64());
        Assert.Equal("tiny", j.GetProperty("preset").GetString());
        Assert.False(File.Exists(Path.Combine(_dir, "never")));
    }

    [Fact]
    public void DemoAndQuickBenchmarksRun()
    {
        var demo = Run(null, "demo", "--distance", "3000", "--facts", "3", "--json");
        Assert.True(demo.Code == 0, demo.Err);
        var d = LastJson(demo.Out);
        Assert.True(d.GetProperty("bits_per_byte").GetDouble() < d.GetProperty("gzip_bits_per_byte").GetDouble(), demo.Out);
        Assert.InRange(d.GetProperty("recalled").GetInt32(), 0, 3);

        var png = Path.Combine(_dir, "recall.png");
        var recall = Run(null, "bench", "recall", "--quick", "--json", "--models", "tiny,transformer", "--facts", "3", "--png", png,
            "--filler", "generated");
        Assert.True(recall.Code == 0, recall.Err);
        var lines = recall.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(12, lines.Count); // 2 models × 2 templates × (1 KB, 10 KB, one update stream)
        Assert.All(lines, l => Assert.InRange(l.GetProperty("greedy").GetDouble(), 0, 1));
        JsonElement Cell(string model, string template, int distance, bool update) => lines.Single(l =>
            l.GetProperty("model").GetString() == model && l.GetProperty("template").GetString() == template
            && l.GetProperty("distance").GetInt32() == distance && l.GetProperty("update").GetBoolean() == update);
        // The match model recalls past the window where the sliding-window Transformer (64 bytes) cannot; updates win.
        Assert.Equal(1.0, Cell("tiny", "code", 10_000, false).GetProperty("greedy").GetDouble());
        Assert.Equal(0.0, Cell("transformer", "code", 10_000, false).GetProperty("greedy").GetDouble());
        Assert.Equal(1.0, Cell("tiny", "capital", 1_000, true).GetProperty("newest").GetDouble());
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(png)[..4]);

        var forget = Run(null, "bench", "forgetting", "--json", "--model", "tiny", "--train", "4KB", "--return", "1KB");
        Assert.True(forget.Code == 0, forget.Err);
        var stages = forget.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["start", "after A", "after B", "after return to A"], stages.Select(s => s.GetProperty("stage").GetString()!));
        Assert.True(stages[1].GetProperty("held_out_a_bits_per_byte").GetDouble()
            < stages[0].GetProperty("held_out_a_bits_per_byte").GetDouble());
    }
}
