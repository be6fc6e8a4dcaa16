// Instruments for a brain that keeps changing (specs: teaching): against a reference version and a fixed probe set —
// texts, and canaries (a prompt with a right and a wrong answer) — how far the weights moved (per tensor, relative),
// how far the next-byte distributions moved on the probe texts (KL(p_ref ‖ p_t) in bits per byte), the change in bits
// per byte there, the negative flip rate (canaries the reference got right and the version gets wrong), how far the
// network's representation of the probe texts moved (linear CKA of its hidden states) and the retention of every
// lesson taught so far (exact recall). `engram brain drift` walks the versions of a brain's current
// line of descent, replaying its log once from the reference onwards.
using System.Text;
using System.Text.Json;
using Engram.Learning;
using Engram.Models;
using Engram.Tasks;
using Engram.Tensors;

namespace Engram.Safety;

/// <summary>A prompt with a right and a wrong continuation: the brain answers right when it finds the right one likelier
/// (length-normalised). Without a wrong one, right means its greedy continuation starts with the right one.</summary>
public sealed record Canary(string Prompt, string Right, string? Wrong);

/// <summary>Probe texts and canaries. A canary set should be balanced — every answer right as often as it is wrong — so
/// that no constant preference passes it (the default set is).</summary>
public sealed record ProbeSet(IReadOnlyList<string> Texts, IReadOnlyList<Canary> Canaries)
{
    /// <summary>Built in: two passages of generated prose, and 16 canaries of common English in 8 pairs, each answer right
    /// in one canary and wrong in the other.</summary>
    /// <remarks>A file's canaries may leave out "wrong": right then means greedy recall of "right" (a fact the brain
    /// must keep, such as a stated value).</remarks>
    public static ProbeSet Default { get; } = MakeDefault();

    static ProbeSet MakeDefault()
    {
        var texts = new[] { 7UL, 8UL }.Select(seed =>
        {
            var sb = new StringBuilder();
            new FillerText(seed).Append(sb, 2000);
            return sb.ToString();
        }).ToArray();
        (string, string, string, string)[] pairs =
        [
            ("Once upon a", " time", "Have a nice", " day"),
            ("The king and the", " queen", "The queen and the", " king"),
            ("one, two,", " three", "one, two, three,", " four"),
            ("Monday, Tuesday,", " Wednesday", "Tuesday, Wednesday,", " Thursday"),
            ("my mother and my", " father", "my father and my", " mother"),
            ("black and", " white", "red, white and", " blue"),
            ("He opened the door and came", " in", "She put on her coat and went", " out"),
            ("The sun rose in the", " east", "The sun set in the", " west"),
        ];
        var canaries = pairs.SelectMany(p => new[] { new Canary(p.Item1, p.Item2, p.Item4), new Canary(p.Item3, p.Item4, p.Item2) })
            .ToArray();
        return new ProbeSet(texts, canaries);
    }

    /// <summary>A user's probe set: JSON {"texts": ["..."], "canaries": [{"prompt", "right", "wrong"}]}.</summary>
    public static ProbeSet Load(string path)
    {
        if (!File.Exists(path)) throw new InvalidFileException($"{path}: no such probe file");
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { MaxDepth = 8 });
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new InvalidFileException($"{path}: expected an object {{\"texts\", \"canaries\"}}");
            string Text(JsonElement e, string what) => e.ValueKind == JsonValueKind.String && e.GetString() is { Length: > 0 } s ? s
                : throw new InvalidFileException($"{path}: {what} must be a non-empty string");
            var texts = root.TryGetProperty("texts", out var t) && t.ValueKind == JsonValueKind.Array
                ? t.EnumerateArray().Select((e, i) => Text(e, $"texts[{i}]")).ToArray()
                : throw new InvalidFileException($"{path}: 'texts' must be an array of strings");
            var canaries = root.TryGetProperty("canaries", out var c) && c.ValueKind == JsonValueKind.Array
                ? c.EnumerateArray().Select((e, i) => e.ValueKind != JsonValueKind.Object
                    ? throw new InvalidFileException($"{path}: canaries[{i}] must be an object {{\"prompt\", \"right\", \"wrong\"}}")
                    : new Canary(Text(Get(e, "prompt"), $"canaries[{i}].prompt"), Text(Get(e, "right"), $"canaries[{i}].right"),
                        Get(e, "wrong").ValueKind is JsonValueKind.Undefined or JsonValueKind.Null ? null
                            : Text(Get(e, "wrong"), $"canaries[{i}].wrong"))).ToArray()
                : throw new InvalidFileException($"{path}: 'canaries' must be an array");
            if (texts.Length == 0 && canaries.Length == 0) throw new InvalidFileException($"{path}: no texts and no canaries");
            return new ProbeSet(texts, canaries);
        }
        catch (JsonException e)
        {
            throw new InvalidFileException($"{path}: not valid JSON ({e.Message.Split(". ")[0].ReplaceLineEndings(" ")})");
        }
        catch (InvalidOperationException e) // a string JSON accepts but UTF-16 cannot hold
        {
            throw new InvalidFileException($"{path}: a string is not valid text ({e.Message.Split('.')[0].ReplaceLineEndings(" ")})");
        }
    }

    static JsonElement Get(JsonElement e, string name) => e.TryGetProperty(name, out var v) ? v : default;
}

