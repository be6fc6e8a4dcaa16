// Context-count memory: estimates from counts of what followed each context, rollback restores exactly, saved
// tables load back identically, and corrupt saves are rejected with InvalidFileException (fuzzed).
using Engram.Models;
using Engram.Tensors;

namespace Engram.Learning.Tests;

public class ContextCountsTests
{
    static float[] Predict(ContextCounts c)
    {
        var experts = new SparseExperts(c.Orders.Length, 256); var conf = new float[c.Orders.Length * ContextCounts.ConfidenceFeatures];
        c.Predict(experts, conf);
        return [.. experts.ToDense().ToFloatArray(), .. conf];
    }

    [Fact]
    public void ARepeatedContinuationBecomesTheMostLikely()
    {
        var c = new ContextCounts([1, 2, 16]);
        foreach (var b in "the amber gate is 4817. the amber gate is "u8) c.Update(b);
        var lp = Predict(c);
        for (int i = 1; i < 3; i++) // orders 2 and 16 have seen "s " and "… amber gate is " followed by '4' once
            Assert.Equal((int)'4', Array.IndexOf(lp, lp.AsSpan(i * 256, 256).ToArray().Max(), i * 256, 256) - i * 256);
        Assert.True(lp[2 * 256 + '4'] > lp[2 * 256 + '5'] + 2, "order 16 is not confident after one sighting");
    }

    [Fact]
    public void RollbackUndoesEveryUpdateSinceTheMark()
    {
        var c = new ContextCounts([0, 1, 3, 12]);
        var text = TestModels.Text(3000);
        foreach (var b in text.AsSpan(0, 2000)) c.Update(b);
        var before = Predict(c);
        var saved = c.Save();
        c.Mark();
        foreach (var b in text.AsSpan(2000)) c.Update(b);
        Assert.NotEqual(before, Predict(c));
        c.Rollback();
        Assert.Equal(before, Predict(c));
        Assert.Equal(saved, c.Save());
    }

    [Fact]
    public void AWordContextIgnoresCaseAndLengthAndPredictsTheWordAfterThePreviousOne()
    {
        const int word = ContextCounts.WordBase, bigram = ContextCounts.WordBase + 1;
        var c = new ContextCounts([word, bigram]);
        foreach (var b in "An extraordinarily LONG word. then an extraordinarily "u8) c.Update(b);
        var p = Predict(c);
        // the previous word "extraordinarily" (18 bytes back from the start of "long", any case) was followed by "l"
        int best = Array.IndexOf(p, p.AsSpan(256, 256).ToArray().Max(), 256, 256) - 256;
        Assert.Equal('L', best);
        foreach (var b in "lo"u8) c.Update(b);
        p = Predict(c); // inside a word, the word so far ("lo", case folded) has seen 'N' next
        Assert.Equal('N', Array.IndexOf(p, p.AsSpan(0, 256).ToArray().Max(), 0, 256));
        var saved = c.Save(); // the word state is saved, marked and rolled back with the tables
        var copy = ContextCounts.Load(saved);
        c.Mark();
        foreach (var b in "ng day"u8) c.Update(b);
        c.Rollback();
        Assert.Equal(saved, c.Save());
        Assert.Equal(Predict(c), Predict(copy));
        foreach (var b in "ng"u8) { c.Update(b); copy.Update(b); }
        Assert.Equal(Predict(c), Predict(copy));
    }

    [Fact]
    public void SavedTablesLoadBackIdentically()
    {
        var c = new ContextCounts([1, 2, 4, 24]);
        var data = new byte[5000]; new Random(2).NextBytes(data);
        foreach (var b in TestModels.Text(4000)) c.Update(b);
        foreach (var b in data) c.Update(b); // counts halve, tables grow
        var copy = ContextCounts.Load(c.Save());
        Assert.Equal(Predict(c), Predict(copy));
        foreach (var b in "more text"u8) { c.Update(b); copy.Update(b); }
        Assert.Equal(Predict(c), Predict(copy));
        Assert.Equal(Predict(c), Predict(c.Clone()));
    }

    [Fact]
    public void AFullTableEvictsTheLeastUsefulContextsAndKeepsTheBusyOnes()
    {
        // Order 3 over random letters: a new context almost every byte, 40 times the limit; " the " recurs throughout.
        const int max = 256;
        var c = new ContextCounts([3], null, max);
        var rng = new Random(4);
        var lowestAfterFill = double.MaxValue;
        for (int i = 0; i < 10_000; i++)
        {
            if (i % 20 == 0) foreach (var b in " the "u8) c.Update(b);
            else c.Update((byte)('a' + rng.Next(26)));
            Assert.True(c.Footprint()[0].Contexts <= max, $"{c.Footprint()[0].Contexts} contexts held");
            if (i < 2 * max) continue;
            var probe = c.Clone(); // after "th", order 3 has seen "the" many times: 'e' must stay confident
            foreach (var b in " th"u8) probe.Update(b);
            var p = Predict(probe);
            lowestAfterFill = Math.Min(lowestAfterFill, p['e'] - p.AsSpan(0, 256).ToArray().Where((_, j) => j != 'e').Max());
        }
        Assert.True(lowestAfterFill > 2, $"the busy context lost its counts at some point (margin {lowestAfterFill:F2})");
        var copy = ContextCounts.Load(c.Save()); // evictions stay deterministic after a reload
        var more = new byte[3000]; rng.NextBytes(more);
        foreach (var b in more) { c.Update(b); copy.Update(b); }
        Assert.Equal(c.Save(), copy.Save());
        Assert.Equal(Predict(c), Predict(copy));
    }

    [Fact]
    public void CorruptSavesAreRejected()
    {
        var c = new ContextCounts([1, 3]);
        foreach (var b in TestModels.Text(500)) c.Update(b);
        var good = c.Save();
        var rng = new Random(5);
        for (int trial = 0; trial < 300; trial++)
        {
            var bad = (byte[])good.Clone();
            if (trial % 3 == 0) bad = bad.AsSpan(0, rng.Next(bad.Length)).ToArray();
            else for (int f = 0; f < 1 + rng.Next(4); f++) bad[rng.Next(bad.Length)] = (byte)rng.Next(256);
            try { ContextCounts.Load(bad); }
            catch (InvalidFileException) { }
        }
    }
}

public class ContextCountsLookAheadTests
{
    [Fact]
    public void ALongLookAheadGrowsTheTablesAndRollsBackExactly()
    {
        // 20,000 new contexts per order while marked: far more than the initial tables hold.
        var c = new ContextCounts([2, 6, 16]);
        var text = TestModels.Text(1000);
        foreach (var b in text) c.Update(b);
        var before = c.Save();
        c.Mark();
        var noise = new byte[20_000]; new Random(3).NextBytes(noise);
        foreach (var b in noise) c.Update(b);
        c.Rollback();
        Assert.Equal(before, c.Save());
        foreach (var b in "and more"u8) c.Update(b); // still usable, same as an unmarked copy
        var fresh = new ContextCounts([2, 6, 16]);
        foreach (var b in text) fresh.Update(b);
        foreach (var b in "and more"u8) fresh.Update(b);
        Assert.Equal(fresh.Save()[..100], c.Save()[..100]);
    }
}
