// The match model: it predicts the byte that followed the most recent occurrence of the current context (so the latest
// value of a restated fact wins), its confidence grows with what it got right, and rollback, clone and save/load give
// back exactly the same predictions (the index is rebuilt from the window on load).
using System.Text;
using Engram.Models;
using Engram.Tensors;

namespace Engram.Learning.Tests;

public class MatchModelTests
{
    static void Read(MatchModel m, string text) { foreach (var b in Encoding.ASCII.GetBytes(text)) m.Update(b); }

    static float[] Predict(MatchModel m)
    {
        var experts = new SparseExperts(1, 256);
        var conf = new float[MatchModel.Features];
        m.Predict(experts, conf);
        return [.. experts.ToDense().ToFloatArray(), .. conf];
    }

    [Fact]
    public void ThePredictionIsWhatFollowedTheLatestOccurrence()
    {
        var m = new MatchModel(6, 16);
        Read(m, "The code of the amber gate is 4817. The code of the crimson door is 3302. ");
        Read(m, "Then the code of the amber gate is ");
        Assert.Equal('4', m.Predicted);
        Read(m, "4817. Later: the code of the amber gate is 5521. And the code of the amber gate is ");
        Assert.Equal('5', m.Predicted);
        Assert.True(m.Length >= 20, $"match length {m.Length}");
        var p = Predict(m);
        Assert.True(p['5'] > p['4'], "the predicted byte is not the most likely");
    }

    [Fact]
    public void KeysSharingALongPrefixAreToldApart()
    {
        var m = new MatchModel(6, 16);
        var rooms = new[] { 17, 42, 19, 12, 71 };
        foreach (var r in rooms)
            Read(m, $"The code of the door in the north tower of the old castle, room {r}, is {r * 97 % 9000 + 1000}. ");
        Read(m, "Some other text goes here, for a while. ");
        foreach (var r in rooms)
        {
            var c = m.Clone();
            Read(c, $"The code of the door in the north tower of the old castle, room {r}, is ");
            Assert.Equal((r * 97 % 9000 + 1000).ToString()[0], (char)c.Predicted);
        }
    }

    [Fact]
    public void ARestatedLineWinsOverAnOlderOneThatAgreesFurtherBackByChance()
    {
        // The question follows a line that ends like the one before the old statement ("tea.\n", "sea.\n"), so the old
        // occurrence agrees with the context three bytes further back than the newer one; both agree over the whole
        // current line, and the newest statement must win (rule 2; rule 1, kept for older brains, follows the old one).
        foreach (var (rule, want) in new[] { (2, 'T'), (1, 'R') })
        {
            var m = new MatchModel(7, 16, rule);
            Read(m, "We sat by the sea.\nThe capital of Tasvenka is Rinzo.\nA long walk, then a rest\n");
            Read(m, "The capital of Tasvenka is Tasgal.\nShe had some tea.\nThe capital of Tasvenka is ");
            Assert.Equal(want, (char)m.Predicted);
        }
        // A line shorter than the long context is found whatever preceded it.
        var s = new MatchModel(7, 16, 2);
        Read(s, "Notes.\nab.\nUrquin Lolo has a pet raven.\nquiet words\nUrquin Lolo has a pet badger.\nmore words, ab.\n");
        Read(s, "Urquin Lolo has a pet ");
        Assert.Equal('b', s.Predicted);
        // A key that differs inside the line still keeps its own value when a newer line shares only its end.
        var k = new MatchModel(7, 16, 2);
        Read(k, "x\nThe door code of the west wing of the castle is 4817.\n");
        Read(k, "y\nThe window code of the west wing of the castle is 5521.\n");
        Read(k, "z\nThe door code of the west wing of the castle is ");
        Assert.Equal('4', k.Predicted);
        // An answer on the line after its question keeps to its question, though a newer answer starts alike.
        var q = new MatchModel(7, 16, 2);
        Read(q, "x\nU: What is Alice's phone?\nB: 555-1234\nU: What is Bob's phone?\nB: 555-9999\n");
        Read(q, "U: What is Alice's phone?\nB: 555-");
        Assert.Equal('1', (char)q.Predicted);
        // The price, kept visible: reworded so that only the end of the question line agrees with either, it gets the
        // newest answer (rule 1 keeps Alice's).
        foreach (var (rule, want) in new[] { (2, '9'), (1, '1') })
        {
            var r = new MatchModel(7, 16, rule);
            Read(r, "x\nU: What is Alice's phone?\nB: 555-1234\nU: What is Bob's phone?\nB: 555-9999\n");
            Read(r, "U: And Alice's phone?\nB: 555-");
            Assert.Equal(want, (char)r.Predicted);
        }
    }

    [Fact]
    public void ConfidenceGrowsWithCorrectPredictions()
    {
        var m = new MatchModel(4, 16);
        var text = string.Concat(Enumerable.Repeat("abcdefghijklmnopqrstuvwxyz0123456789 ", 4));
        Read(m, text[..40]);
        double early = m.Confidence;
        Read(m, text[40..]);
        Assert.True(m.Length > 0);
        Assert.True(m.Confidence > 0.9 && m.Confidence > early, $"confidence {early} → {m.Confidence}");
    }

    [Fact]
    public void NothingIsPredictedWithoutAVerifiedMatch()
    {
        var m = new MatchModel(8, 16);
        Read(m, "abcdefgh ijklmnop qrstuvwx");
        Assert.Equal(-1, m.Predicted);
        Assert.Equal(0, m.Length);
        Assert.All(Predict(m), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void RollbackCloneAndSaveLoadGiveTheSamePredictions()
    {
        foreach (int rule in new[] { 1, 2 }) SameAfterRollbackCloneSaveLoad(rule);
    }

    static void SameAfterRollbackCloneSaveLoad(int rule)
    {
        var text = TestModels.Text(40_000);
        var m = new MatchModel(5, 12, rule); // a 4 KB window: the ring wraps many times
        foreach (var b in text.AsSpan(0, 30_000)) m.Update(b);
        var clone = m.Clone();
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true)) m.Save(w);
        ms.Position = 0;
        var loaded = MatchModel.Load(new BinaryReader(ms));
        Assert.Equal(rule, loaded.Rule);
        m.Mark();
        foreach (var b in text.AsSpan(30_000, 5_000)) m.Update(b);
        m.Rollback();
        foreach (var b in text.AsSpan(30_000))
        {
            var expected = Predict(m);
            Assert.Equal(expected, Predict(clone));
            Assert.Equal(expected, Predict(loaded));
            m.Update(b); clone.Update(b); loaded.Update(b);
        }
    }

    [Fact]
    public void CorruptSavesAreRefusedClearly()
    {
        var m = new MatchModel(5, 12);
        foreach (var b in TestModels.Text(6000)) m.Update(b);
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true)) m.Save(w);
        var saved = ms.ToArray();
        var rng = new Random(3);
        for (int trial = 0; trial < 300; trial++)
        {
            var bad = (byte[])saved.Clone();
            if (trial % 3 == 0) bad = bad[..rng.Next(bad.Length)];
            else bad[rng.Next(Math.Min(bad.Length, 300))] ^= (byte)(1 << rng.Next(8));
            try { MatchModel.Load(new BinaryReader(new MemoryStream(bad))); }
            catch (Exception e) when (e is EngramException or EndOfStreamException) { }
        }
    }
}
