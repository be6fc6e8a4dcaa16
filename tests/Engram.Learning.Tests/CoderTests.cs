// The range coder and the logits → frequencies conversion: round trips on random distributions, every symbol
// codable, totals exact.
using CsCheck;
using Engram.Learning;
using Engram.Tensors.IO;

namespace Engram.Learning.Tests;

public class CoderTests
{
    [Fact]
    public void FrequenciesAreAtLeastOneAndTotalExactly65536()
    {
        Gen.Float[-30f, 30f].Array[256].Sample(logits =>
        {
            var f = new uint[256]; var scratch = new float[256];
            ByteDistribution.Frequencies(logits, f, scratch);
            Assert.All(f, x => Assert.True(x >= 1));
            Assert.Equal(ByteDistribution.Total, (uint)f.Sum(x => (long)x));
        });
    }

    [Fact]
    public void RandomSymbolsUnderRandomDistributionsRoundTrip()
    {
        Gen.Select(Gen.Int[0, 400], Gen.Int[0, int.MaxValue]).Sample((n, seed) =>
        {
            var rng = new Random(seed);
            var dists = new List<uint[]>(); var symbols = new List<int>();
            var ms = new MemoryStream();
            var enc = new RangeEncoder(ms);
            var scratch = new float[256];
            for (int i = 0; i < n; i++)
            {
                var logits = new float[256];
                double sharp = rng.NextDouble() * 20;
                for (int j = 0; j < 256; j++) logits[j] = (float)(rng.NextDouble() * sharp);
                var f = new uint[256];
                ByteDistribution.Frequencies(logits, f, scratch);
                int s = rng.Next(256);
                uint cum = 0; for (int j = 0; j < s; j++) cum += f[j];
                enc.Encode(cum, f[s]);
                dists.Add(f); symbols.Add(s);
            }
            enc.Finish();
            var bytes = ms.ToArray();
            var dec = new RangeDecoder(new MemoryStream(bytes));
            var cumulative = new uint[257];
            for (int i = 0; i < n; i++)
            {
                ByteDistribution.Cumulate(dists[i], cumulative);
                Assert.Equal(symbols[i], dec.Decode(cumulative));
            }
        }, iter: 200);
    }

    [Fact]
    public void ConfidentPredictionsCostLittle()
    {
        var logits = new float[256]; logits[65] = 20;
        var f = new uint[256];
        double bits = ByteDistribution.Frequencies(logits, f, new float[256], 65);
        Assert.True(bits < 0.01, $"{bits}");
        Assert.True(f[65] > 65000);
    }

    [Fact]
    public void Crc32CMatchesTheStandardCheckValue()
    {
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));
        Assert.Equal(0xE3069283u, Crc32C.ComputeReference("123456789"u8));
    }

    [Fact]
    public void TheProcessorsCrc32CEqualsTheTableReferenceOnAnyInputAndSplit()
    {
        Gen.Select(Gen.Byte.Array[0, 300], Gen.Int[0, 300], Gen.UInt).Sample((data, cut, seed) =>
        {
            int at = Math.Min(cut, data.Length);
            Assert.Equal(Crc32C.ComputeReference(data, seed), Crc32C.Compute(data, seed));
            Assert.Equal(Crc32C.Compute(data), Crc32C.Compute(data.AsSpan(at), Crc32C.Compute(data.AsSpan(0, at))));
        });
    }
}