/// <summary>What the probes say of one version, against the reference.</summary>
public sealed record DriftPoint(long Version, string Kind, long Position, double WeightDrift, IReadOnlyDictionary<string, double> Tensors,
    double Kl, double BitsPerByte, double DeltaBitsPerByte, double NegativeFlipRate, double CanariesRight, int Lessons,
    double? LessonRetention, double CanaryDeltaBits = 0, IReadOnlyList<string>? Flipped = null, double Cka = 1);

public sealed class Drift
{
    const int V = LmConfig.Vocabulary;
    readonly ProbeSet _probes;
    readonly Dictionary<string, float[]> _weights;
    readonly double[][] _p; // reference distributions per probe text, [T × 256]
    readonly double _bits;
    readonly bool[] _right;
    readonly double[] _canaryBits; // mean bits per byte of each canary's right answer at the reference
    readonly byte[][] _texts;
    readonly double[] _hidden; // the reference's hidden states on the probe texts, [rows × dim], columns centred
    readonly int _dim;

    /// <summary>Measures the reference (nothing is changed).</summary>
    public Drift(OnlineLearner reference, ProbeSet probes)
    {
        _probes = probes;
        _texts = probes.Texts.Select(Encoding.UTF8.GetBytes).ToArray();
        _weights = WeightsOf(reference);
        _p = _texts.Select(t => Softmax(reference.Logits([], t))).ToArray();
        _bits = BitsPerByte(_p);
        _dim = reference.Model.Config.Dim;
        _hidden = Centred(HiddenOf(reference), _dim);
        _right = probes.Canaries.Select(c => Right(reference, c)).ToArray();
        _canaryBits = probes.Canaries.Select(c => MeanBits(reference, c.Prompt, c.Right)).ToArray();
    }

    public double ReferenceBitsPerByte => _bits;
    public double ReferenceCanariesRight => _right.Length == 0 ? 0 : _right.Average(r => r ? 1.0 : 0.0);
    /// <summary>The canaries the reference answers wrong.</summary>
    public IEnumerable<Canary> ReferenceWrong => _probes.Canaries.Where((_, i) => !_right[i]);

    double BitsPerByte(double[][] p)
    {
        double bits = 0;
        long n = 0;
        for (int k = 0; k < _texts.Length; k++)
            for (int i = 0; i < _texts[k].Length; i++, n++) bits -= Math.Log2(Math.Max(p[k][i * V + _texts[k][i]], 1e-300));
        return n == 0 ? 0 : bits / n;
    }

    static double[] Softmax(float[] logits)
    {
        var p = new double[logits.Length];
        for (int r = 0; r < logits.Length / V; r++)
        {
            double max = double.NegativeInfinity, sum = 0;
            for (int j = 0; j < V; j++) max = Math.Max(max, logits[r * V + j]);
            for (int j = 0; j < V; j++) sum += p[r * V + j] = Math.Exp(logits[r * V + j] - max);
            for (int j = 0; j < V; j++) p[r * V + j] /= sum;
        }
        return p;
    }

    float[] HiddenOf(OnlineLearner l) => _texts.SelectMany(t => l.Hidden([], t)).ToArray();

    /// <summary>Rows of `dim` values, each column minus its mean, in double.</summary>
    static double[] Centred(float[] x, int dim)
    {
        int n = x.Length / dim;
        var y = new double[x.Length];
        for (int j = 0; j < dim; j++)
        {
            double mean = 0;
            for (int i = 0; i < n; i++) mean += x[i * dim + j];
            mean /= Math.Max(1, n);
            for (int i = 0; i < n; i++) y[i * dim + j] = x[i * dim + j] - mean;
        }
        return y;
    }

