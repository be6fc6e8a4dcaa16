// `engram bench mqar`: multi-query associative recall for every mixer (fast-weight presets, attention, GRU) over a grid
// of widths, lengths and key–value pairs; a table (or JSON lines) of held-out accuracy and charts of accuracy by pairs.
using System.CommandLine;
using Engram.Experiments;
using Engram.Tensors;

namespace Engram.Cli.Commands;

static class MqarCommand
{
    public static Command Create()
    {
        var defaults = new MqarBench.Options();
        var layers = Shared.ChoicesOption("--layers", "Sequence mixers", [.. MqarLayer.Names], [.. MqarLayer.Names]);
        var widths = Shared.IntsOption("--widths", "Model widths (default 64; --full: 64,128)", defaults.Widths, 2, 1024);
        var lengths = Shared.IntsOption("--lengths", "Sequence lengths (default 64,128,256; --full: 64,128,256,512)",
            defaults.Lengths, 4, 4096);
        var pairs = Shared.IntsOption("--pairs", "Key-value pairs; a setting runs where length ≥ 4 × pairs (default 4,16,64; " +
            "--full: 4,8,16,32,64)", defaults.Pairs, 1, 1024);
        var steps = Shared.OptionalInt("--steps", $"Optimizer steps per setting (default {defaults.Steps}; --full: {FullSteps}).", 1);
        var batch = Shared.IntOption("--batch", "Sequences per step.", defaults.Batch, 1, 4096);
        var lr = Shared.OptionalDouble("--lr", $"Adam learning rate (default {defaults.LearningRate}).", 1e-6, 1);
        var vocab = Shared.IntOption("--vocab", "Vocabulary: 0 filler, keys below half, values above.", defaults.Vocab, 8, 65536);
        var heads = Shared.IntOption("--heads", "Heads of the attention and fast-weight mixers.", defaults.Heads, 1, 64);
        var conv = Shared.IntOption("--conv", "Taps of the causal convolution before each mixer (0: none).", defaults.Conv, 0, 64);
        var test = Shared.IntOption("--test", "Held-out sequences per setting.", defaults.TestSequences, 1, 100_000);
        var full = new Option<bool>("--full") { Description = "The full grid: widths 64,128, lengths up to 512, pairs 4..64, more steps." };
        var png = new Option<string>("--png")
        {
            Description = "Chart of accuracy by pairs (one file per width and length, suffixed -w<width>-l<length>, when several).",
            DefaultValueFactory = _ => "mqar.png",
        };
        var seed = Shared.Seed("Seed of the weights, the training batches and the held-out sets.");
        var command = new Command("mqar", "Multi-query associative recall (Zoology): held-out accuracy of each sequence mixer by " +
            "width, length and key-value pairs. --threads: settings trained side by side, one core each.")
            { layers, widths, lengths, pairs, steps, batch, lr, vocab, heads, conv, test, full, png, seed, Shared.Json, Shared.Threads };
        command.SetAction(parse =>
        {
            bool isFull = parse.GetValue(full);
            int[] Grid(Option<int[]> option, int[] wide) =>
                isFull && parse.GetResult(option) is null ? wide : parse.GetValue(option)!;
            var o = new MqarBench.Options
            {
                Layers = parse.GetValue(layers)!, Widths = Grid(widths, [64, 128]), Lengths = Grid(lengths, [64, 128, 256, 512]),
                Pairs = Grid(pairs, [4, 8, 16, 32, 64]), Steps = parse.GetValue(steps) ?? (isFull ? FullSteps : defaults.Steps),
                Batch = parse.GetValue(batch), LearningRate = parse.GetValue(lr) ?? defaults.LearningRate, Vocab = parse.GetValue(vocab),
                Heads = parse.GetValue(heads), Conv = parse.GetValue(conv), TestSequences = parse.GetValue(test),
                Seed = parse.GetValue(seed),
                Parallel = parse.GetValue(Shared.Threads) ?? Math.Max(1, Environment.ProcessorCount),
            };
            MqarBench.Validate(o);
            var chart = Shared.CheckOutput(parse.GetValue(png)!, null);
            bool asJson = parse.GetValue(Shared.Json);
            var grid = MqarBench.Grid(o);
            Console.Error.WriteLine($"MQAR: {grid.Count} settings, vocabulary {o.Vocab}, {o.Steps} steps of {o.Batch} sequences each, " +
                $"learning rate {o.LearningRate}, {o.TestSequences} held-out sequences per setting");
            double lastReport = double.NegativeInfinity;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var results = MqarBench.Run(o, p =>
            {
                if (clock.Elapsed.TotalSeconds - lastReport < 10 && p.Step < p.Steps) return;
                lastReport = clock.Elapsed.TotalSeconds;
                Console.Error.WriteLine(FormattableString.Invariant(
                    $"[{p.Index + 1}/{p.Count}] {p.Setting}: step {p.Step}/{p.Steps} loss {p.Loss:F3} ") +
                    FormattableString.Invariant($"({p.Step / Math.Max(p.RunSeconds, 1e-9):F1} steps/s), ") +
                    FormattableString.Invariant($"grid ETA {p.EtaSeconds / 60:F1} min"));
            }, r =>
            {
                if (asJson) Console.WriteLine(MqarBench.Json(r));
                else Console.Error.WriteLine(FormattableString.Invariant(
                    $"  {r.Layer} width {r.Width} L={r.Length} N={r.Pairs}: accuracy {r.Accuracy * 100:F1}% in {r.Seconds:F0} s"));
            });
            var files = MqarBench.Plot(results, chart, o.Vocab);
            if (!asJson)
            {
                Console.Write(MqarBench.Table(results));
                Console.WriteLine(FormattableString.Invariant($"{clock.Elapsed.TotalMinutes:F1} min; ") +
                    $"chart written to {string.Join(", ", files)}");
            }
            return ExitCode.Success;
        });
        return command;
    }

    const int FullSteps = 1000;
}
