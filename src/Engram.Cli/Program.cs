// The `engram` command: learn, compress, decompress, generate (the continual learner) and bench (engine, determinism).
using System.CommandLine;
using Engram.Bench;
using Engram.Cli;
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

static int[] ParseSizes(string text) => text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(t =>
{
    var u = t.ToUpperInvariant();
    double scale = u.EndsWith("MB") ? 1e6 : u.EndsWith("KB") ? 1e3 : 1;
    var num = u.TrimEnd('M', 'K', 'B');
    return double.TryParse(num, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var v) && v * scale >= 0 && v * scale < int.MaxValue
        ? (int)(v * scale) : throw new EngramException($"'{t}' is not a size (expected e.g. 1000, 10KB, 1MB)");
}).ToArray();

var recallJson = new Option<bool>("--json") { Description = "One JSON object per line: {\"model\",\"distance\",\"repeats\",\"accuracy\",...}." };
var recallModels = new Option<string>("--models") { Description = "Comma-separated presets.", DefaultValueFactory = _ => $"{Engram.Models.Presets.Default},neural,transformer,gru" };
var recallDistances = new Option<string>("--distances") { Description = "Comma-separated distances.", DefaultValueFactory = _ => "1KB,10KB,100KB,1MB" };
var recallRepeats = new Option<string>("--repeats") { Description = "Comma-separated counts of plantings.", DefaultValueFactory = _ => "1,3" };
var recallFacts = new Option<int>("--facts") { Description = "Facts planted per stream.", DefaultValueFactory = _ => 10 };
var recallFiller = new Option<string?>("--filler") { Description = "Use this text file as the filler instead of the built-in generator." };
var recallPng = new Option<string>("--png") { Description = "Where to write the chart.", DefaultValueFactory = _ => "recall.png" };
var recallQuick = new Option<bool>("--quick") { Description = "Distances 1KB and 10KB only, facts seen once (a smoke test)." };
var recall = new Command("recall", "Long-range recall: facts planted in a stream, asked for after N bytes of other text.") { recallJson, recallModels, recallDistances, recallRepeats, recallFacts, recallFiller, recallPng, recallQuick };
recall.SetAction(parse => Guarded(parse, () =>
{
    bool quickRun = parse.GetValue(recallQuick);
    var filler = parse.GetValue(recallFiller);
    var o = new RecallBench.Options
    {
        Models = parse.GetValue(recallModels)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
        Distances = quickRun ? [1_000, 10_000] : ParseSizes(parse.GetValue(recallDistances)!),
        Repeats = quickRun ? [1] : parse.GetValue(recallRepeats)!.Split(',').Select(x => int.Parse(x, System.Globalization.CultureInfo.InvariantCulture)).ToArray(),
        Facts = parse.GetValue(recallFacts),
        LeadIn = quickRun ? 5_000 : 20_000,
        FillerText = filler is null ? null : File.Exists(filler) ? File.ReadAllText(filler) : throw new EngramException($"{filler}: no such file"),
    };
    foreach (var m in o.Models) Engram.Models.Presets.Get(m);
    bool asJson = parse.GetValue(recallJson);
    var results = RecallBench.Run(o, r =>
    {
        if (asJson) Console.WriteLine(RecallBench.Json(r));
        else Console.Error.WriteLine($"{r.Model} seen {r.Repeats}×, {RecallBench.Size(r.Distance)}: {r.Accuracy:P0} of facts, {r.FirstDigitAccuracy:P0} of first digits ({r.BytesPerSecond / 1000:F1} KB/s)");
    });
    var png = parse.GetValue(recallPng)!;
    RecallBench.Plot(results, png);
    if (!asJson) { Console.WriteLine(RecallBench.Table(results)); Console.WriteLine($"chart written to {png}"); }
    return 0;
}));
bench.Subcommands.Add(recall);

var forgetJson = new Option<bool>("--json") { Description = "One JSON object per stage." };
var forgetModel = new Option<string>("--model") { Description = "Model preset.", DefaultValueFactory = _ => Engram.Models.Presets.Default };
var forgetA = new Option<string?>("--a") { Description = "Text file for domain A (default: built-in countryside prose)." };
var forgetB = new Option<string?>("--b") { Description = "Text file for domain B (default: built-in seafaring prose)." };
var forgetTrain = new Option<string>("--train") { Description = "Bytes learned from each domain.", DefaultValueFactory = _ => "100KB" };
var forgetReturn = new Option<string>("--return") { Description = "Bytes of A learned again at the end.", DefaultValueFactory = _ => "10KB" };
var forgetting = new Command("forgetting", "Held-out loss on domain A before and after learning domain B, and after a short return to A.") { forgetJson, forgetModel, forgetA, forgetB, forgetTrain, forgetReturn };
forgetting.SetAction(parse => Guarded(parse, () =>
{
    string? Read(string? f) => f is null ? null : File.Exists(f) ? File.ReadAllText(f) : throw new EngramException($"{f}: no such file");
    var o = new ForgettingBench.Options { Model = parse.GetValue(forgetModel)!, TextA = Read(parse.GetValue(forgetA)), TextB = Read(parse.GetValue(forgetB)), TrainBytes = ParseSizes(parse.GetValue(forgetTrain)!)[0], ReturnBytes = ParseSizes(parse.GetValue(forgetReturn)!)[0] };
    Engram.Models.Presets.Get(o.Model);
    bool asJson = parse.GetValue(forgetJson);
    if (!asJson) Console.WriteLine($"{"stage",-20}{"bytes learned",14}{"held-out A",12}{"held-out B",12}   (bits per byte)");
    ForgettingBench.Run(o, p => Console.WriteLine(asJson ? ForgettingBench.Json(p) : $"{p.Stage,-20}{p.BytesLearned,14:N0}{p.HeldOutA,12:F3}{p.HeldOutB,12:F3}"));
    return 0;
}));
bench.Subcommands.Add(forgetting);

