// Forgetting benchmark of the continual learner: held-out loss on domain A before and after learning domain B, and after a
// short return to A.
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Engram.Learning;
using Engram.Models;
using Engram.Tasks;
using Engram.Tensors;

namespace Engram.Experiments;

public static class ForgettingBench
{
    public sealed record Options
    {
        public string Model { get; init; } = Presets.Default;
        public int TrainBytes { get; init; } = 100_000;
        public int ReturnBytes { get; init; } = 10_000;
        public int TestBytes { get; init; } = 10_000;
        public string? TextA { get; init; }
        public string? TextB { get; init; }
        public ulong Seed { get; init; } = 1;
    }

    public sealed record Point(string Stage, long BytesLearned, double HeldOutA, double HeldOutB);

    /// <summary>Built-in domains: countryside prose (A) and seafaring prose (B), different vocabularies, same grammar.
    /// With user texts, the first part of each is learned and its last TestBytes are held out.</summary>
    public static List<Point> Run(Options o, Action<Point>? done = null)
    {
        (byte[] Train, byte[] Return, byte[] Test) Split(string? text, FillerText.Domain domain, ulong seed)
        {
            var bytes = text is null
                ? Encoding.ASCII.GetBytes(new FillerText(seed, domain).Text(o.TrainBytes + o.ReturnBytes + o.TestBytes))
                : Encoding.UTF8.GetBytes(text);
            if (bytes.Length < o.TestBytes + 1000)
                throw new EngramException($"forgetting: a domain text needs more than {o.TestBytes + 1000} bytes, got {bytes.Length}");
            var test = bytes[^o.TestBytes..];
            var rest = bytes[..^o.TestBytes];
            var train = rest[..Math.Min(o.TrainBytes, rest.Length)];
            var ret = rest[train.Length..Math.Min(rest.Length, train.Length + o.ReturnBytes)];
            if (ret.Length == 0) ret = rest[..Math.Min(o.ReturnBytes, rest.Length)];
            return (train, ret, test);
        }
        var a = Split(o.TextA, FillerText.Domain.Countryside, o.Seed);
        var b = Split(o.TextB, FillerText.Domain.Sea, o.Seed + 1);
        var learner = new OnlineLearner(Presets.Get(o.Model), LearnerConfig.ForPreset(o.Model));
        var points = new List<Point>();
        void Learn(byte[] text) => learner.Learn(text);
        void Measure(string stage)
        {
            var p = new Point(stage, learner.Position, learner.Evaluate(a.Test), learner.Evaluate(b.Test));
            points.Add(p);
            done?.Invoke(p);
        }
        Measure("start");
        Learn(a.Train); Measure("after A");
        Learn(b.Train); Measure("after B");
        Learn(a.Return); Measure("after return to A");
        return points;
    }

    sealed record Line(string Stage, long BytesLearned, double HeldOutABitsPerByte, double HeldOutBBitsPerByte);

    public static string Json(Point p) =>
        JsonLines.Serialize(new Line(p.Stage, p.BytesLearned, JsonLines.Round(p.HeldOutA, 4), JsonLines.Round(p.HeldOutB, 4)));
}
