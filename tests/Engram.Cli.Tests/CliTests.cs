// The `engram` command end to end: runs the built program as a user would.
using System.Text.Json;

namespace Engram.Cli.Tests;

public class CliTests
{
    static (int Code, string Out, string Err) Run(params string[] args) => RunWith(new Dictionary<string, string>(), args);

    static (int Code, string Out, string Err) RunWith(Dictionary<string, string> env, params string[] args)
        => EngramProcess.Run(env, 120, args);

    [Fact]
    public void BenchEngineJsonPrintsEveryMetric()
    {
        var (code, output, err) = Run("bench", "engine", "--json", "--quick");
        Assert.True(code == 0, err);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var docs = lines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var gemm = docs.Where(d => d.GetProperty("metric").GetString() == "gemm_gflops").ToList();
        Assert.Equal(new[] { 64, 256, 512, 1024 }, gemm.Select(d => d.GetProperty("n").GetInt32()));
        Assert.All(gemm, d => Assert.True(d.GetProperty("value").GetDouble() > 0));
        Assert.Contains(docs, d => d.GetProperty("metric").GetString() == "tiny_fwd_us" && d.GetProperty("value").GetDouble() > 0);
        Assert.Contains(docs, d => d.GetProperty("metric").GetString() == "fma_peak_gflops" && d.GetProperty("value").GetDouble() > 0);
        Assert.Contains(docs, d => d.GetProperty("metric").GetString() == "tiny_fwd_bwd_us" && d.GetProperty("value").GetDouble() > 0);
    }

    [Fact]
    public void BenchEngineFullAddsModelFigures()
    {
        var (code, output, err) = Run("bench", "engine", "--json", "--quick", "--full");
        Assert.True(code == 0, err);
        var docs = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        string Metric(JsonElement d) => d.GetProperty("metric").GetString()!;
        Assert.Contains(docs, d => Metric(d) == "gemm_gflops" && d.TryGetProperty("m", out var m) && m.GetInt32() == 81);
        Assert.Contains(docs, d => Metric(d) == "attention_fwd_bwd_ms" && d.GetProperty("impl").GetString() == "fused"
            && d.GetProperty("t").GetInt32() == 81);
        Assert.Contains(docs, d => Metric(d) == "attention_fwd_bwd_ms" && d.GetProperty("impl").GetString() == "composed");
        Assert.Equal(2, docs.Count(d => Metric(d) == "transformer_step_ms" && d.GetProperty("value").GetDouble() > 0));
    }

    [Fact]
    public void TrainingIsBitIdenticalOnEverySimdPathAndThreadCount()
    {
        (string Path, string Hash) Hash(Dictionary<string, string> env, params string[] extra)
        {
            var (code, output, err) = RunWith(env, ["bench", "determinism", "--json", .. extra]);
            Assert.True(code == 0, err);
            var d = JsonDocument.Parse(output.Trim()).RootElement;
            return (d.GetProperty("path").GetString()!, d.GetProperty("value").GetString()!);
        }
        var native = Hash(new());
        var noAvx512 = Hash(new() { ["DOTNET_EnableAVX512"] = "0" });
        var noAvx2 = Hash(new() { ["DOTNET_EnableAVX2"] = "0" });
        var oneThread = Hash(new() { ["DOTNET_PROCESSOR_COUNT"] = "1" });
        Assert.Equal(native.Hash, noAvx512.Hash);
        Assert.Equal(native.Hash, noAvx2.Hash);
        Assert.Equal(native.Hash, oneThread.Hash);
        Assert.NotEqual("Vector256", noAvx2.Path); // the flag really changed the code path
    }

    [Fact]
    public void BenchEngineTableAndBadInput()
    {
        var (code, output, _) = Run("bench", "engine", "--quick", "--threads", "1");
        Assert.Equal(0, code);
        Assert.Contains("gemm_gflops", output); Assert.Contains("tiny_fwd_bwd_us", output); Assert.Contains("1 threads", output);
        var bad = Run("bench", "engine", "--threads", "0");
        Assert.Equal(2, bad.Code);
        Assert.Contains("--threads '0'", bad.Err);
        var unknown = Run("bench", "nonsense");
        Assert.Equal(2, unknown.Code);
    }
}
