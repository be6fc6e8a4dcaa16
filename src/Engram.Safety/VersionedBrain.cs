// A brain with a history: the brain folder's learner, its audit log (audit.sqlite) and its snapshots (snapshots/), kept in
// agreement. Every update — a stretch of a stream, a chat turn, a lesson — is learned, the brain is written under a
// staged name (its hash from the same serialization), the record is appended to the log with its bytes and that hash,
// then the staged file is renamed into place. Snapshots are written every 100 updates or max(1 MB, an eighth of the
// stream) since the last one among a version's ancestors. Any version can be rebuilt bit for bit: the nearest snapshot
// among its ancestors, then its logged bytes replayed through the same learner (hashes checked against the log).
// Opening the brain checks that brain and log agree: a brain behind its log (killed between the append and the rename)
// is repaired by replaying what it lacks, or by rebuilding the head; any other disagreement is refused, never silently
// continued. With a policy (Policy.cs), an update is tried against the gates first and rejected ones are rolled back.
using System.Globalization;
using Engram.Learning;
using Engram.Tensors;
using Engram.Tensors.IO;

namespace Engram.Safety;

/// <summary>How a brain's history is kept.</summary>
public sealed record HistoryOptions
{
    /// <summary>A snapshot after this many accepted updates since the last one among the version's ancestors...</summary>
    public int SnapshotEvery { get; init; } = 100;
    /// <summary>...or once this many bytes were learned since it (at least an eighth of the stream, so a long stream keeps
    /// a number of snapshots that grows with the logarithm of its length, and rebuilding a version replays at most about
    /// an eighth of what came before it).</summary>
    public long SnapshotBytes { get; init; } = 1 << 20;
}

public sealed class VersionedBrain : IDisposable
{
    public const string SnapshotFolder = "snapshots";
    const string VersionKey = "version";

    readonly IDisposable? _lock;
    float[] _weightsBefore = [];

    public string Directory { get; }
    public OnlineLearner Learner { get; private set; }
    public AuditLog Log { get; }
    public HistoryOptions Options { get; }
    /// <summary>The brain's current version (the newest accepted record of its log).</summary>
    public long Version { get; private set; }
    /// <summary>What opening had to do to make brain and log agree (null when nothing).</summary>
    public string? Repair { get; private set; }

    VersionedBrain(string dir, IDisposable? hold, AuditLog log, OnlineLearner learner, long version, HistoryOptions options)
    {
        Directory = dir; _lock = hold; Log = log; Learner = learner; Version = version; Options = options;
        _weightsBefore = Weights(learner);
        Policy = Policy.Load(dir);
    }

    /// <summary>The brain's gates (policy.json; re-read with ReloadPolicy after changing it).</summary>
    public Policy Policy { get; private set; }

    public void ReloadPolicy() => Policy = Policy.Load(Directory);