    /// <summary>Linear CKA of two representations of the same rows (columns centred, `dim` wide each):
    /// ‖YᵀX‖²_F / (‖XᵀX‖_F ‖YᵀY‖_F) — 1 when one is a rotation and scaling of the other, near 0 when unrelated.
    /// Invariant to orthogonal transforms and isotropic scale, so it sees representations change, not merely weights
    /// move. 1 when both are constant (nothing to compare).</summary>
    public static double LinearCka(double[] x, double[] y, int dim)
    {
        if (x.Length != y.Length || x.Length % dim != 0) throw new ArgumentException("CKA: representations of different sizes");
        double xy = Frobenius2(x, y, dim), xx = Frobenius2(x, x, dim), yy = Frobenius2(y, y, dim);
        return xx == 0 || yy == 0 ? (xx == yy ? 1 : 0) : xy / Math.Sqrt(xx * yy);

        // ‖AᵀB‖²_F
        static double Frobenius2(double[] a, double[] b, int dim)
        {
            int n = a.Length / dim;
            var m = new double[dim * dim];
            for (int i = 0; i < n; i++)
                for (int p = 0; p < dim; p++)
                {
                    double ap = a[i * dim + p];
                    if (ap == 0) continue;
                    for (int q = 0; q < dim; q++) m[p * dim + q] += ap * b[i * dim + q];
                }
            double s = 0;
            foreach (var v in m) s += v * v;
            return s;
        }
    }

    /// <summary>The slow weights of a learner by name, copied.</summary>
    public static Dictionary<string, float[]> WeightsOf(OnlineLearner l) =>
        l.Model.NamedParameters().ToDictionary(p => p.Name, p => p.Param.ToFloatArray());

    /// <summary>Per slow-weight tensor of `learner`: ‖θ − θ_ref‖² and ‖θ_ref‖² against `reference` (WeightsOf).</summary>
    public static IEnumerable<(string Name, int Elements, double Squared, double ReferenceSquared)> WeightDistances(
        IReadOnlyDictionary<string, float[]> reference, OnlineLearner learner)
    {
        foreach (var (name, p) in learner.Model.NamedParameters())
        {
            var x = reference[name];
            var y = p.ToFloatArray();
            double d = 0, n = 0;
            for (int i = 0; i < x.Length; i++) { double e = y[i] - x[i]; d += e * e; n += (double)x[i] * x[i]; }
            yield return (name, x.Length, d, n);
        }
    }

    /// <summary>Mean bits per byte of `answer` read after `prompt` (−log2 of the length-normalised probability), nothing
    /// learned.</summary>
    public static double MeanBits(OnlineLearner l, string prompt, string answer)
    {
        var bits = l.Bits(Encoding.UTF8.GetBytes(prompt), Encoding.UTF8.GetBytes(answer));
        return bits.Length == 0 ? 0 : bits.Average();
    }

    /// <summary>Whether the brain answers the canary right now.</summary>
    public static bool Right(OnlineLearner l, Canary c) => c.Wrong is { } wrong
        ? MeanBits(l, c.Prompt, c.Right) < MeanBits(l, c.Prompt, wrong)
        : Encoding.UTF8.GetString(l.Continue(Encoding.UTF8.GetBytes(c.Prompt), Encoding.UTF8.GetByteCount(c.Right))) == c.Right;

    /// <summary>Whether the brain recalls a lesson's answer exactly (greedy).</summary>
    public static bool Recalls(OnlineLearner l, Lesson lesson) =>
        Encoding.UTF8.GetString(l.Continue(Encoding.UTF8.GetBytes(lesson.Prompt), Encoding.UTF8.GetByteCount(lesson.Answer)))
            == lesson.Answer;

