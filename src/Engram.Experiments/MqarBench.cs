// `engram bench mqar`: multi-query associative recall (Zoology, Arora et al. 2023) for every mixer of MqarModel.cs over
// a grid of widths, sequence lengths and numbers of key–value pairs. Each cell trains a fresh model offline (Adam, warm-up,
// stable rate, then decay; gradient norm clipped at 1; fresh batches from a seeded generator, so no example is seen twice),
// then measures accuracy at the query positions of a held-out set drawn from another seed. Within a setting every layer
// sees the same training batches and the same test set; a cell's figures depend only on the seed and its own settings.
// Zoology trains 64 epochs of 100,000 sequences and sweeps the learning rate per model; this bench's default budget is
// 250 steps of 32 at one rate, so it measures what each mixer learns quickly, and marks the cells still on the plateau.
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Engram.Tasks;
using Engram.Tensors;
using Engram.Tensors.Optim;

namespace Engram.Experiments;

public static class MqarBench
{
    public sealed record Options
    {
        public string[] Layers { get; init; } = [.. MqarLayer.Names];
        public int[] Widths { get; init; } = [64];
        public int[] Lengths { get; init; } = [64, 128];
        public int[] Pairs { get; init; } = [4, 16];
        public int Vocab { get; init; } = 256;
        public int Heads { get; init; } = 2;
        public int Conv { get; init; } = 4;
        public int Steps { get; init; } = 250;
        public int Batch { get; init; } = 32;
        public double LearningRate { get; init; } = 1e-2;
        public int TestSequences { get; init; } = 256;
        public ulong Seed { get; init; } = 1;
        /// <summary>Most sequences × length × width² in one forward pass (MicroBatch): the default grid's largest cell.</summary>
        public double PassLimit { get; init; } = 32.0 * 256 * 64 * 64;
        /// <summary>Cells trained side by side, one core each (results do not depend on it).</summary>
        public int Parallel { get; init; } = Math.Max(1, Environment.ProcessorCount);

        /// <summary>The full grid (Zoology's Figure 2 range at our two smallest widths): days on two cores, see the report.</summary>
        public Options Full() => this with { Widths = [64, 128], Lengths = [64, 128, 256, 512], Pairs = [4, 8, 16, 32, 64], Steps = 1000 };
    }

    /// <summary>Linear warm-up over the first tenth, the base rate until four fifths, then a linear decay to a tenth of it. A
    /// short budget spends most of its steps at the full rate, where the escape from MQAR's loss plateau (the model knows
    /// which values the sequence holds, not which goes with which key) comes sooner than under a cosine decay.</summary>
    public sealed record WarmupStableDecay(double BaseLr, long TotalSteps) : ILearningRateSchedule
    {
        public double At(long step)
        {
            long warmup = Math.Max(1, TotalSteps / 10), decayFrom = TotalSteps * 4 / 5;
            if (step < warmup) return BaseLr * (step + 1) / warmup;
            if (step < decayFrom) return BaseLr;
            double progress = Math.Min(1, (double)(step - decayFrom) / Math.Max(1, TotalSteps - decayFrom));
            return BaseLr * (1 - 0.9 * progress);
        }
    }

    /// <summary>One cell of the grid.</summary>
    public sealed record Setting(string Layer, int Width, int Length, int Pairs)
    {
        public override string ToString() => $"{Layer} width {Width} L={Length} N={Pairs}";
    }

    /// <summary>Accuracy: fraction of the held-out queries whose value the model ranked first. TrainLoss: mean
    /// cross-entropy (nats) over the last tenth of the training steps; NaN or ∞ when training diverged, which stops it (Steps
    /// then says where).</summary>
    public sealed record Result(string Layer, int Width, int Length, int Pairs, double Accuracy, long Steps, double Seconds,
        long Parameters, double TrainLoss, int Queries)
    {
        /// <summary>Training ended on (or above) the plateau where the model knows which N values the sequence holds but not
        /// which goes with which key (loss ≥ ¾ ln N): the budget ran out before the cell learned to recall — or it cannot.</summary>
        public bool OnPlateau => Pairs > 1 && double.IsFinite(TrainLoss) && TrainLoss >= 0.75 * Math.Log(Pairs);

        public bool Diverged => !double.IsFinite(TrainLoss);
    }