    /// <summary>Opens a brain folder for writing (it stays locked until disposed). A folder without a brain gets one from
    /// `create` (an error when null); a brain without a log gets a log whose version 0 is the brain as found.</summary>
    public static VersionedBrain Open(string dir, Func<OnlineLearner>? create = null, HistoryOptions? options = null)
    {
        options ??= new();
        var hold = Brain.Lock(dir);
        AuditLog? log = null;
        try
        {
            CleanTemporaries(Path.Combine(dir, SnapshotFolder));
            CleanTemporaries(dir, $"..{Brain.FileName}.staged.tmp.*"); // AtomicFile's temporary of a staged brain
            bool hadLog = AuditLog.Exists(dir);
            log = AuditLog.Open(dir);
            var head = log.Head();
            VersionedBrain vb;
            if (head is null)
            {
                if (log.Count() > 0) throw new InvalidFileException($"{dir}: the audit log has no accepted version");
                OnlineLearner learner;
                if (Brain.Exists(dir))
                {
                    learner = Brain.Load(dir, out var extra);
                    if (extra.ContainsKey(VersionKey))
                        throw new InvalidFileException($"{dir}: the brain is at version {extra[VersionKey]} but its audit log " +
                            (hadLog ? "is empty" : "is missing") + "; refusing to start a new history over it");
                }
                else learner = create?.Invoke() ?? throw new InvalidFileException($"{dir}: no brain here (expected {Brain.FileName})");
                vb = new VersionedBrain(dir, hold, log, learner, 0, options);
                vb.Begin(Brain.Exists(dir) ? "the brain as found (learned before it had an audit log)" : "a new brain");
                return vb;
            }
            if (!Brain.Exists(dir))
            {
                // the log began but the brain was never saved, or was lost: rebuild the head from snapshots and the log
                var rebuilt = Rebuild(dir, log, head.Version);
                vb = new VersionedBrain(dir, hold, log, rebuilt, head.Version, options);
                vb.SaveBrain();
                vb.Repair = $"rebuilt version {head.Version} from snapshots and the audit log (the brain file was missing)";
                return vb;
            }
            var current = Brain.Load(dir, out var meta);
            long at = 0; // a brain without a version is one adopted into a new log (version 0) and not yet saved since
            if (meta.TryGetValue(VersionKey, out var text) && !long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out at))
                throw new InvalidFileException($"{dir}: the brain's version '{text}' is not a version number");
            var mine = log.Get(at);
            if (mine is null || !mine.Accepted)
                throw new InvalidFileException($"{dir}: the brain is at version {at}, which its audit log " +
                    (mine is null ? "does not have" : "records as rejected") + $" (log head: {head.Version}); they disagree");
            if (Brain.Hash(current) != mine.StateHash)
                throw new InvalidFileException($"{dir}: the brain's weights and states do not match version {at} of its audit log " +
                    "(hash differs); refusing to continue a brain that diverged from its history");
            vb = new VersionedBrain(dir, hold, log, current, at, options);
            if (at != head.Version)
            {
                // a crash between appending to the log and saving the brain: replay what the brain lacks
                var path = log.Ancestry(head.Version);
                int from = path.ToList().FindIndex(r => r.Version == at);
                if (from < 0)
                {
                    // a rollback logged but not yet renamed into place: its target is another line; rebuild the head
                    vb.Learner = Rebuild(dir, log, head.Version);
                    vb.Repair = $"rebuilt version {head.Version} from snapshots and the audit log (the brain was still at version {at})";
                }
                else
                {
                    for (int i = from - 1; i >= 0; i--) Replay(vb.Learner, path[i], dir, log);
                    vb.Repair = $"replayed versions {at + 1}..{head.Version} from the audit log (the brain was saved before them)";
                }
                vb.Version = head.Version;
                vb._weightsBefore = Weights(vb.Learner);
                vb.SaveBrain();
            }
            return vb;
        }
        catch
        {
            log?.Dispose();
            hold.Dispose();
            throw;
        }
    }

    void Begin(string why)
    {
        WriteSnapshot(0); // first: a log whose origin has no snapshot could never be rebuilt
        var r = Log.Append(new AuditRecord
        {
            Version = 0, Parent = null, Time = DateTime.UtcNow, Kind = UpdateKind.Origin, Source = why, Position = Learner.Position,
            StateHash = Brain.Hash(Learner),
        });
        SaveBrain();
        Version = r.Version;
    }

    /// <summary>Learns `data` as one update (Predict then Learn over its chunks) and records it: loss before (its
    /// prequential bits per byte), loss after (the same bytes read again without learning), update norm, state hash, and
    /// what `probe` measures of the learner after learning (JSON, kept in the record).</summary>
    public AuditRecord Apply(byte[] data, string kind, string source, bool snapshot = false, Func<OnlineLearner, string?>? probe = null)
    {
        if (!UpdateKind.Learns(kind))
            throw new ArgumentException($"Apply: '{kind}' is not a kind of update that learns bytes", nameof(kind));
        if (data.Length == 0) throw new ArgumentException("Apply: no bytes to learn", nameof(data));
        long position = Learner.Position;
        // gates: the probes and the lessons taught so far, measured before trying the update
        Drift? gate = null;
        List<Engram.Tasks.Lesson> lessons = [];
        bool[] recalled = [];
        if (Policy.Gates)
        {
            gate = new Drift(Learner, Policy.Probes(Directory));
            lessons = Log.Ancestry(Version).Select(Drift.LessonOf).OfType<Engram.Tasks.Lesson>().ToList();
            recalled = lessons.Select(l => Drift.Recalls(Learner, l)).ToArray();
        }
        long at = Version;
        try
        {
            return Try(data, kind, source, snapshot, probe, position, gate, lessons, recalled);
        }
        catch when (Version == at)
        {
            // nothing was logged: the learner goes back to the version on disk, so it never holds unlogged bytes
            Learner = Brain.Load(Directory);
            throw;
        }
    }

    AuditRecord Try(byte[] data, string kind, string source, bool snapshot, Func<OnlineLearner, string?>? probe, long position,
        Drift? gate, List<Engram.Tasks.Lesson> lessons, bool[] recalled)
    {
        var summary = Learner.Learn(data);
        double after = Learner.Evaluate(data);
        var measured = probe?.Invoke(Learner);
        if (gate is null) return Record(data, position, summary.BitsPerByte, after, kind, source, snapshot, measured);
        var d = gate.Measure(Learner, -1, kind);
        int wereRight = recalled.Count(r => r);
        double? retention = wereRight == 0 ? null
            : lessons.Where((_, i) => recalled[i]).Count(l => Drift.Recalls(Learner, l)) / (double)wereRight;
        var figures = new System.Text.Json.Nodes.JsonObject
        {
            ["kl"] = Math.Round(d.Kl, 6), ["delta_bits_per_byte"] = Math.Round(d.DeltaBitsPerByte, 6),
            ["negative_flip_rate"] = Math.Round(d.NegativeFlipRate, 4), ["lesson_retention"] = retention,
            ["canary_rise"] = Math.Round(d.CanaryDeltaBits, 4),
            ["cka"] = Math.Round(d.Cka, 6),
            ["flipped"] = new System.Text.Json.Nodes.JsonArray([.. d.Flipped!.Select(f => (System.Text.Json.Nodes.JsonNode?)f)]),
        };
        var json = measured is null ? new System.Text.Json.Nodes.JsonObject()
            : System.Text.Json.Nodes.JsonNode.Parse(measured) as System.Text.Json.Nodes.JsonObject ?? new() { ["probe"] = measured };
        json["gate"] = figures;
        if (Policy.Violation(d, retention) is not { } why)
            return Record(data, position, summary.BitsPerByte, after, kind, source, snapshot, json.ToJsonString());
        // rejected: back to the version on disk (the brain file is only replaced by an accepted update), logged with why
        Learner = Brain.Load(Directory);
        return Log.Append(new AuditRecord
        {
            Version = Log.Last()!.Version + 1, Parent = Version, Time = DateTime.UtcNow, Kind = kind, Source = source, Position = position,
            Data = data, LossBefore = summary.BitsPerByte, LossAfter = after, Probe = json.ToJsonString(), Accepted = false, Reason = why,
        });
    }

    /// <summary>Learns a stream in quarantine: stretches of `segment` bytes, each an update tried against the gates (a
    /// rejected stretch is logged and not learned). The input is read on its own thread, so cancelling stops after the
    /// stretch being tried, even while the input is idle: the bytes read until then are tried as one last stretch. The
    /// reading thread may still wait on the input after a cancelled call returns (until it has more to read or ends).</summary>
    public (long Bytes, long Rejected) LearnGated(Stream input, string source, int segment, IProgress<LearnProgress>? progress = null,
        CancellationToken cancel = default)
    {
        var pending = new MemoryStream();
        long bytes = 0, rejected = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var reader = new BlockReader(input, 1 << 16, long.MaxValue);
        void Try(int length)
        {
            var data = pending.GetBuffer().AsSpan(0, length).ToArray();
            var r = Apply(data, UpdateKind.Learn, source);
            bytes += length;
            if (!r.Accepted) rejected += length;
            var rest = pending.GetBuffer().AsSpan(length, (int)pending.Length - length).ToArray();
            pending.SetLength(0);
            pending.Write(rest);
            progress?.Report(new LearnProgress(bytes, 0, clock.Elapsed.TotalSeconds, null, Learner.Position, false));
        }
        while (true)
        {
            byte[]? block;
            int length;
            try { if (!reader.TryTake(out block, out length, TimeSpan.FromSeconds(1), cancel)) continue; }
            catch (OperationCanceledException) { break; }
            if (block is null) break; // end of input
            pending.Write(block, 0, length);
            reader.Return(block);
            while (pending.Length >= segment && !cancel.IsCancellationRequested) Try(segment);
            if (cancel.IsCancellationRequested) break;
        }
        reader.Stop();
        while (cancel.IsCancellationRequested && reader.TryTake(out var queued, out var queuedLength, TimeSpan.Zero, CancellationToken.None)
            && queued is not null)
            pending.Write(queued, 0, queuedLength);
        if (pending.Length > 0) Try((int)pending.Length); // what was read and not yet tried: one last stretch
        reader.ThrowIfFailed();
        return (bytes, rejected);
    }

    /// <summary>Learns a stream (the learner's one loop); every periodic save and the last one are versions of kind
    /// "learn" holding the bytes learned since the one before.</summary>
    public LearnSummary LearnStream(Stream input, string source, LearnOptions? options = null,
        IProgress<LearnProgress>? progress = null, CancellationToken cancel = default)
    {
        var pending = new MemoryStream();
        double bits = 0;
        long position = Learner.Position;
        var o = options ?? new LearnOptions();
        var observe = o.Observe;
        return Learner.Learn(input, o with
        {
            Observe = p =>
            {
                observe?.Invoke(p);
                pending.Write(p.Bytes);
                bits += p.TotalBits;
            },
            Save = _ =>
            {
                var data = pending.ToArray();
                Record(data, position, bits / data.Length, null, UpdateKind.Learn, source, false, null);
                pending.SetLength(0);
                bits = 0;
                position = Learner.Position;
            },
        }, progress, cancel);
    }

    AuditRecord Record(byte[] data, long position, double? before, double? after, string kind, string source, bool snapshot,
        string? probe)
    {
        var weights = Weights(Learner);
        double norm = 0;
        for (int i = 0; i < weights.Length; i++) { double d = weights[i] - _weightsBefore[i]; norm += d * d; }
        // The brain is written first under a temporary name (its hash comes from the same serialization), then the log
        // record, then the rename: a crash before the record leaves the old brain and the old log; after it, the log is
        // ahead by one version and opening replays it.
        long version = (Log.Last()?.Version ?? -1) + 1;
        var staged = Path.Combine(Directory, $".{Brain.FileName}.staged.tmp"); // removed by the next Brain.Lock if left behind
        string hash;
        try { hash = Brain.SaveFileAndHash(Learner, staged, VersionTag(version)); }
        catch (IOException e) // a full disk, say: nothing was logged or replaced
        {
            throw new IOException($"{Directory}: could not write version {version} of the brain ({Reason(e)}); " +
                $"it stays at version {Version}", e);
        }
        var r = Log.Append(new AuditRecord
        {
            Version = version, Parent = Version, Time = DateTime.UtcNow, Kind = kind, Source = source,
            Position = position, Data = data, LossBefore = before, LossAfter = after, UpdateNorm = Math.Sqrt(norm), Probe = probe,
            StateHash = hash,
        });
        Version = r.Version; // logged: from here the brain is at this version (a brain file behind it is repaired on open)
        _weightsBefore = weights;
        File.Move(staged, Path.Combine(Directory, Brain.FileName), overwrite: true);
        var (updates, bytes) = SinceSnapshot();
        if (snapshot || updates >= Options.SnapshotEvery || bytes >= Math.Max(Options.SnapshotBytes, Learner.Position / 8))
            CopySnapshot(r.Version);
        return r;
    }

    /// <summary>Accepted updates, and bytes learned, since the newest snapshot among the current version's ancestors.</summary>
    (int Updates, long Bytes) SinceSnapshot()
    {
        int n = 0;
        long bytes = 0;
        foreach (var r in Log.Ancestry(Version))
        {
            if (File.Exists(SnapshotPath(Directory, r.Version))) return (n, bytes);
            if (UpdateKind.Learns(r.Kind)) { n++; bytes += r.Bytes; }
        }
        return (n, bytes);
    }

    /// <summary>A snapshot of the current version: a copy of the brain file just saved (written atomically).</summary>
    void CopySnapshot(long version)
    {
        var brain = Path.Combine(Directory, Brain.FileName);
        try
        {
            AtomicFile.Write(SnapshotPath(Directory, version), s =>
            {
                using var from = File.OpenRead(brain);
                from.CopyTo(s);
            });
        }
        // the version is logged and saved; a snapshot only shortens rebuilding, and a later update tries again
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Warning?.Invoke($"no snapshot of version {version} ({Reason(e)}); " +
                "rebuilding replays from an older one");
        }
    }

    /// <summary>An I/O failure's reason without the temporary file's name (".NET: 'No space left on device : path'").</summary>
    static string Reason(Exception e) => e.Message.Split(" : '")[0].Trim();

    /// <summary>Told what went wrong without failing an update (a snapshot that could not be written).</summary>
    public Action<string>? Warning { get; set; }

    static Dictionary<string, string> VersionTag(long version) => new()
    {
        [VersionKey] = version.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>Returns the brain to `version` (bit for bit: checked by hash) as a new version whose parent it is; the
    /// versions after it stay in the log.</summary>
    public AuditRecord Rollback(long version, string reason = "rollback")
    {
        var target = Log.Get(version) ?? throw new InvalidFileException($"{Directory}: no version {version} in the audit log " +
            $"(versions 0..{Log.Last()!.Version})");
        if (!target.Accepted) throw new InvalidFileException($"{Directory}: version {version} was rejected; no brain has it");
        var learner = Rebuild(Directory, Log, version);
        long next = Log.Last()!.Version + 1;
        // as Record: the brain staged, the record appended, then the rename (a crash in between is repaired on open)
        var staged = Path.Combine(Directory, $".{Brain.FileName}.staged.tmp");
        Brain.SaveFileAndHash(learner, staged, VersionTag(next));
        var r = Log.Append(new AuditRecord
        {
            Version = next, Parent = version, Time = DateTime.UtcNow, Kind = UpdateKind.Rollback,
            Source = reason, Position = learner.Position, StateHash = target.StateHash, UpdateNorm = null,
        });
        Learner = learner;
        Version = r.Version;
        _weightsBefore = Weights(Learner);
        File.Move(staged, Path.Combine(Directory, Brain.FileName), overwrite: true);
        return r;
    }

    /// <summary>The learner at any version of this brain (nothing is changed).</summary>
    public OnlineLearner Rebuild(long version) => Rebuild(Directory, Log, version);

    /// <summary>Rebuilds a version from a brain folder without locking it (read-only commands).</summary>
    public static OnlineLearner Rebuild(string dir, long version)
    {
        using var log = AuditLog.Open(dir, readOnly: true);
        return Rebuild(dir, log, version);
    }

    static OnlineLearner Rebuild(string dir, AuditLog log, long version)
    {
        var path = log.Ancestry(version);
        for (int i = 0; i < path.Count; i++)
        {
            var file = SnapshotPath(dir, path[i].Version);
            if (!File.Exists(file)) continue;
            var learner = Brain.LoadFile(file, out _);
            if (Brain.Hash(learner) != path[i].StateHash)
                throw new InvalidFileException($"{file}: the snapshot does not match version {path[i].Version} of the audit log");
            for (int j = i - 1; j >= 0; j--) Replay(learner, path[j], dir, log);
            return learner;
        }
        throw new InvalidFileException($"{dir}: no snapshot among the ancestors of version {version}; it cannot be rebuilt");
    }

    static void Replay(OnlineLearner learner, AuditRecord r, string dir, AuditLog log)
    {
        if (UpdateKind.Learns(r.Kind))
        {
            r = log.Get(r.Version)!; // with its bytes (checked against their SHA-256)
            if (learner.Position != r.Position)
                throw new InvalidFileException($"{dir}: replaying version {r.Version}: the stream is at byte {learner.Position}, " +
                    $"the log says {r.Position}");
            learner.Learn(r.Data);
        }
        else if (r.Kind != UpdateKind.Rollback)
            throw new InvalidFileException($"{dir}: version {r.Version} is of kind '{r.Kind}', which cannot be replayed");
        if (Brain.Hash(learner) != r.StateHash)
            throw new InvalidFileException($"{dir}: replaying version {r.Version} did not reproduce its logged state (hash differs)");
    }

    void SaveBrain() => Brain.Save(Learner, Directory, VersionTag(Version));

    void WriteSnapshot(long version) => Brain.SaveFile(Learner, SnapshotPath(Directory, version), VersionTag(version));

    public static string SnapshotPath(string dir, long version) =>
        Path.Combine(dir, SnapshotFolder, $"v{version.ToString("D8", CultureInfo.InvariantCulture)}.safetensors");

    /// <summary>Versions that have a snapshot file.</summary>
    public static IReadOnlyList<long> Snapshots(string dir)
    {
        var folder = Path.Combine(dir, SnapshotFolder);
        if (!System.IO.Directory.Exists(folder)) return [];
        return System.IO.Directory.EnumerateFiles(folder, "v*.safetensors")
            .Select(f => Path.GetFileNameWithoutExtension(f)[1..])
            .Select(s => long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : -1)
            .Where(v => v >= 0).Order().ToList();
    }

    static void CleanTemporaries(string folder, string pattern = ".*.tmp")
    {
        if (!System.IO.Directory.Exists(folder)) return;
        foreach (var stale in System.IO.Directory.EnumerateFiles(folder, pattern))
        {
            try { File.Delete(stale); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
    }

    static float[] Weights(OnlineLearner learner) => learner.Model.Parameters().SelectMany(p => p.ToFloatArray()).ToArray();

    public void Dispose()
    {
        Log.Dispose();
        _lock?.Dispose();
    }
}
