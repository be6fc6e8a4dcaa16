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
        var full = defaults.Full();
        string Both(Func<MqarBench.Options, int[]> get) =>
            $"default {string.Join(",", get(defaults))}; --full: {string.Join(",", get(full))}";
        var layers = Shared.ChoicesOption("--layers", "Sequence mixers", [.. MqarLayer.Names], [.. MqarLayer.Names]);
        var widths = Shared.IntsOption("--widths", $"Model widths ({Both(o => o.Widths)})", defaults.Widths, 2, 1024);
        var lengths = Shared.IntsOption("--lengths", $"Sequence lengths ({Both(o => o.Lengths)})", defaults.Lengths, 4, 4096);
        var pairs = Shared.IntsOption("--pairs", $"Key-value pairs; a setting runs where length ≥ 4 × pairs ({Both(o => o.Pairs)})",
            defaults.Pairs, 1, 1024);
        var steps = Shared.OptionalInt("--steps", $"Optimizer steps per setting (default {defaults.Steps}; --full: {full.Steps}).", 1);
        var batch = Shared.IntOption("--batch", "Sequences per step.", defaults.Batch, 1, 4096);
        var lr = Shared.OptionalDouble("--lr", $"Adam learning rate (default {defaults.LearningRate}).", 1e-6, 1);
        var vocab = Shared.IntOption("--vocab", "Vocabulary: 0 filler, keys below half, values above.", defaults.Vocab, 8, 65536);
        var heads = Shared.IntOption("--heads", "Heads of the attention and fast-weight mixers.", defaults.Heads, 1, 64);
        var conv = Shared.IntOption("--conv", "Taps of the causal convolution before each mixer (0: none).", defaults.Conv, 0, 64);
        var test = Shared.IntOption("--test", "Held-out sequences per setting.", defaults.TestSequences, 1, 100_000);
        var fullGrid = new Option<bool>("--full")
        {
            Description = "The full grid (Zoology's lengths and pairs at widths 64 and 128) and more steps: days on two cores."
        };
        var png = new Option<string>("--png")
        {
            Description = "Chart of accuracy by pairs (one file per width and length, suffixed -w<width>-l<length>, when several).",
            DefaultValueFactory = _ => "mqar.png",
        };
        var seed = Shared.Seed("Seed of the weights, the training batches and the held-out sets.");
        var command = new Command("mqar", "Multi-query associative recall (Zoology): held-out accuracy of each sequence mixer by " +
            "width, length and key-value pairs. --threads: settings trained side by side, one core each.")
        {
            layers, widths, lengths, pairs, steps, batch, lr, vocab, heads, conv, test, fullGrid, png, seed, Shared.Json, Shared.Threads
        };
        command.SetAction(parse =>
        {
            var grid = parse.GetValue(fullGrid) ? full : defaults;
            int[] Grid(Option<int[]> option, int[] chosen) =>
                parse.GetResult(option) is { Implicit: false } ? parse.GetValue(option)! : chosen;
            var o = new MqarBench.Options
            {
                Layers = parse.GetValue(layers)!, Widths = Grid(widths, grid.Widths), Lengths = Grid(lengths, grid.Lengths),
                Pairs = Grid(pairs, grid.Pairs), Steps = parse.GetValue(steps) ?? grid.Steps,
                Batch = parse.GetValue(batch), LearningRate = parse.GetValue(lr) ?? defaults.LearningRate, Vocab = parse.GetValue(vocab),
                Heads = parse.GetValue(heads), Conv = parse.GetValue(conv), TestSequences = parse.GetValue(test),
                Seed = parse.GetValue(seed),
                Parallel = parse.GetValue(Shared.Threads) ?? Math.Max(1, Environment.ProcessorCount),
            };
            MqarBench.Validate(o);
            var chart = Shared.CheckOutput(parse.GetValue(png)!, null);
            bool asJson = parse.GetValue(Shared.Json);
            Console.Error.WriteLine($"MQAR: {MqarBench.Grid(o).Count} settings, vocabulary {o.Vocab}, {o.Steps} steps of {o.Batch} " +
                $"sequences each, learning rate {o.LearningRate}, {o.TestSequences} held-out sequences per setting, " +
                $"{o.Parallel} at a time");
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
}