// A user's mistake (missing file, corrupt input, bad option value) is one clear line on stderr and exit code 2.
static int Guarded(ParseResult parse, Func<int> action)
{
    try
    {
        if (parse.GetResult(StreamCommands.ThreadsOption) is not null && parse.GetValue(StreamCommands.ThreadsOption) is int t) Engine.MaxThreads = t;
        return action();
    }
    catch (EngramException e) { Console.Error.WriteLine($"engram: {e.Message}"); return 2; }
    catch (IOException e) { Console.Error.WriteLine($"engram: {e.Message}"); return 2; }
    catch (UnauthorizedAccessException e) { Console.Error.WriteLine($"engram: {e.Message}"); return 2; }
}

var jsonOut = new Option<bool>("--json") { Description = "Machine-readable output: one JSON object per line." };
var fileArg = new Argument<string>("file") { Description = "File to read, or - for standard input." };
var brainOpt = new Option<string?>("--brain") { Description = "Folder holding the learner's whole state; resumed if it exists, saved at the end." };
var learn = new Command("learn", "Read a stream once, predicting each byte before learning from it; prints bits per byte.") { fileArg, brainOpt, StreamCommands.ModelOption, StreamCommands.SetOption, StreamCommands.ThreadsOption, jsonOut };
learn.SetAction(parse => Guarded(parse, () => StreamCommands.Learn(parse, parse.GetValue(fileArg)!, parse.GetValue(brainOpt), parse.GetValue(jsonOut))));
root.Subcommands.Add(learn);

var inArg = new Argument<string>("in") { Description = "Input file (- for standard input when compressing)." };
var outArg = new Argument<string>("out") { Description = "Output file (written atomically, only on success)." };
var compress = new Command("compress", "Compress a file with the online learner driving a range coder.") { inArg, outArg, StreamCommands.ModelOption, StreamCommands.SetOption, StreamCommands.ThreadsOption, jsonOut };
compress.SetAction(parse => Guarded(parse, () => StreamCommands.Compress(parse, parse.GetValue(inArg)!, parse.GetValue(outArg)!, parse.GetValue(jsonOut))));
root.Subcommands.Add(compress);

var quietOpt = new Option<bool>("--quiet") { Description = "No progress or summary." };
var decompress = new Command("decompress", "Restore a file written by `engram compress` (replays the same learning).") { inArg, outArg, StreamCommands.ThreadsOption, quietOpt };
decompress.SetAction(parse => Guarded(parse, () => StreamCommands.Decompress(parse.GetValue(inArg)!, parse.GetValue(outArg)!, parse.GetValue(quietOpt))));
root.Subcommands.Add(decompress);

var genBrain = new Option<string>("--brain") { Description = "Brain folder written by `engram learn --brain`.", Required = true };
var prompt = new Option<string?>("--prompt") { Description = "Text the model reads first (its fast weights move as it reads)." };
var length = new Option<int>("--length") { Description = "Bytes to generate.", DefaultValueFactory = _ => 200 };
var temperature = new Option<double>("--temperature") { Description = "Sampling temperature (0: greedy).", DefaultValueFactory = _ => 0.8 };
var topK = new Option<int>("--top-k") { Description = "Sample among the k most likely bytes (0: all).", DefaultValueFactory = _ => 0 };
var seed = new Option<ulong>("--seed") { Description = "Seed of the sampler.", DefaultValueFactory = _ => 1 };
var generate = new Command("generate", "Continue a prompt with a learned brain (the brain on disk is not changed).") { genBrain, prompt, length, temperature, topK, seed, StreamCommands.ThreadsOption };
generate.SetAction(parse => Guarded(parse, () => StreamCommands.Generate(parse.GetValue(genBrain)!, parse.GetValue(prompt), parse.GetValue(length), parse.GetValue(temperature), parse.GetValue(topK), parse.GetValue(seed))));
root.Subcommands.Add(generate);

var demoModel = new Option<string>("--model") { Description = "Model preset.", DefaultValueFactory = _ => Engram.Models.Presets.Default };
var demoFiller = new Option<int>("--distance") { Description = "Bytes of other text between the facts and the questions.", DefaultValueFactory = _ => 200_000 };
var demoFacts = new Option<int>("--facts") { Description = "Facts to plant.", DefaultValueFactory = _ => 10 };
var demoJson = new Option<bool>("--json") { Description = "One JSON object with the figures." };
var demo = new Command("demo", "Learn a generated stream online, compare with gzip and brotli, and ask planted facts back.") { demoModel, demoFiller, demoFacts, demoJson, StreamCommands.ThreadsOption };
demo.SetAction(parse => Guarded(parse, () => DemoCommand.Run(parse.GetValue(demoModel)!, parse.GetValue(demoFiller), parse.GetValue(demoFacts), parse.GetValue(demoJson))));
root.Subcommands.Add(demo);
ReasoningCommands.Add(root, bench, Guarded);

return root.Parse(args).Invoke();
