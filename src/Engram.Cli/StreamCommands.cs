// `engram learn`, `engram compress`, `engram decompress`, `engram generate`: the continual learner from the command line.
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Engram.Learning;
using Engram.Models;
using Engram.Tensors;
using Engram.Tensors.IO;

namespace Engram.Cli;

static class StreamCommands
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static readonly Option<string> ModelOption = new("--model") { Description = $"Model preset: {string.Join(", ", Presets.All.Keys)} (default {Presets.Default}).", DefaultValueFactory = _ => Presets.Default };
    public static readonly Option<string[]> SetOption = new("--set") { Description = "Override a setting, e.g. --set Dim=96 --set Chunk=32 --set FastWeight.Inner=Mlp (model or learner field names).", AllowMultipleArgumentsPerToken = true };
    public static readonly Option<int?> ThreadsOption = new("--threads") { Description = "Threads for kernels (default 1: the small models gain nothing from threaded kernels, and the context counts run on a second core); results do not depend on it.", DefaultValueFactory = _ => 1 };

    /// <summary>The model and learner configuration from --model and --set.</summary>
    public static (LmConfig Model, LearnerConfig Learner) Configure(ParseResult parse)
    {
        var model = Presets.Get(parse.GetValue(ModelOption)!);
        var learner = LearnerConfig.ForPreset(parse.GetValue(ModelOption)!);
        var sets = parse.GetValue(SetOption) ?? [];
        if (sets.Length == 0) return (model, learner);
        var m = JsonNode.Parse(model.ToJson())!.AsObject();
        var l = JsonNode.Parse(learner.ToJson())!.AsObject();
        foreach (var s in sets)
        try
        {
            int eq = s.IndexOf('=');
            if (eq <= 0) throw new EngramException($"--set '{s}': expected NAME=VALUE");
            var path = s[..eq].Split('.'); var value = s[(eq + 1)..];
            JsonObject target = m.ContainsKey(path[0]) ? m : l.ContainsKey(path[0]) ? l
                : throw new EngramException($"--set '{s}': no setting named '{path[0]}' (model: {string.Join(", ", m.Select(kv => kv.Key))}; learner: {string.Join(", ", l.Select(kv => kv.Key))})");
            for (int i = 0; i + 1 < path.Length; i++)
                target = target[path[i]] as JsonObject ?? throw new EngramException($"--set '{s}': '{path[i]}' has no fields");
            var old = target[path[^1]] ?? throw new EngramException($"--set '{s}': no setting named '{path[^1]}'");
            target[path[^1]] = old.GetValueKind() switch
            {
                System.Text.Json.JsonValueKind.Number => JsonValue.Create(double.Parse(value, Inv)),
                System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False => JsonValue.Create(bool.Parse(value)),
                System.Text.Json.JsonValueKind.Array => new JsonArray(value.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(v => (JsonNode)JsonValue.Create(double.Parse(v, Inv))).ToArray()),
                _ => JsonValue.Create(value),
            };
        }
        catch (FormatException) { throw new EngramException($"--set '{s}': the value has the wrong form for this setting"); }
        try { return (LmConfig.FromJson(m.ToJsonString()) with { Preset = model.Preset + "+" }, LearnerConfig.FromJson(l.ToJsonString())); }
        catch (Exception e) when (e is System.Text.Json.JsonException or FormatException or ArgumentException) { throw new EngramException($"--set: {e.Message}"); }
    }

    public static byte[] ReadInput(string file)
    {
        if (file == "-") { using var ms = new MemoryStream(); Console.OpenStandardInput().CopyTo(ms); return ms.ToArray(); }
        if (!File.Exists(file)) throw new EngramException($"{file}: no such file");
        return File.ReadAllBytes(file);
    }

    /// <summary>Progress lines on stderr about once a second: bytes, bits per byte, rate, ETA.</summary>
    sealed class Progress(long total, bool quiet)
    {
        readonly Stopwatch _sw = Stopwatch.StartNew();
        double _last = -1;
        public double Seconds => _sw.Elapsed.TotalSeconds;
        public void Report(long done, double bpb, long startedAt = 0)
        {
            double t = Seconds;
            if (quiet || (t - _last < 1 && done < total)) return;
            _last = t;
            double rate = (done - startedAt) / Math.Max(t, 1e-9);
            string eta = rate > 0 && total > done ? $"{(total - done) / rate:F0} s" : "0 s";
            Console.Error.WriteLine($"{done,12:N0} / {total:N0} bytes  {bpb:F4} bits/byte  {rate / 1000:F1} KB/s  ETA {eta}");
        }
    }

    public static int Learn(ParseResult parse, string file, string? brain, bool json)
    {
        var data = ReadInput(file);
        OnlineLearner learner;
        if (brain is not null && Brain.Exists(brain))
        {
            learner = Brain.Load(brain);
            if (parse.GetResult(ModelOption) is { Implicit: false } || (parse.GetValue(SetOption)?.Length ?? 0) > 0)
                Console.Error.WriteLine($"engram: resuming the brain in {brain} (model {learner.ModelConfig.Preset}); --model and --set are ignored");
        }
        else { var (m, l) = Configure(parse); learner = new OnlineLearner(m, l); }
        long start = learner.Position;
        double bitsBefore = learner.TotalBits;
        var progress = new Progress(data.Length, json);
        if (!json) Console.Error.WriteLine($"learning {data.Length:N0} bytes with model '{learner.ModelConfig.Preset}' ({learner.Model.ParameterCount():N0} parameters), chunks of {learner.Config.Chunk}{(start > 0 ? $", resuming at byte {start:N0} of the stream" : "")}");
        long lastSave = 0;
        var sw = Stopwatch.StartNew();
        for (int pos = 0; pos < data.Length; pos += learner.Config.Chunk)
        {
            learner.LearnChunk(data.AsSpan(pos, Math.Min(learner.Config.Chunk, data.Length - pos)));
            long done = pos + Math.Min(learner.Config.Chunk, data.Length - pos);
            progress.Report(done, (learner.TotalBits - bitsBefore) / done);
            if (json && sw.Elapsed.TotalSeconds - lastSave >= 10)
            {
                lastSave = (long)sw.Elapsed.TotalSeconds;
                Console.WriteLine(FormattableString.Invariant($"{{\"progress_bytes\":{done},\"bits_per_byte\":{(learner.TotalBits - bitsBefore) / done:F6},\"bytes_per_second\":{done / sw.Elapsed.TotalSeconds:F1}}}"));
            }
        }
        double seconds = sw.Elapsed.TotalSeconds;
        if (brain is not null) Brain.Save(learner, brain);
        double bpb = data.Length == 0 ? 0 : (learner.TotalBits - bitsBefore) / data.Length;
        if (json) Console.WriteLine(FormattableString.Invariant($"{{\"bytes\":{data.Length},\"bits_per_byte\":{bpb:F6},\"bytes_per_second\":{data.Length / Math.Max(seconds, 1e-9):F1},\"stream_bytes\":{learner.Position},\"stream_bits_per_byte\":{learner.BitsPerByte:F6}}}"));
        else
        {
            Console.WriteLine(FormattableString.Invariant($"learned {data.Length:N0} bytes in {seconds:F1} s ({data.Length / Math.Max(seconds, 1e-9) / 1000:F1} KB/s): {bpb:F4} bits per byte"));
            if (start > 0) Console.WriteLine(FormattableString.Invariant($"whole stream so far: {learner.Position:N0} bytes, {learner.BitsPerByte:F4} bits per byte"));
            if (brain is not null) Console.WriteLine($"brain saved to {brain}");
        }
        return 0;
    }

    public static int Compress(ParseResult parse, string input, string output, bool json)
    {
        var data = ReadInput(input);
        var (m, l) = Configure(parse);
        var progress = new Progress(data.Length, json);
        var bytes = Compressor.Compress(data, m, l, out var r, (done, bpb) => progress.Report(done, bpb));
        AtomicFile.WriteAllBytes(output, bytes);
        if (json) Console.WriteLine(FormattableString.Invariant($"{{\"bytes\":{r.Bytes},\"compressed_bytes\":{r.CompressedBytes},\"bits_per_byte\":{r.BitsPerByte:F6},\"bytes_per_second\":{r.BytesPerSecond:F1},\"model_bits_per_byte\":{r.ModelBitsPerByte:F6}}}"));
        else Console.WriteLine(FormattableString.Invariant($"{input}: {r.Bytes:N0} → {r.CompressedBytes:N0} bytes, {r.BitsPerByte:F4} bits per byte (model {r.ModelBitsPerByte:F4}), {r.BytesPerSecond / 1000:F1} KB/s"));
        return 0;
    }

    public static int Decompress(string input, string output, bool quiet)
    {
        if (!File.Exists(input)) throw new EngramException($"{input}: no such file");
        var file = File.ReadAllBytes(input);
        var sw = Stopwatch.StartNew();
        double last = 0;
        var data = Compressor.Decompress(file, input, (done, total) =>
        {
            if (quiet || sw.Elapsed.TotalSeconds - last < 1) return;
            last = sw.Elapsed.TotalSeconds;
            Console.Error.WriteLine($"{done,12:N0} / {total:N0} bytes  {done / sw.Elapsed.TotalSeconds / 1000:F1} KB/s");
        });
        AtomicFile.WriteAllBytes(output, data); // only after the checksum matched
        if (!quiet) Console.WriteLine($"{input}: {data.Length:N0} bytes restored to {output}, checksum verified");
        return 0;
    }

    public static int Generate(string brain, string? prompt, int length, double temperature, int topK, ulong seed)
    {
        if (length < 0) throw new EngramException($"--length must be ≥ 0, got {length}");
        if (!(temperature >= 0)) throw new EngramException($"--temperature must be ≥ 0, got {temperature}");
        var learner = Brain.Load(brain);
        var rng = new Generator(seed);
        var promptBytes = Encoding.UTF8.GetBytes(prompt ?? "");
        var logits = promptBytes.Length > 0 ? learner.Read(promptBytes) : learner.PeekNext();
        var outBytes = new List<byte>(promptBytes);
        var sampled = new byte[1];
        for (int i = 0; i < length; i++)
        {
            sampled[0] = Sample(logits, temperature, topK, rng);
            outBytes.Add(sampled[0]);
            logits = learner.Read(sampled);
        }
        Console.WriteLine(Encoding.UTF8.GetString(outBytes.ToArray()));
        return 0;
    }

    /// <summary>Samples a byte from logits: temperature 0 is greedy; top-k keeps the k most likely.</summary>
    public static byte Sample(float[] logits, double temperature, int topK, Generator rng)
    {
        int n = logits.Length;
        var order = Enumerable.Range(0, n).OrderByDescending(i => logits[i]).ThenBy(i => i).ToArray();
        if (temperature == 0) return (byte)order[0];
        int k = topK <= 0 ? n : Math.Min(topK, n);
        var p = new double[k];
        double max = logits[order[0]], sum = 0;
        for (int i = 0; i < k; i++) sum += p[i] = PortableMath.Exp((logits[order[i]] - max) / temperature);
        double u = rng.NextDouble() * sum;
        for (int i = 0; i < k; i++) { u -= p[i]; if (u <= 0) return (byte)order[i]; }
        return (byte)order[k - 1];
    }
}