    /// <summary>Where a run is: cell `Index` of `Count`, its step, the latest training loss and the seconds so far.</summary>
    public readonly record struct Progress(int Index, int Count, Setting Setting, long Step, long Steps, double Loss,
        double RunSeconds, double EtaSeconds);

    /// <summary>The cells of the grid, by width, length, pairs, then layer, keeping only settings where every key can be
    /// queried (4 × pairs ≤ length).</summary>
    public static List<Setting> Grid(Options o) =>
        (from w in o.Widths.Distinct() from l in o.Lengths.Distinct() from n in o.Pairs.Distinct() where 4 * n <= l
         from layer in o.Layers.Distinct() select new Setting(layer, w, l, n)).ToList();

    /// <summary>Checks the options before any work; throws an EngramException naming what is wrong.</summary>
    public static void Validate(Options o)
    {
        foreach (var l in o.Layers) MqarLayer.Get(l);
        if (Grid(o).Count == 0)
            throw new EngramException("MQAR: no setting of the grid has room for its queries (each needs length ≥ 4 × pairs)");
        foreach (var w in o.Widths)
            if (w % o.Heads != 0) throw new EngramException($"MQAR: width {w} is not a multiple of {o.Heads} heads");
        foreach (var s in Grid(o)) Spec(o, s).Validate();
        if (o.Steps < 1 || o.Batch < 1 || o.TestSequences < 1 || o.Parallel < 1)
            throw new EngramException("MQAR: steps, batch, test sequences and parallel runs must be ≥ 1");
        if (!(o.LearningRate > 0) || !double.IsFinite(o.LearningRate))
            throw new EngramException($"MQAR: the learning rate must be positive, got {o.LearningRate}");
    }

    public static MqarSpec Spec(Options o, Setting s) => new(o.Vocab, s.Length, s.Pairs);

    /// <summary>A seed for one purpose of one setting (splitmix64 over the parts), so cells never share a generator.</summary>
    static ulong SeedOf(ulong seed, params ulong[] parts)
    {
        ulong h = seed;
        foreach (var p in parts)
        {
            h += 0x9E3779B97F4A7C15UL ^ p;
            h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9UL;
            h = (h ^ (h >> 27)) * 0x94D049BB133111EBUL;
            h ^= h >> 31;
        }
        return h;
    }

    /// <summary>Trains one cell and evaluates it on this thread (a loss that turns NaN is reported, not thrown: the cell
    /// then scores what it scores). `progress` is called after every step with the step, its loss and the seconds so far.</summary>
    public static Result Train(Options o, Setting s, Action<long, double, double>? progress = null)
    {
        try { return TrainAndEvaluate(o, s, progress); }
        finally { TensorScope.ClearPool(); } // the cell's pooled storage: gigabytes for the deep memories at L = 256
    }

    static Result TrainAndEvaluate(Options o, Setting s, Action<long, double, double>? progress)
    {
        var spec = Spec(o, s);
        spec.Validate();
        var sw = Stopwatch.StartNew();
        var config = new MqarModelConfig(s.Layer, o.Vocab, s.Width, o.Heads, Conv: o.Conv);
        var model = new MqarModel(config, new Generator(SeedOf(o.Seed, 1, (ulong)s.Width)));
        var parameters = model.Parameters().ToList();
        var optimizer = new Adam(parameters, o.LearningRate)
        {
            Schedule = new WarmupStableDecay(o.LearningRate, o.Steps),
        };
        var data = new Generator(SeedOf(o.Seed, 2, (ulong)s.Length, (ulong)s.Pairs));
        int tail = Math.Max(1, o.Steps / 10), micro = MicroBatch(o, s);
        double tailLoss = 0;
        long steps = 0;
        while (steps < o.Steps)
        {
            var batch = Mqar.Generate(spec, o.Batch, data);
            double loss = 0;
            optimizer.ZeroGrad();
            for (int start = 0; start < batch.Count; start += micro)
            {
                // mean over the batch's queries = Σ over micro-batches of (their share) × (their mean); gradients add up
                var part = batch.Slice(start, Math.Min(micro, batch.Count - start));
                using var scope = TensorScope.Begin();
                var logits = model.Forward(part.Inputs, part.Count, part.QueryPositions);
                var l = Functional.CrossEntropy(logits, part.QueryTargets());
                if (part.Count != batch.Count) l = l * ((double)part.Count / batch.Count);
                l.Backward();
                loss += l.Item();
            }
            Optimizer.ClipGradNorm(parameters, 1.0);
            optimizer.Step();
            steps++;
            if (steps > o.Steps - tail) tailLoss += loss / tail;
            progress?.Invoke(steps, loss, sw.Elapsed.TotalSeconds);
            if (!double.IsFinite(loss)) { tailLoss = loss; break; } // diverged: the weights are lost, the rest would be NaN
        }
        var test = Mqar.Generate(spec, o.TestSequences, new Generator(SeedOf(o.Seed, 3, (ulong)s.Length, (ulong)s.Pairs)));
        var (right, total) = Evaluate(model, test, micro);
        return new Result(s.Layer, s.Width, s.Length, s.Pairs, (double)right / total, steps, sw.Elapsed.TotalSeconds,
            model.ParameterCount(), tailLoss, total);
    }

