using Engram.Learning;
using Engram.Models;
using Engram.Safety;
using Engram.Tensors;
using Microsoft.Data.Sqlite;

namespace Engram.Safety.Tests;

public sealed class TempBrain : IDisposable
{
    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "engram-safety-" + Guid.NewGuid().ToString("N"));
    public void Dispose() { if (Directory.Exists(Dir)) Directory.Delete(Dir, true); }
}

static class Small
{
    /// <summary>The presets' shape at a test's size: convolution, TTT-Linear (4-token mini-batches), counts, match model.</summary>
    public static LmConfig Model => new()
    {
        Preset = "test", Dim = 16, Layers = 1, Heads = 2, Mixer = MixerKind.Conv, MlpWidth = 32,
        FastWeight = Engram.Nn.FastWeightOptions.TttLinear with { MiniBatch = 4 }, ContextOrders = [1, 2, 4],
        MatchMinLength = 5, MatchWindowBits = 12, MaxContextsPerOrder = 512,
    };
    public static LearnerConfig Learner => new() { Chunk = 8, LearningRate = 3e-3, WarmupSteps = 2 };
    public static OnlineLearner New() => new(Model, Learner);

    public static byte[] Text(int length, int seed)
    {
        var words = new[] { "the ", "cat ", "sat ", "on ", "a ", "mat. ", "and ", "then ", "it ", "slept.\n", "Zorvia ", "7 " };
        var rng = new Random(seed);
        var s = new System.Text.StringBuilder();
        while (s.Length < length) s.Append(words[rng.Next(words.Length)]);
        return System.Text.Encoding.ASCII.GetBytes(s.ToString(0, length));
    }
}

public class VersionedBrainTests
{
    [Fact]
    public void EveryVersionIsRebuiltBitForBitAndARollbackContinuesAsTheOriginalDid()
    {
        using var tmp = new TempBrain();
        var hashes = new Dictionary<long, string>();
        var rng = new Random(7);
        var updates = Enumerable.Range(0, 12).Select(i => Small.Text(rng.Next(1, 40), i)).ToList(); // odd lengths: partial chunks
        using (var vb = VersionedBrain.Open(tmp.Dir, Small.New, new HistoryOptions { SnapshotEvery = 4 }))
        {
            hashes[0] = Brain.Hash(vb.Learner);
            foreach (var (u, i) in updates.Select((u, i) => (u, i)))
            {
                var r = vb.Apply(u, i % 3 == 0 ? UpdateKind.Lesson : UpdateKind.Chat, $"turn {i}");
                Assert.Equal(i + 1, r.Version);
                Assert.Equal(u.Length, r.Bytes);
                Assert.True(r.UpdateNorm > 0);
                hashes[r.Version] = Brain.Hash(vb.Learner);
            }
            // rebuilding any version, in random order, reproduces the state it had
            foreach (var v in hashes.Keys.OrderBy(_ => rng.Next()))
                Assert.Equal(hashes[v], Brain.Hash(vb.Rebuild(v)));

            var back = vb.Rollback(5, "test");
            Assert.Equal(13, back.Version);
            Assert.Equal(5, back.Parent);
            Assert.Equal(hashes[5], Brain.Hash(vb.Learner));
            vb.Apply(updates[5], UpdateKind.Chat, "again");
            Assert.Equal(hashes[6], Brain.Hash(vb.Learner)); // the same bytes from the same state: the same state
        }
        // reopened: at the newest version, and the straight path agrees
        using (var vb = VersionedBrain.Open(tmp.Dir))
        {
            Assert.Equal(14, vb.Version);
            Assert.Null(vb.Repair);
            Assert.Equal(hashes[6], Brain.Hash(vb.Learner));
            var straight = Small.New();
            foreach (var u in updates.Take(6)) straight.Learn(u);
            Assert.Equal(hashes[6], Brain.Hash(straight));
        }
    }

