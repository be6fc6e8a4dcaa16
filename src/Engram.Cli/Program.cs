// The `engram` command. For now: `engram bench engine [--json] [--quick] [--full] [--threads N]` and `engram bench determinism`.
using System.CommandLine;
using Engram.Bench;
using Engram.Tensors;

var root = new RootCommand("Engram: neural models that never stop learning.");
var bench = new Command("bench", "Measure speed.");
var engine = new Command("engine", "GEMM GFLOP/s at n = 64, 256, 512, 1024 and tiny-step latency (forward, forward+backward).");
var json = new Option<bool>("--json") { Description = "Print one JSON object per line instead of a table." };
var quick = new Option<bool>("--quick") { Description = "Short timing windows (a smoke test, not a measurement)." };
var threads = new Option<int?>("--threads") { Description = "Threads for kernels (default: all cores)." };
var full = new Option<bool>("--full") { Description = "Also tall-skinny GEMMs, attention at T = 81, 900, 4096 and a 2-block Transformer training step (fused vs composed)." };
engine.Options.Add(json); engine.Options.Add(quick); engine.Options.Add(threads); engine.Options.Add(full);
engine.SetAction(parse =>
{
    try
    {
        if (parse.GetValue(threads) is int t) Engine.MaxThreads = t;
        bool asJson = parse.GetValue(json);
        var figures = EngineBench.Measure(parse.GetValue(quick), asJson ? null : s => Console.Error.WriteLine($"measuring {s} ..."), parse.GetValue(full));
        if (asJson) foreach (var f in figures) Console.WriteLine(EngineBench.ToJson(f));
        else Console.WriteLine(EngineBench.Table(figures));
        return 0;
    }
    catch (EngramException e)
    {
        Console.Error.WriteLine($"engram: {e.Message}");
        return 2;
    }
});
bench.Subcommands.Add(engine);

var determinism = new Command("determinism", "Hash of a short float32 training run; it must be the same on every machine and SIMD path.");
var detJson = new Option<bool>("--json") { Description = "Print one JSON object." };
determinism.Options.Add(detJson);
determinism.SetAction(parse =>
{
    var (hash, path) = DeterminismBench.Run();
    Console.WriteLine(parse.GetValue(detJson)
        ? $"{{\"metric\":\"determinism_hash\",\"path\":\"{path}\",\"value\":\"{hash}\"}}"
        : $"determinism hash {hash} (SIMD path {path}, {Environment.ProcessorCount} cores)");
    return 0;
});
bench.Subcommands.Add(determinism);
root.Subcommands.Add(bench);
return root.Parse(args).Invoke();
