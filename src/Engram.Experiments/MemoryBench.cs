// `engram bench memory`: where a learner's memory goes as its stream grows — process RSS, managed heap, the context-count
// tables (per order: bytes of their arrays, contexts held) and the size of the saved brain — at chosen stream lengths.
using System.Diagnostics;
using Engram.Learning;
using Engram.Models;
using Engram.Tasks;

namespace Engram.Experiments;

public static class MemoryBench
{
    public sealed record Point(long StreamBytes, long RssBytes, long ManagedBytes, long CountTableBytes, long Contexts, long BrainBytes,
        double BitsPerByte, double BytesPerSecond, long[] TableBytesPerOrder);

    /// <summary>Learns `text` (repeated as needed; the built-in generated prose when null) and measures at each size.</summary>
    public static List<Point> Run(string preset, long[] sizes, byte[]? text, Action<Point>? done = null,
        IProgress<LearnProgress>? progress = null)
    {
        var learner = new OnlineLearner(Presets.Get(preset), LearnerConfig.ForPreset(preset));
        var points = new List<Point>();
        var dir = Path.Combine(Path.GetTempPath(), "engram-memory-" + Guid.NewGuid());
        long generated = 0;
        byte[] Source(long need)
        {
            if (text is not null) return text;
            var filler = new FillerText(1 + (ulong)generated, FillerText.Domain.Countryside);
            generated++;
            return System.Text.Encoding.ASCII.GetBytes(filler.Text((int)Math.Min(need, 4_000_000)));
        }
        var sw = Stopwatch.StartNew();
        try
        {
            foreach (var size in sizes.Order())
            {
                while (learner.Position < size)
                {
                    // a given text continues where the stream is in it (and wraps around); generated prose is fresh
                    var block = Source(size - learner.Position);
                    int start = text is null ? 0 : (int)(learner.Position % block.Length);
                    long take = Math.Min(block.Length - start, size - learner.Position);
                    learner.Learn(new MemoryStream(block, start, (int)take), new LearnOptions { ExpectedBytes = take }, progress);
                }
                Brain.Save(learner, dir);
                var footprint = learner.State.Counts?.Footprint() ?? [];
                long managed = GC.GetTotalMemory(forceFullCollection: true); // live objects only, then the process as it stands
                using var self = Process.GetCurrentProcess();
                self.Refresh();
                var p = new Point(learner.Position, self.WorkingSet64, managed, footprint.Sum(f => f.Bytes),
                    footprint.Sum(f => (long)f.Contexts), new FileInfo(Path.Combine(dir, Brain.FileName)).Length, learner.BitsPerByte,
                    learner.Position / sw.Elapsed.TotalSeconds, [.. footprint.Select(f => f.Bytes)]);
                points.Add(p);
                done?.Invoke(p);
            }
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
        return points;
    }
}