    [Fact]
    public void ACrashBetweenLoggingAndSavingIsRepairedByReplay()
    {
        using var tmp = new TempBrain();
        string expected;
        var brainFile = Path.Combine(tmp.Dir, Brain.FileName);
        byte[] saved;
        using (var vb = VersionedBrain.Open(tmp.Dir, Small.New))
        {
            vb.Apply(Small.Text(30, 1), UpdateKind.Chat, "a");
            saved = File.ReadAllBytes(brainFile);
            vb.Apply(Small.Text(21, 2), UpdateKind.Chat, "b");
            vb.Apply(Small.Text(9, 3), UpdateKind.Lesson, "c");
            expected = Brain.Hash(vb.Learner);
        }
        File.WriteAllBytes(brainFile, saved); // as if the process died after logging versions 2 and 3, before saving them
        using (var vb = VersionedBrain.Open(tmp.Dir))
        {
            Assert.Equal(3, vb.Version);
            Assert.Contains("replayed versions 2..3", vb.Repair);
            Assert.Equal(expected, Brain.Hash(vb.Learner));
        }
        using (var vb = VersionedBrain.Open(tmp.Dir)) Assert.Null(vb.Repair);
    }

    [Fact]
    public void ARollbackLoggedButNotRenamedIntoPlaceIsRepairedOnOpen()
    {
        using var tmp = new TempBrain();
        var brainFile = Path.Combine(tmp.Dir, Brain.FileName);
        string expected;
        byte[] before;
        using (var vb = VersionedBrain.Open(tmp.Dir, Small.New))
        {
            vb.Apply(Small.Text(30, 1), UpdateKind.Chat, "a");
            expected = Brain.Hash(vb.Learner);
            vb.Apply(Small.Text(21, 2), UpdateKind.Chat, "b");
            before = File.ReadAllBytes(brainFile);
            vb.Rollback(1);
        }
        File.WriteAllBytes(brainFile, before); // killed after logging the rollback (version 3), before the rename
        using var again = VersionedBrain.Open(tmp.Dir);
        Assert.Equal(3, again.Version);
        Assert.Contains("rebuilt version 3", again.Repair);
        Assert.Equal(expected, Brain.Hash(again.Learner));
    }

    [Fact]
    public void AnUpdateThatFailsBeforeItIsLoggedLeavesTheLearnerAtItsVersion()
    {
        using var tmp = new TempBrain();
        using var vb = VersionedBrain.Open(tmp.Dir, Small.New);
        vb.Apply(Small.Text(30, 1), UpdateKind.Chat, "a");
        var hash = Brain.Hash(vb.Learner);
        Assert.Throws<InvalidOperationException>(() => vb.Apply(Small.Text(25, 2), UpdateKind.Chat, "b",
            probe: _ => throw new InvalidOperationException("a probe that fails")));
        Assert.Equal(1, vb.Version);
        Assert.Equal(hash, Brain.Hash(vb.Learner));
        vb.Apply(Small.Text(25, 2), UpdateKind.Chat, "b");
        Assert.Equal(Brain.Hash(vb.Learner), Brain.Hash(vb.Rebuild(2)));
    }

    [Fact]
    public void ABrainThatDivergedFromItsLogIsRefused()
    {
        using var tmp = new TempBrain();
        using (var vb = VersionedBrain.Open(tmp.Dir, Small.New)) vb.Apply(Small.Text(30, 1), UpdateKind.Chat, "a");
        // learned behind the log's back (the brain keeps its version number, its state moves on)
        var learner = Brain.Load(tmp.Dir, out var extra);
        learner.Learn(Small.Text(17, 2));
        Brain.Save(learner, tmp.Dir, extra);
        var e = Assert.Throws<InvalidFileException>(() => VersionedBrain.Open(tmp.Dir));
        Assert.Contains("do not match version 1", e.Message);
        Assert.StartsWith(tmp.Dir, e.Message);
    }