    /// <summary>Sequences per forward pass: the whole batch while sequences × length × width² stays within PassLimit (32
    /// sequences of 256 tokens at width 64), halved until it fits beyond — training memory grows with that product
    /// (the deep memories keep a copy of their inner weights per sequence and mini-batch: titans at width 128, L = 512
    /// and 32 sequences took 23 GB in one pass). A split batch takes the same step up to float rounding.</summary>
    public static int MicroBatch(Options o, Setting s)
    {
        int micro = o.Batch;
        while (micro > 1 && (double)micro * s.Length * s.Width * s.Width > o.PassLimit) micro = (micro + 1) / 2;
        return micro;
    }

    /// <summary>Queries answered right (value ranked first) and queries asked, over `set` in batches.</summary>
    public static (int Right, int Total) Evaluate(MqarModel model, MqarBatch set, int batch)
    {
        int right = 0;
        using var noGrad = Autograd.NoGrad();
        for (int start = 0; start < set.Count; start += batch)
        {
            var part = set.Slice(start, Math.Min(batch, set.Count - start));
            using var scope = TensorScope.Begin();
            var predicted = model.Forward(part.Inputs, part.Count, part.QueryPositions).Argmax(-1);
            var targets = part.QueryTargets();
            for (int i = 0; i < targets.Length; i++) if (predicted[i] == targets[i]) right++;
        }
        return (right, set.QueryPositions.Length);
    }

    /// <summary>Runs every cell of the grid, `Parallel` side by side (each on one core: the engine's kernels are held to one
    /// thread meanwhile, which changes no result), longest first. Progress comes with an estimate of the time left from the
    /// seconds so far per unit of expected cost (the layer's relative cost × steps × length × width); results come in grid
    /// order as soon as every earlier cell is done.</summary>
    public static List<Result> Run(Options o, Action<Progress> progress, Action<Result> onResult)
    {
        Validate(o);
        var grid = Grid(o);
        var cost = grid.Select(s => MqarLayer.Get(s.Layer).Cost * o.Steps * s.Length * s.Width).ToArray();
        var doneFraction = new double[grid.Count];
        var results = new Result?[grid.Count];
        int reported = 0;
        var clock = Stopwatch.StartNew();
        var gate = new object();
        var order = Enumerable.Range(0, grid.Count).OrderByDescending(i => cost[i]).ToArray();
        int savedThreads = Engine.MaxThreads;
        if (o.Parallel > 1) Engine.MaxThreads = 1;
        try
        {
            // NoBuffering: each worker takes the next cell in `order` when it is free, so the longest cells start first
            var next = Partitioner.Create(order, EnumerablePartitionerOptions.NoBuffering);
            System.Threading.Tasks.Parallel.ForEach(next, new ParallelOptions { MaxDegreeOfParallelism = o.Parallel }, i =>
            {
                var r = Train(o, grid[i], (step, loss, seconds) =>
                {
                    lock (gate)
                    {
                        doneFraction[i] = (double)step / o.Steps;
                        double done = 0;
                        for (int j = 0; j < grid.Count; j++) done += doneFraction[j] * cost[j];
                        double eta = clock.Elapsed.TotalSeconds * (cost.Sum() - done) / done;
                        progress(new Progress(i, grid.Count, grid[i], step, o.Steps, loss, seconds, eta));
                    }
                });
                lock (gate)
                {
                    results[i] = r;
                    while (reported < grid.Count && results[reported] is { } next) { onResult(next); reported++; }
                }
            });
        }
        finally { Engine.MaxThreads = savedThreads; }
        return results.Select(r => r!).ToList();
    }