    /// <summary>The probes on `learner` now; `lessons` (taught so far) are checked by exact greedy recall.</summary>
    public DriftPoint Measure(OnlineLearner learner, long version, string kind, IReadOnlyList<Lesson>? lessons = null)
    {
        var tensors = new Dictionary<string, double>();
        double d2 = 0, n2 = 0;
        foreach (var (name, _, d, n) in WeightDistances(_weights, learner))
        {
            tensors[name] = n > 0 ? Math.Sqrt(d / n) : Math.Sqrt(d);
            d2 += d; n2 += n;
        }
        var q = _texts.Select(t => Softmax(learner.Logits([], t))).ToArray();
        double kl = 0;
        long count = 0;
        for (int k = 0; k < _texts.Length; k++)
            for (int r = 0; r < _texts[k].Length; r++, count++)
                for (int j = 0; j < V; j++)
                {
                    double a = _p[k][r * V + j];
                    if (a > 0) kl += a * Math.Log2(a / Math.Max(q[k][r * V + j], 1e-300));
                }
        double bits = BitsPerByte(q);
        double cka = LinearCka(_hidden, Centred(HiddenOf(learner), _dim), _dim);
        var now = _probes.Canaries.Select(c => Right(learner, c)).ToArray();
        // the largest rise of a right answer's bits per byte among the canaries the reference got right: a canary pushed
        // toward another answer shows here before its greedy answer flips
        double rise = _probes.Canaries.Select((c, i) => _right[i] ? MeanBits(learner, c.Prompt, c.Right) - _canaryBits[i] : 0)
            .DefaultIfEmpty(0).Max();
        int wereRight = _right.Count(r => r);
        double flips = wereRight == 0 ? 0 : _right.Zip(now).Count(x => x.First && !x.Second) / (double)wereRight;
        double? retention = lessons is null || lessons.Count == 0 ? null
            : lessons.Average(l => Recalls(learner, l) ? 1.0 : 0.0);
        return new DriftPoint(version, kind, learner.Position, n2 > 0 ? Math.Sqrt(d2 / n2) : 0, tensors, count == 0 ? 0 : kl / count, bits,
            bits - _bits, flips, now.Length == 0 ? 0 : now.Average(r => r ? 1.0 : 0.0), lessons?.Count ?? 0, retention, rise,
            _probes.Canaries.Where((c, i) => _right[i] && !now[i]).Select(c => c.Prompt).ToArray(), cka);
    }

    /// <summary>The lesson a version taught, when its record keeps it (engram teach stores it in the probe field).</summary>
    public static Lesson? LessonOf(AuditRecord r)
    {
        if (r.Kind != UpdateKind.Lesson || r.Probe is null) return null;
        try
        {
            using var doc = JsonDocument.Parse(r.Probe);
            return doc.RootElement.TryGetProperty("lesson", out var l) && l.ValueKind == JsonValueKind.Object
                ? Tasks.Lessons.Parse(l.GetRawText(), $"version {r.Version}")[0] : null;
        }
        catch (Exception e) when (e is JsonException or EngramException) { return null; }
    }

    /// <summary>Walks the current line of descent of a brain from version `from` (the reference) to its newest version,
    /// replaying the log once; measures at most `maxPoints` versions (evenly spread, the first and last always).</summary>
    public static IEnumerable<DriftPoint> Walk(string dir, long from, ProbeSet probes, int maxPoints = 200,
        Action<long, int>? progress = null)
    {
        using var log = AuditLog.Open(dir, readOnly: true);
        var head = log.Head() ?? throw new InvalidFileException($"{dir}: the audit log has no version");
        var line = log.Ancestry(head.Version).Reverse().ToList();
        int at = line.FindIndex(r => r.Version == from);
        if (at < 0)
            throw new InvalidFileException($"{dir}: version {from} is not on the brain's current line of descent " +
                $"(versions {string.Join(", ", line.Take(12).Select(r => r.Version))}{(line.Count > 12 ? ", …" : "")})");
        var learner = VersionedBrain.Rebuild(dir, from);
        var drift = new Drift(learner, probes);
        var lessons = line.Take(at + 1).Select(LessonOf).OfType<Lesson>().ToList();
        int steps = line.Count - at;
        var measured = Enumerable.Range(0, Math.Min(maxPoints, steps)).Select(i => steps == 1 ? 0 : (int)Math.Round(i * (steps - 1.0) /
            Math.Max(1, Math.Min(maxPoints, steps) - 1))).ToHashSet();
        for (int i = 0; i < steps; i++)
        {
            var r = line[at + i];
            if (i > 0)
            {
                if (UpdateKind.Learns(r.Kind)) learner.Learn(log.Get(r.Version)!.Data);
                if (LessonOf(r) is { } l) lessons.Add(l);
            }
            if (measured.Contains(i))
            {
                progress?.Invoke(r.Version, i);
                yield return drift.Measure(learner, r.Version, r.Kind, lessons);
            }
        }
        if (Brain.Hash(learner) != head.StateHash)
            throw new InvalidFileException($"{dir}: replaying the log did not reproduce version {head.Version} (hash differs)");
    }
}