    [Fact]
    public void ABrainAheadOfItsLogIsRefused()
    {
        using var tmp = new TempBrain();
        using (var vb = VersionedBrain.Open(tmp.Dir, Small.New)) vb.Apply(Small.Text(30, 1), UpdateKind.Chat, "a");
        var learner = Brain.Load(tmp.Dir);
        Brain.Save(learner, tmp.Dir, new Dictionary<string, string> { ["version"] = "9" });
        var e = Assert.Throws<InvalidFileException>(() => VersionedBrain.Open(tmp.Dir));
        Assert.Contains("version 9", e.Message);
    }

    [Fact]
    public void ABrainLearnedBeforeItHadALogIsAdoptedAsVersionZero()
    {
        using var tmp = new TempBrain();
        var learner = Small.New();
        learner.Learn(Small.Text(50, 1));
        Brain.Save(learner, tmp.Dir);
        var before = Brain.Hash(learner);
        using var vb = VersionedBrain.Open(tmp.Dir);
        Assert.Equal(0, vb.Version);
        var origin = vb.Log.Get(0)!;
        Assert.Equal(UpdateKind.Origin, origin.Kind);
        Assert.Equal(50, origin.Position);
        Assert.Equal(before, origin.StateHash);
        Assert.Equal(before, Brain.Hash(vb.Rebuild(0)));
    }

    [Fact]
    public void TheLogIsAppendOnly()
    {
        using var tmp = new TempBrain();
        using (var vb = VersionedBrain.Open(tmp.Dir, Small.New)) vb.Apply(Small.Text(30, 1), UpdateKind.Chat, "a");
        using var db = new SqliteConnection($"Data Source={Path.Combine(tmp.Dir, AuditLog.FileName)};Pooling=False");
        db.Open();
        foreach (var sql in new[] { "UPDATE updates SET source = 'x' WHERE version = 1", "DELETE FROM updates WHERE version = 1" })
        {
            using var cmd = db.CreateCommand();
            cmd.CommandText = sql;
            var e = Assert.Throws<SqliteException>(() => cmd.ExecuteNonQuery());
            Assert.Contains("append-only", e.Message);
        }
    }

    [Fact]
    public void ACorruptLogIsRefusedWithItsName()
    {
        using var tmp = new TempBrain();
        using (var vb = VersionedBrain.Open(tmp.Dir, Small.New)) vb.Apply(Small.Text(30, 1), UpdateKind.Chat, "a");
        var path = Path.Combine(tmp.Dir, AuditLog.FileName);
        var bytes = File.ReadAllBytes(path);
        new Random(3).NextBytes(bytes.AsSpan(0, 100)); // the header
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidFileException>(() => VersionedBrain.Open(tmp.Dir));
        Assert.StartsWith(path, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void ASecondWriterIsRefused()
    {
        using var tmp = new TempBrain();
        using var first = VersionedBrain.Open(tmp.Dir, Small.New);
        var e = Assert.Throws<EngramException>(() => VersionedBrain.Open(tmp.Dir));
        Assert.Contains("in use", e.Message);
    }

    [Fact]
    public void AStreamIsLoggedAsVersionsThatTogetherHoldEveryByte()
    {
        using var tmp = new TempBrain();
        var data = Small.Text(301, 4);
        using var vb = VersionedBrain.Open(tmp.Dir, Small.New);
        var summary = vb.LearnStream(new MemoryStream(data), "test.txt", new LearnOptions { SaveEvery = TimeSpan.Zero });
        Assert.Equal(301, summary.Bytes);
        var learned = vb.Log.All(withData: true).Where(r => r.Kind == UpdateKind.Learn).ToList();
        Assert.True(learned.Count > 1);
        Assert.Equal(data, learned.SelectMany(r => r.Data).ToArray());
        Assert.All(learned, r => Assert.Equal("test.txt", r.Source));
        Assert.Equal(Brain.Hash(vb.Learner), Brain.Hash(vb.Rebuild(vb.Version)));
        var straight = Small.New();
        straight.Learn(data);
        Assert.Equal(Brain.Hash(straight), Brain.Hash(vb.Learner));
    }
}
