// `engram brain info|log|show|rollback|diff DIR`: what a brain holds and how it came to be. info, log, show and diff only
// read (no lock); rollback takes the brain's lock and adds a version. Versions live in the brain's audit log
// (Engram.Safety): `learn`, `chat` and `teach` append one per update.
using System.CommandLine;
using System.Globalization;
using Engram.Learning;
using Engram.Safety;

namespace Engram.Cli.Commands;

static class BrainCommand
{
    public sealed record InfoLine(string Brain, string Format, string Preset, long Parameters, long StreamBytes, double BitsPerByte,
        long FileBytes, DateTime SavedUtc, long? Version, System.Text.Json.JsonElement Model, System.Text.Json.JsonElement Learner);

    /// <summary>A record of the audit log, as `brain log --json` prints it.</summary>
    public sealed record LogLine(long Version, long? Parent, DateTime Time, string Kind, string Source, long Position, long Bytes,
        string Sha256, double? LossBefore, double? LossAfter, double? UpdateNorm, bool Accepted, string? Reason, string? StateHash,
        bool Snapshot, bool Current, string? Probe);

    public sealed record DiffLine(string Tensor, long Elements, double Distance, double RelativeDistance);

    public sealed record DiffSummary(long From, long To, long FromPosition, long ToPosition, bool Ancestor, long BytesBetween,
        double WeightDistance, double RelativeWeightDistance);

    static readonly Argument<string> Dir = new("brain") { Description = "Brain folder." };

    public static Command Create() => new("brain", "Inspect a brain folder, its versions and its history.")
    {
        Info(), LogCommand(), Show(), Rollback(), Diff(), DriftCommand(), PolicyCommand(),
    };

