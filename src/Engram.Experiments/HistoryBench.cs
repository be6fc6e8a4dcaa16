// What a brain's history costs: the same bytes learned into a brain folder twice in one process — saved plainly every
// few seconds (Brain.Save, what `learn --brain` did before the audit log), then versioned (VersionedBrain: every save a
// version in the audit log with its bytes and hashes, snapshots) — and the ratio of their throughputs.
using System.Diagnostics;
using Engram.Learning;
using Engram.Models;
using Engram.Safety;

namespace Engram.Experiments;

public static class HistoryBench
{
    public sealed record Result(string Model, long Bytes, double SaveEverySeconds, double PlainBytesPerSecond,
        double VersionedBytesPerSecond, int PlainSaves, long Versions, long Snapshots, long AuditBytes, long BrainBytes)
    {
        /// <summary>Versioned throughput over plain throughput (1: free).</summary>
        public double Ratio => VersionedBytesPerSecond / PlainBytesPerSecond;
    }

    public static Result Run(string model, byte[] data, TimeSpan saveEvery, Action<string>? progress = null)
    {
        OnlineLearner New() => new(Presets.Find(model).Model, LearnerConfig.ForPreset(model));
        var root = Path.Combine(Path.GetTempPath(), "engram-history-" + Guid.NewGuid().ToString("N"));
        try
        {
            var plainDir = Path.Combine(root, "plain");
            var clock = Stopwatch.StartNew();
            var plain = New().Learn(new MemoryStream(data),
                new LearnOptions { Save = l => Brain.Save(l, plainDir), SaveEvery = saveEvery });
            double plainRate = data.Length / clock.Elapsed.TotalSeconds;
            progress?.Invoke($"{model}: plain saves: {plainRate / 1000:F1} KB/s ({plain.Saves} saves)");

            var dir = Path.Combine(root, "versioned");
            clock.Restart();
            long versions;
            using (var vb = VersionedBrain.Open(dir, New))
            {
                vb.LearnStream(new MemoryStream(data), "bench", new LearnOptions { SaveEvery = saveEvery });
                versions = vb.Version;
            }
            double rate = data.Length / clock.Elapsed.TotalSeconds;
            progress?.Invoke($"{model}: versioned: {rate / 1000:F1} KB/s ({versions} versions)");
            return new Result(model, data.Length, saveEvery.TotalSeconds, plainRate, rate, plain.Saves, versions,
                VersionedBrain.Snapshots(dir).Count, new FileInfo(Path.Combine(dir, AuditLog.FileName)).Length,
                new FileInfo(Path.Combine(dir, Brain.FileName)).Length);
        }
        finally { try { Directory.Delete(root, true); } catch (IOException) { } }
    }

    public static string Json(Result r) => JsonLines.Serialize(new System.Text.Json.Nodes.JsonObject
    {
        ["model"] = r.Model, ["bytes"] = r.Bytes, ["save_every_seconds"] = r.SaveEverySeconds,
        ["plain_bytes_per_second"] = JsonLines.Round(r.PlainBytesPerSecond, 0),
        ["versioned_bytes_per_second"] = JsonLines.Round(r.VersionedBytesPerSecond, 0), ["ratio"] = JsonLines.Round(r.Ratio, 4),
        ["plain_saves"] = r.PlainSaves, ["versions"] = r.Versions, ["snapshots"] = r.Snapshots, ["audit_bytes"] = r.AuditBytes,
        ["brain_bytes"] = r.BrainBytes,
    });
}
