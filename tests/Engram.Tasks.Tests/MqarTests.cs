// The MQAR generator: every query asks for a key of the pairs before it, its target is that key's value, and the same
// generator state gives the same batch.
using Engram.Tasks;
using Engram.Tensors;

namespace Engram.Tasks.Tests;

public class MqarTests
{
    [Theory]
    [InlineData(64, 64, 4)]
    [InlineData(256, 64, 16)]
    [InlineData(8192, 256, 64)]
    [InlineData(40, 16, 4)] // every slot taken: as many queries as slots
    public void QueriesAskForEarlierKeysAndTargetTheirValues(int vocab, int length, int pairs)
    {
        var spec = new MqarSpec(vocab, length, pairs);
        var batch = Mqar.Generate(spec, 50, new Generator(7));
        Assert.Equal(50 * length, batch.Inputs.Length);
        Assert.Equal(50 * pairs, batch.QueryPositions.Length);
        for (int s = 0; s < batch.Count; s++)
        {
            var row = batch.Inputs.AsSpan(s * length, length);
            var valueOf = new Dictionary<int, int>();
            for (int i = 0; i < pairs; i++)
            {
                int key = row[2 * i], value = row[2 * i + 1];
                Assert.InRange(key, 1, vocab / 2 - 1);
                Assert.InRange(value, vocab / 2, vocab - 1);
                Assert.True(valueOf.TryAdd(key, value), $"key {key} twice in sequence {s}");
            }
            Assert.Equal(pairs, valueOf.Values.Distinct().Count());
            var asked = new List<int>();
            for (int t = 2 * pairs; t < length; t++)
            {
                int target = batch.Targets[s * length + t];
                if (target == MqarSpec.IgnoreIndex)
                {
                    Assert.Equal(MqarSpec.Filler, row[t]);
                    continue;
                }
                Assert.Equal(0, (t - 2 * pairs) % 2); // queries sit at the even offsets of the query region
                Assert.True(valueOf.TryGetValue(row[t], out var value), $"sequence {s}: query {row[t]} at {t} is no earlier key");
                Assert.Equal(value, target);
                asked.Add(s * length + t);
            }
            for (int t = 0; t < 2 * pairs; t++) Assert.Equal(MqarSpec.IgnoreIndex, batch.Targets[s * length + t]);
            Assert.Equal(asked, batch.QueryPositions.Skip(s * pairs).Take(pairs));
            Assert.Equal(valueOf.Keys.Order(), asked.Select(p => batch.Inputs[p]).Order()); // every key asked exactly once
        }
        Assert.Equal(batch.QueryPositions.Select(p => batch.Targets[p]), batch.QueryTargets());
    }

    [Fact]
    public void TheSameSeedGivesTheSameBatchAndAnotherSeedAnother()
    {
        var spec = new MqarSpec(256, 128, 16);
        var a = Mqar.Generate(spec, 20, new Generator(3));
        var b = Mqar.Generate(spec, 20, new Generator(3));
        var c = Mqar.Generate(spec, 20, new Generator(4));
        Assert.Equal(a.Inputs, b.Inputs);
        Assert.Equal(a.Targets, b.Targets);
        Assert.Equal(a.QueryPositions, b.QueryPositions);
        Assert.NotEqual(a.Inputs, c.Inputs);
        // one generator drawn twice continues: two batches of 10 are the batch of 20
        var g = new Generator(3);
        var first = Mqar.Generate(spec, 10, g);
        var second = Mqar.Generate(spec, 10, g);
        Assert.Equal(a.Inputs, first.Inputs.Concat(second.Inputs));
    }

    [Fact]
    public void ASliceIsABatchOfItsOwn()
    {
        var spec = new MqarSpec(64, 32, 4);
        var batch = Mqar.Generate(spec, 5, new Generator(9));
        var part = batch.Slice(2, 2);
        Assert.Equal(2, part.Count);
        Assert.Equal(batch.Inputs.Skip(64).Take(64), part.Inputs);
        Assert.Equal(batch.QueryTargets().Skip(8).Take(8), part.QueryTargets());
        Assert.All(part.QueryPositions, p => Assert.InRange(p, 0, 63));
        Assert.Throws<EngramException>(() => batch.Slice(4, 2));
    }

    [Fact]
    public void QuerySlotsFollowThePowerLaw()
    {
        var spec = new MqarSpec(64, 64, 1);
        var batch = Mqar.Generate(spec, 4000, new Generator(1));
        var slots = batch.QueryPositions.Select((p, s) => (p - s * 64 - 2) / 2).ToArray();
        int slotCount = spec.Slots;
        var hits = new int[slotCount];
        foreach (var g in slots) hits[g]++;
        // P(g) ∝ (g + 1)^(−0.99): slot 0 about 31 times as likely as slot 30, and the uniform setting is flat
        Assert.InRange(hits[0] / (double)slots.Length, 0.2, 0.32);
        Assert.True(hits[0] > 10 * hits[slotCount - 1], $"slot 0: {hits[0]}, slot {slotCount - 1}: {hits[slotCount - 1]}");
        var uniform = Mqar.Generate(spec with { PowerA = 1 }, 4000, new Generator(1));
        var uniformHits = new int[slotCount];
        for (int s = 0; s < uniform.Count; s++) uniformHits[(uniform.QueryPositions[s] - s * 64 - 2) / 2]++;
        Assert.All(uniformHits, h => Assert.InRange(h, 70, 200));
    }

    [Theory]
    [InlineData(64, 15, 4, "at least 16 tokens")]
    [InlineData(8, 64, 4, "vocabulary of at least 10")]
    [InlineData(64, 64, 0, "at least one")]
    public void SettingsThatDoNotFitAreRefused(int vocab, int length, int pairs, string message)
    {
        var e = Assert.Throws<EngramException>(() => Mqar.Generate(new MqarSpec(vocab, length, pairs), 1, new Generator(1)));
        Assert.Contains(message, e.Message);
    }
}