    /// <summary>A version number option; required, or else 0 (the origin) when not given.</summary>
    static Option<long> VersionOption(string name, string description, bool required = true)
    {
        var option = new Option<long>(name)
        {
            Description = description, Required = required, CustomParser = r =>
            {
                var text = r.Tokens[^1].Value;
                if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v)) return v;
                r.AddError($"{name}: '{text}' is not a version number (expected an integer ≥ 0; see engram brain log)");
                return 0;
            },
        };
        if (!required) option.DefaultValueFactory = _ => 0;
        return option;
    }

    static long? CurrentVersion(string dir)
    {
        if (!AuditLog.Exists(dir)) return null;
        using var log = AuditLog.Open(dir, readOnly: true);
        return log.Head()?.Version;
    }

    static Command Info()
    {
        var info = new Command("info", "Show a brain's model, learner settings, stream position and version (read-only).")
            { Dir, Shared.Json };
        info.SetAction(parse =>
        {
            var path = parse.GetValue(Dir)!;
            var i = Brain.ReadInfo(path);
            var version = CurrentVersion(path);
            if (parse.GetValue(Shared.Json))
            {
                Shared.WriteJson(new InfoLine(path, i.Format, i.Model.Preset, i.Parameters, i.Position, Math.Round(i.BitsPerByte, 6),
                    i.FileBytes, i.SavedUtc, version, System.Text.Json.JsonDocument.Parse(i.Model.ToJson()).RootElement,
                    System.Text.Json.JsonDocument.Parse(i.Learner.ToJson()).RootElement));
                return ExitCode.Success;
            }
            Console.WriteLine($"brain      {path} (format {i.Format}, {i.FileBytes:N0} bytes, saved {i.SavedUtc:yyyy-MM-dd HH:mm:ss} UTC)");
            Console.WriteLine($"model      {i.Model.Preset}, {i.Parameters:N0} parameters");
            Console.WriteLine(FormattableString.Invariant($"stream     {i.Position:N0} bytes read, {i.BitsPerByte:F4} bits per byte"));
            Console.WriteLine(version is long v ? $"version    {v} (engram brain log {path})" : "version    none (no audit log yet)");
            Console.WriteLine($"model settings   {i.Model.ToJson()}");
            Console.WriteLine($"learner settings {i.Learner.ToJson()}");
            return ExitCode.Success;
        });
        return info;
    }

    static Command LogCommand()
    {
        var limit = Shared.IntOption("--limit", "Show only the newest N records (0: all).", 0, 0);
        var log = new Command("log", "List every update of a brain: version, parent, kind, source, bytes, losses, accepted (read-only).")
            { Dir, limit, Shared.Json };
        log.SetAction(parse =>
        {
            var dir = parse.GetValue(Dir)!;
            using var audit = AuditLog.Open(dir, readOnly: true);
            var head = audit.Head()?.Version;
            var snapshots = VersionedBrain.Snapshots(dir).ToHashSet();
            var records = audit.All();
            int n = parse.GetValue(limit);
            foreach (var r in n > 0 ? records.Skip(Math.Max(0, records.Count - n)) : records)
            {
                if (parse.GetValue(Shared.Json))
                {
                    Shared.WriteJson(Line(r, snapshots.Contains(r.Version), r.Version == head));
                    continue;
                }
                string F(double? x) => x is double d ? d.ToString("F3", CultureInfo.InvariantCulture) : "-";
                var parent = r.Parent?.ToString(CultureInfo.InvariantCulture) ?? "-";
                var status = (r.Accepted ? "accepted" : "REJECTED: " + r.Reason) + (snapshots.Contains(r.Version) ? "  [snapshot]" : "");
                Console.WriteLine($"{(r.Version == head ? '*' : ' ')} v{r.Version,-5} parent {parent,-5} " +
                    $"{r.Time:yyyy-MM-dd HH:mm:ss} {r.Kind,-8} {r.Bytes,9:N0} B  bpb {F(r.LossBefore)} → {F(r.LossAfter)}  " +
                    $"|Δθ| {F(r.UpdateNorm)}  {status}  {Shorten(r.Source)}");
            }
            return ExitCode.Success;
        });
        return log;
    }

    static string Shorten(string s) => s.Length <= 60 ? s : "…" + s[^59..];

    static LogLine Line(AuditRecord r, bool snapshot, bool current) => new(r.Version, r.Parent, r.Time, r.Kind, r.Source, r.Position,
        r.Bytes, r.Sha256, Round(r.LossBefore), Round(r.LossAfter), Round(r.UpdateNorm), r.Accepted, r.Reason, r.StateHash, snapshot,
        current, r.Probe);

    static double? Round(double? x) => x is double d ? Math.Round(d, 6) : null;

    static Command Show()
    {
        var version = VersionOption("--version", "The version to show (engram brain log lists them).");
        var data = new Option<bool>("--data") { Description = "Write the version's learned bytes to standard output, nothing else." };
        var show = new Command("show", "Show one version: its record, its bytes, and its state rebuilt and checked against the log " +
            "(read-only).") { Dir, version, data, Shared.Json };
        show.SetAction(parse =>
        {
            var dir = parse.GetValue(Dir)!;
            long v = parse.GetValue(version);
            using var audit = AuditLog.Open(dir, readOnly: true);
            var r = audit.Get(v) ?? throw new Tensors.InvalidFileException(
                $"{dir}: no version {v} in the audit log (versions 0..{audit.Last()?.Version ?? 0}; see engram brain log)");
            if (parse.GetValue(data))
            {
                using var stdout = Console.OpenStandardOutput();
                stdout.Write(r.Data);
                return ExitCode.Success;
            }
            var learner = r.Accepted ? VersionedBrain.Rebuild(dir, v) : null; // throws when the rebuild does not match the log
            if (parse.GetValue(Shared.Json))
            {
                Shared.WriteJson(new
                {
                    record = Line(r, VersionedBrain.Snapshots(dir).Contains(v), v == audit.Head()?.Version),
                    rebuilt = learner is not null, stream_bytes = learner?.Position, bits_per_byte = learner is null ? (double?)null
                        : Math.Round(learner.BitsPerByte, 6),
                    text = System.Text.Encoding.UTF8.GetString(r.Data, 0, (int)Math.Min(r.Data.Length, 1 << 16)),
                });
                return ExitCode.Success;
            }
            Console.WriteLine($"version    {r.Version} (parent {r.Parent?.ToString(CultureInfo.InvariantCulture) ?? "none"}), " +
                $"{r.Kind} from {r.Source}, {r.Time:yyyy-MM-dd HH:mm:ss} UTC");
            Console.WriteLine($"bytes      {r.Bytes:N0} at stream byte {r.Position:N0}, SHA-256 {r.Sha256}");
            string F(double? x) => x is double d ? d.ToString("F4", CultureInfo.InvariantCulture) : "-";
            Console.WriteLine($"losses     {F(r.LossBefore)} bits per byte before learning, {F(r.LossAfter)} after " +
                $"(read again without learning); update norm {F(r.UpdateNorm)}");
            Console.WriteLine(r.Accepted ? "status     accepted" : $"status     rejected: {r.Reason}");
            if (learner is not null)
                Console.WriteLine(
                    $"state      rebuilt from a snapshot and the log; hash {r.StateHash} matches; {learner.Position:N0} bytes read");
            if (r.Bytes > 0) Console.WriteLine($"text       {Preview(r.Data, 400)}");
            return ExitCode.Success;
        });
        return show;
    }

    static string Preview(byte[] data, int max)
    {
        var text = System.Text.Encoding.UTF8.GetString(data, 0, Math.Min(max, data.Length));
        var clean = new string(text.Select(c => char.IsControl(c) && c != '\n' ? '·' : c).ToArray()).Replace("\n", "⏎ ");
        return data.Length > max ? clean + "…" : clean;
    }

    static Command Rollback()
    {
        var to = VersionOption("--to", "The version to return to.");
        var rollback = new Command("rollback", "Return the brain to an earlier version, bit for bit (a new version whose parent it is; " +
            "nothing is deleted).") { Dir, to, Shared.Json };
        rollback.SetAction(parse =>
        {
            var dir = parse.GetValue(Dir)!;
            if (!Brain.Exists(dir)) throw new Tensors.InvalidFileException($"{dir}: no brain here (expected {Brain.FileName})");
            using var vb = VersionedBrain.Open(dir);
            Shared.Tell(vb, dir);
            var r = vb.Rollback(parse.GetValue(to), "engram brain rollback");
            if (parse.GetValue(Shared.Json)) Shared.WriteJson(Line(r, false, true));
            else Console.WriteLine($"{dir}: now at version {r.Version}, identical to version {r.Parent} (hash {r.StateHash![..16]}…)");
            return ExitCode.Success;
        });
        return rollback;
    }

    public sealed record DriftLine(long Version, string Kind, long StreamBytes, double WeightDrift, double Kl, double BitsPerByte,
        double DeltaBitsPerByte, double NegativeFlipRate, double CanariesRight, int Lessons, double? LessonRetention, double Cka);

    static Command DriftCommand()
    {
        var from = VersionOption("--from", "The reference version (default 0, the origin).", required: false);
        var probes = new Option<string?>("--probes")
        {
            Description = "Probe file: JSON {\"texts\": [...], \"canaries\": [{\"prompt\", \"right\", \"wrong\"}]} (default: built in)."
        };
        var maxPoints = Shared.IntOption("--max-points", "Versions measured at most (evenly spread; the first and last always).", 200, 2);
        var png = new Option<string?>("--png") { Description = "Also write a chart of the drift against the version." };
        var drift = new Command("drift", "Drift of a brain's versions from a reference on probes: relative weight distance, KL on probe " +
            "texts, Δ bits per byte, negative flip rate on canaries, CKA of the network's hidden states, retention of lessons " +
            "(read-only; replays the log once).")
            { Dir, from, probes, maxPoints, png, Shared.Json };
        drift.SetAction(parse =>
        {
            var dir = parse.GetValue(Dir)!;
            var set = parse.GetValue(probes) is { } file ? ProbeSet.Load(file) : ProbeSet.Default;
            var chart = parse.GetValue(png) is { } p ? Shared.CheckOutput(p, null) : null;
            bool json = parse.GetValue(Shared.Json);
            var points = new List<DriftPoint>();
            if (!json)
                Console.WriteLine($"{"version",8} {"kind",-8} {"bytes",12} {"|Δθ|/|θ|",9} {"KL b/B",8} {"bpb",7} {"Δbpb",7} " +
                    $"{"flips",6} {"canary",7} {"CKA",6} {"lessons",8}");
            foreach (var d in Drift.Walk(dir, parse.GetValue(from), set, parse.GetValue(maxPoints)))
            {
                points.Add(d);
                if (json)
                    Shared.WriteJson(new DriftLine(d.Version, d.Kind, d.Position, Math.Round(d.WeightDrift, 6), Math.Round(d.Kl, 6),
                        Math.Round(d.BitsPerByte, 6), Math.Round(d.DeltaBitsPerByte, 6), Math.Round(d.NegativeFlipRate, 4),
                        Math.Round(d.CanariesRight, 4), d.Lessons, Round(d.LessonRetention), Math.Round(d.Cka, 6)));
                else
                    Console.WriteLine(FormattableString.Invariant($"{d.Version,8} {d.Kind,-8} {d.Position,12:N0} {d.WeightDrift,9:F4} ") +
                        FormattableString.Invariant($"{d.Kl,8:F4} {d.BitsPerByte,7:F3} {d.DeltaBitsPerByte,7:+0.000;-0.000} ") +
                        FormattableString.Invariant($"{d.NegativeFlipRate,6:P0} {d.CanariesRight,7:P0} {d.Cka,6:F4} ") +
                        (d.LessonRetention is double lr ? FormattableString.Invariant($"{lr,4:P0} of {d.Lessons}") : "-"));
            }
            if (chart is not null && points.Count > 0)
            {
                var x = points.Select(q => (double)q.Version).ToArray();
                new Experiments.PngChart().Save(chart, "drift from the reference version", "version", "", [
                    new("KL (bits/byte)", x, points.Select(q => q.Kl).ToArray()),
                    new("delta bits/byte", x, points.Select(q => q.DeltaBitsPerByte).ToArray()),
                    new("negative flips", x, points.Select(q => q.NegativeFlipRate).ToArray()),
                    new("weight drift", x, points.Select(q => q.WeightDrift).ToArray()),
                    new("lesson retention", x, points.Select(q => q.LessonRetention ?? 0).ToArray()),
                    new("CKA of hidden states", x, points.Select(q => q.Cka).ToArray()),
                ], logX: false, Math.Min(0, points.Min(q => q.DeltaBitsPerByte)),
                    Math.Max(1, points.Max(q => Math.Max(q.Kl, Math.Max(q.DeltaBitsPerByte, q.WeightDrift)))),
                    v => v.ToString("0", CultureInfo.InvariantCulture));
                if (!json) Console.WriteLine($"chart written to {chart}");
            }
            return ExitCode.Success;
        });
        return drift;
    }

    static Command PolicyCommand()
    {
        Option<double?> Threshold(string name, string what, double max) => Shared.OptionalDouble(name, what, 0, max);
        var maxKl = Threshold("--max-kl", "Reject an update whose KL on the probe texts exceeds this (bits per byte).", 64);
        var maxDelta = Threshold("--max-delta-bpb", "Reject an update that raises bits per byte on the probe texts by more than this.", 64);
        var maxFlip = Threshold("--max-flip-rate", "Reject an update that turns more than this share of right canaries wrong.", 1);
        var maxRise = Threshold("--max-canary-rise", "Reject an update that raises a right canary answer's bits per byte by more " +
            "than this (a canary pushed toward another answer, flipped or not).", 64);
        var minRetention = Threshold("--min-retention", "Reject an update after which less than this share of the lessons recalled " +
            "before are still recalled.", 1);
        var quarantine = new Option<bool?>("--quarantine")
        {
            Description = "true: `learn` streams are gated too (64 KB at a time); false: only chat turns and lessons.",
        };
        var probes = new Option<string?>("--probes")
        {
            Description = "Probe file for the gates (copied into the brain as probes.json; default: the built-in set).",
        };
        var clear = new Option<bool>("--clear") { Description = "Remove every gate (and the brain's own probes)." };
        var policy = new Command("policy", "Show or set a brain's gates: updates (chat turns, lessons; learn streams in quarantine) " +
            "are tried, measured on probes and past lessons, and rejected when a threshold is exceeded.")
            { Dir, maxKl, maxDelta, maxFlip, maxRise, minRetention, quarantine, probes, clear, Shared.Json };
        policy.SetAction(parse =>
        {
            var dir = parse.GetValue(Dir)!;
            if (!Brain.Exists(dir)) throw new Tensors.InvalidFileException($"{dir}: no brain here (expected {Brain.FileName})");
            var p = Policy.Load(dir);
            bool change = parse.GetValue(clear) || new Option[] { maxKl, maxDelta, maxFlip, maxRise, minRetention, quarantine, probes }
                .Any(o => parse.GetResult(o) is not null);
            if (change)
            {
                using var hold = Brain.Lock(dir); // not while another process works on the brain
                var probeFile = parse.GetValue(probes);
                var set = probeFile is null ? null : ProbeSet.Load(probeFile); // checked before anything is written
                p = parse.GetValue(clear) ? new Policy() : p with
                {
                    MaxKl = parse.GetValue(maxKl) ?? p.MaxKl,
                    MaxDeltaBitsPerByte = parse.GetValue(maxDelta) ?? p.MaxDeltaBitsPerByte,
                    MaxFlipRate = parse.GetValue(maxFlip) ?? p.MaxFlipRate,
                    MinRetention = parse.GetValue(minRetention) ?? p.MinRetention,
                    MaxCanaryRise = parse.GetValue(maxRise) ?? p.MaxCanaryRise,
                    Quarantine = parse.GetValue(quarantine) ?? p.Quarantine,
                };
                p.Save(dir);
                var own = Path.Combine(dir, Policy.ProbesName);
                if (set is not null) Tensors.IO.AtomicFile.WriteAllBytes(own, File.ReadAllBytes(probeFile!));
                if (parse.GetValue(clear) && File.Exists(own)) File.Delete(own);
            }
            if (parse.GetValue(Shared.Json)) Console.WriteLine(System.Text.Json.Nodes.JsonNode.Parse(p.ToJson())!.ToJsonString());
            else
            {
                Console.WriteLine(p.Gates ? p.ToJson() : "no gates: every update is accepted");
                Console.WriteLine($"probes: {(File.Exists(Path.Combine(dir, Policy.ProbesName)) ? Policy.ProbesName : "built in")}");
            }
            return ExitCode.Success;
        });
        return policy;
    }

    static Command Diff()
    {
        var from = VersionOption("--from", "The older version.");
        var to = VersionOption("--to", "The newer version.");
        var diff = new Command("diff", "Compare two versions: weight distance per tensor and the bytes learned between them (read-only).")
            { Dir, from, to, Shared.Json };
        diff.SetAction(parse =>
        {
            var dir = parse.GetValue(Dir)!;
            long a = parse.GetValue(from), b = parse.GetValue(to);
            var la = VersionedBrain.Rebuild(dir, a);
            var lb = VersionedBrain.Rebuild(dir, b);
            using var audit = AuditLog.Open(dir, readOnly: true);
            var path = audit.Ancestry(b);
            int at = path.ToList().FindIndex(r => r.Version == a);
            bool ancestor = at >= 0;
            long between = ancestor ? path.Take(at).Sum(r => r.Bytes) : 0;
            double total = 0, norm = 0;
            var lines = new List<DiffLine>();
            foreach (var (name, elements, d, n) in Drift.WeightDistances(Drift.WeightsOf(la), lb))
            {
                total += d; norm += n;
                lines.Add(new DiffLine(name, elements, Math.Round(Math.Sqrt(d), 6), Math.Round(n > 0 ? Math.Sqrt(d / n) : 0, 6)));
            }
            var summary = new DiffSummary(a, b, la.Position, lb.Position, ancestor, between, Math.Round(Math.Sqrt(total), 6),
                Math.Round(norm > 0 ? Math.Sqrt(total / norm) : 0, 6));
            if (parse.GetValue(Shared.Json))
            {
                foreach (var l in lines) Shared.WriteJson(l);
                Shared.WriteJson(summary);
                return ExitCode.Success;
            }
            Console.WriteLine($"v{a} → v{b}: " + (ancestor ? $"{between:N0} bytes learned between them"
                : "not on one line of descent (a rollback lies between)") + $"; stream {la.Position:N0} → {lb.Position:N0} bytes");
            static void Row(string name, long elements, double distance, double relative) => Console.WriteLine(
                FormattableString.Invariant($"  {name,-40} {elements,9:N0}  ‖Δ‖ {distance,10:F6}  ‖Δ‖/‖θ‖ {relative:F6}"));
            foreach (var l in lines.OrderByDescending(l => l.RelativeDistance)) Row(l.Tensor, l.Elements, l.Distance, l.RelativeDistance);
            Row("all slow weights", lines.Sum(l => l.Elements), summary.WeightDistance, summary.RelativeWeightDistance);
            return ExitCode.Success;
        });
        return diff;
    }
}