    sealed record Line(string Layer, int Width, int Length, int Pairs, double Accuracy, long Steps, double Seconds, long Parameters,
        double TrainLoss, bool OnPlateau, bool Diverged, int Queries);

    public static string Json(Result r) => JsonLines.Serialize(new Line(r.Layer, r.Width, r.Length, r.Pairs, JsonLines.Round(r.Accuracy, 4),
        r.Steps, JsonLines.Round(r.Seconds, 1), r.Parameters, JsonLines.Round(r.TrainLoss, 4), r.OnPlateau, r.Diverged,
        r.Queries));

    /// <summary>One row per setting, one column per layer: held-out accuracy in percent, * where training ended on the
    /// plateau (Result.OnPlateau), ! where it diverged, with notes saying so.</summary>
    public static string Table(IReadOnlyList<Result> results)
    {
        var layers = results.Select(r => r.Layer).Distinct().ToList();
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{"width",6}{"length",7}{"pairs",6}");
        foreach (var l in layers) sb.Append(CultureInfo.InvariantCulture, $"{l,13}");
        sb.AppendLine();
        foreach (var g in results.GroupBy(r => (r.Width, r.Length, r.Pairs)))
        {
            sb.Append(CultureInfo.InvariantCulture, $"{g.Key.Width,6}{g.Key.Length,7}{g.Key.Pairs,6}");
            foreach (var l in layers)
            {
                var r = g.FirstOrDefault(r => r.Layer == l);
                string mark = r is null ? "" : r.Diverged ? "!" : r.OnPlateau ? "*" : " ";
                sb.Append(r is null ? $"{"-",13}" : string.Create(CultureInfo.InvariantCulture, $"{r.Accuracy * 100,11:F1}%{mark}"));
            }
            sb.AppendLine();
        }
        sb.Append(CultureInfo.InvariantCulture, $"{"seconds",19}");
        foreach (var l in layers) sb.Append(CultureInfo.InvariantCulture, $"{results.Where(r => r.Layer == l).Sum(r => r.Seconds),12:F0} ");
        sb.AppendLine();
        if (results.Any(r => r.OnPlateau))
            sb.AppendLine("* training ended on the plateau (loss ≥ ¾ ln pairs: the model knows which values the sequence holds, " +
                "not which goes with which key): more steps may get past it, or the layer cannot");
        foreach (var r in results.Where(r => r.Diverged))
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"! {r.Layer} at width {r.Width}, L={r.Length}, N={r.Pairs}: the training loss became {r.TrainLoss} at step {r.Steps}"));
        return sb.ToString();
    }

    /// <summary>The chart files: `path` itself when the results hold one width and one length, else one per pair of them
    /// with "-w{width}-l{length}" before the extension.</summary>
    public static List<(string Path, int Width, int Length)> ChartPaths(string path, IReadOnlyList<Result> results)
    {
        var panels = results.Select(r => (r.Width, r.Length)).Distinct().ToList();
        if (panels.Count == 1) return [(path, panels[0].Width, panels[0].Length)];
        string stem = Path.Combine(Path.GetDirectoryName(path) ?? "", Path.GetFileNameWithoutExtension(path));
        string ext = Path.GetExtension(path);
        return panels.Select(p => (string.Create(CultureInfo.InvariantCulture, $"{stem}-w{p.Width}-l{p.Length}{ext}"), p.Width, p.Length))
            .ToList();
    }

    /// <summary>Accuracy against the number of pairs, one line per layer (diverged cells left out), one chart per width and
    /// length; returns the files.</summary>
    public static List<string> Plot(IReadOnlyList<Result> results, string path, int vocab)
    {
        var written = new List<string>();
        foreach (var (file, width, length) in ChartPaths(path, results))
        {
            var cell = results.Where(r => r.Width == width && r.Length == length && !r.Diverged).ToList(); // a NaN model scores nothing
            var series = cell.GroupBy(r => r.Layer).Select(g => new PngChart.Series(g.Key, g.Select(r => (double)r.Pairs).ToArray(),
                g.Select(r => r.Accuracy).ToArray())).ToList();
            if (series.Count == 0) continue;
            new PngChart().Save(file, string.Create(CultureInfo.InvariantCulture,
                    $"MQAR held-out accuracy, width {width}, length {length}, vocabulary {vocab}"),
                "key-value pairs", "accuracy", series, logX: true, 0, 1, k => ((int)Math.Round(k)).ToString(CultureInfo.InvariantCulture));
            written.Add(file);
        }
        return written;
    }
}
