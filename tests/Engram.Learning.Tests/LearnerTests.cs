// The online learner: predictions never see their own byte, decoding token by token reproduces the encoder's
// predictions bit for bit, resume equals uninterrupted, brains reject corruption, no NaN over a long stream.
using Engram.Learning;
using Engram.Models;
using Engram.Tensors;
using Engram.Tensors.IO;

namespace Engram.Learning.Tests;

public class LearnerTests
{
    static float[] Weights(OnlineLearner l) => l.Model.Parameters().SelectMany(p => p.ToFloatArray()).ToArray();

    [Theory, MemberData(nameof(TestModels.All), MemberType = typeof(TestModels))]
    public void CompressThenDecompressRestoresTheBytes(string model)
    {
        var data = TestModels.Text(203);
        var packed = Compressor.Compress(data, TestModels.Get(model), TestModels.Learner);
        Assert.Equal(data, Compressor.Decompress(packed));
    }

    [Fact]
    public void CompressedSizeMatchesTheModelsCodeLength()
    {
        var data = TestModels.Text(2000);
        var packed = Compressor.Compress(data, TestModels.Continual, TestModels.Learner, out var r);
        var header = Compressor.ReadHeader(new MemoryStream(packed), "x").Size;
        double payloadBits = (packed.Length - header - 4) * 8.0; // less the checksum after the payload
        double modelBits = r.ModelBitsPerByte * data.Length;
        Assert.True(Math.Abs(payloadBits - modelBits) < 0.01 * modelBits + 64, $"payload {payloadBits} bits, model {modelBits} bits");
        Assert.True(r.ModelBitsPerByte < 4, $"the learner did not learn a ten-word language: {r.ModelBitsPerByte} bits per byte");
    }

    [Fact]
    public void EdgeCasesRoundTrip()
    {
        var rng = new Random(4);
        var random = new byte[3000]; rng.NextBytes(random);
        foreach (var data in new[] { Array.Empty<byte>(), new byte[] { 0 }, new byte[] { 255 }, new byte[100], random,
            Enumerable.Range(0, 256).Select(i => (byte)i).ToArray() })
            Assert.Equal(data, Compressor.Decompress(Compressor.Compress(data, TestModels.Continual, TestModels.Learner)));
    }

    [Fact]
    public void ThePredictionOfAByteNeverSeesThatByte()
    {
        // Uniformly random bytes cannot be predicted: a learner that peeked at its target would pay far less than 8
        // bits per byte. An honest one pays about 8 (a little more while it learns that nothing can be learned).
        var data = new byte[4096]; new Random(7).NextBytes(data);
        var learner = new OnlineLearner(TestModels.Continual, TestModels.Learner with { LearningRate = 1e-2 });
        learner.Learn(data);
        Assert.True(learner.BitsPerByte > 7.9, $"{learner.BitsPerByte} bits per byte on random bytes: the learner peeks");
    }

    [Fact]
    public void APlantedByteOnlyPredictableByPeekingIsNotPredicted()
    {
        // The stream repeats "ab?" where ? is random: a peeking learner would know '?', an honest one cannot.
        var rng = new Random(9);
        var data = new byte[3 * 600];
        for (int i = 0; i < 600; i++) { data[3 * i] = (byte)'a'; data[3 * i + 1] = (byte)'b'; data[3 * i + 2] = (byte)rng.Next(256); }
        var learner = new OnlineLearner(TestModels.Continual, TestModels.Learner with { Chunk = 12 });
        double randomBits = 0;
        learner.Learn(data, new LearnOptions
        {
            Observe = p =>
            {
                for (int j = 0; j < p.Length; j++)
                    if ((p.Start + j) % 3 == 2)
                    {
                        var c = p.Cumulative(j);
                        randomBits -= Math.Log2((c[p.Bytes[j] + 1] - c[p.Bytes[j]]) / 65536.0);
                    }
            },
        });
        Assert.True(randomBits / 600 > 7.5, $"the random byte cost only {randomBits / 600} bits");
    }

    [Theory, MemberData(nameof(TestModels.All), MemberType = typeof(TestModels))]
    public void DecodingTokenByTokenReproducesTheEncodersPredictionsBitForBit(string model)
    {
        var data = TestModels.Text(40);
        var enc = new OnlineLearner(TestModels.Get(model), TestModels.Learner);
        var dec = new OnlineLearner(TestModels.Get(model), TestModels.Learner);
        for (int i = 0; i < data.Length; i += 8)
        {
            var chunk = data.AsSpan(i, 8).ToArray();
            var p = enc.Predict(chunk);
            var expected = Enumerable.Range(0, 8).Select(j => p.Cumulative(j).ToArray()).ToList();
            enc.Learn();
            using var next = dec.BeginByteByByte();
            for (int j = 0; j < 8; j++)
            {
                Assert.Equal(expected[j], next.NextCumulative().ToArray());
                next.Accept(chunk[j]);
            }
            next.Learn();
        }
        Assert.Equal(Weights(enc), Weights(dec));
    }

    [Theory, MemberData(nameof(TestModels.All), MemberType = typeof(TestModels))]
    public void ABrainSavedInTheMiddleOfAFastWeightMiniBatchContinuesBitForBit(string model)
    {
        // 13 bytes = a chunk of 8 and one of 5: one token of a 4-token fast-weight mini-batch is pending at the save, and
        // its rows were computed with the slow weights before the second chunk's optimizer step.
        var data = TestModels.Text(77);
        var dir = Path.Combine(Path.GetTempPath(), "engram-brain-" + Guid.NewGuid());
        try
        {
            var live = new OnlineLearner(TestModels.Get(model), TestModels.Learner);
            live.Learn(data[..13]);
            Brain.Save(live, dir);
            var reloaded = Brain.Load(dir);
            live.Learn(data[13..]);
            reloaded.Learn(data[13..]);
            Assert.Equal(Weights(live), Weights(reloaded));
            Assert.Equal(live.TotalBits, reloaded.TotalBits);
            Assert.Equal(live.State.Tensors().SelectMany(t => t.Value.ToFloatArray()),
                reloaded.State.Tensors().SelectMany(t => t.Value.ToFloatArray()));
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    [Fact]
    public void ABrainSavedBeforeReadingAnythingLearnsAsANewLearnerDoes()
    {
        // A new learner's fast-weight state is W₀ itself, so its first chunk trains W₀ (and the clipped gradient norm
        // counts W₀'s gradient); a reloaded empty brain must do the same.
        var data = TestModels.Text(64);
        var dir = Path.Combine(Path.GetTempPath(), "engram-brain-" + Guid.NewGuid());
        try
        {
            OnlineLearner New() => new(Presets.All["tiny"], LearnerConfig.ForPreset("tiny"));
            var live = New();
            Brain.Save(live, dir);
            var reloaded = Brain.Load(dir);
            live.Learn(data);
            reloaded.Learn(data);
            Assert.Equal(Weights(live), Weights(reloaded));
            Assert.Equal(Brain.Hash(live), Brain.Hash(reloaded));
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    [Fact]
    public void LearningInTwoHalvesWithASaveBetweenEqualsLearningInOneGo()
    {
        var data = TestModels.Text(160);
        var dir = Path.Combine(Path.GetTempPath(), "engram-brain-" + Guid.NewGuid());
        try
        {
            var whole = new OnlineLearner(TestModels.Titans, TestModels.Learner);
            whole.Learn(data);

            var first = new OnlineLearner(TestModels.Titans, TestModels.Learner);
            first.Learn(data[..80]);
            Brain.Save(first, dir);
            var second = Brain.Load(dir);
            Assert.Equal(80, second.Position);
            second.Learn(data[80..]);

            Assert.Equal(Weights(whole), Weights(second));
            Assert.Equal(whole.TotalBits, second.TotalBits);
            Assert.Equal(whole.State.Tensors().SelectMany(t => t.Value.ToFloatArray()),
                second.State.Tensors().SelectMany(t => t.Value.ToFloatArray()));
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    [Fact]
    public void ACorruptOrNewerBrainIsRejectedAndLeftAlone()
    {
        var dir = Path.Combine(Path.GetTempPath(), "engram-brain-" + Guid.NewGuid());
        try
        {
            var l = new OnlineLearner(TestModels.Continual, TestModels.Learner);
            l.LearnChunk(TestModels.Text(8));
            Brain.Save(l, dir);
            var path = Path.Combine(dir, Brain.FileName);
            var good = File.ReadAllBytes(path);

            File.WriteAllBytes(path, good.AsSpan(0, good.Length / 2).ToArray());
            var e = Assert.Throws<InvalidFileException>(() => Brain.Load(dir));
            Assert.Contains(dir, e.Message);

            var file = Safetensors.Read(WriteBack(path, good));
            var meta = new Dictionary<string, string>(file.Metadata) { ["engram.format"] = "99" };
            Safetensors.Write(path, file.Names.Select(n => new KeyValuePair<string, SafetensorsEntry>(n, file[n])), meta);
            var before = File.ReadAllBytes(path);
            e = Assert.Throws<InvalidFileException>(() => Brain.Load(dir));
            Assert.Contains("newer", e.Message);
            Assert.Equal(before, File.ReadAllBytes(path));

            Assert.Throws<InvalidFileException>(() => Brain.Load(Path.Combine(dir, "missing")));
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    static string WriteBack(string path, byte[] bytes) { File.WriteAllBytes(path, bytes); return path; }

    [Fact]
    public void CorruptOrTruncatedCompressedFilesGiveClearErrors()
    {
        var data = TestModels.Text(300);
        var packed = Compressor.Compress(data, TestModels.Continual, TestModels.Learner);
        var rng = new Random(3);
        for (int trial = 0; trial < 40; trial++)
        {
            var bad = (byte[])packed.Clone();
            if (trial % 2 == 0) bad = bad.AsSpan(0, rng.Next(bad.Length)).ToArray();
            else bad[rng.Next(bad.Length)] ^= (byte)(1 << rng.Next(8));
            try
            {
                var back = Compressor.Decompress(bad, "bad.ez");
                Assert.Equal(data, back); // a flip in the last padding bytes can be harmless; anything else must throw
            }
            catch (InvalidFileException e) { Assert.Contains("bad.ez", e.Message); }
        }
        Assert.Contains("magic",
            Assert.Throws<InvalidFileException>(() => Compressor.Decompress("hello world, not compressed"u8.ToArray(), "x")).Message);
    }

    [Fact]
    public void NoNaNOrInfOverAMillionBytes()
    {
        // Deep (MLP) memory with momentum and forgetting, a high learning rate, bursts of noise: the setting where
        // public implementations report NaN after thousands of steps.
        var model = TestModels.Titans with { FastWeight = Engram.Nn.FastWeightOptions.Titans with { MiniBatch = 16 } };
        var learner = new OnlineLearner(model, TestModels.Learner with { Chunk = 64, LearningRate = 1e-2 });
        var data = TestModels.Text(1_000_000, seed: 5);
        var rng = new Random(1);
        for (int i = 4096; i + 64 <= data.Length; i += 8192) rng.NextBytes(data.AsSpan(i, 64)); // bursts of noise
        learner.Learn(data);
        Assert.True(double.IsFinite(learner.TotalBits));
        Assert.All(learner.Model.Parameters(), p => Assert.All(p.ToFloatArray(), v => Assert.True(float.IsFinite(v))));
        Assert.All(learner.State.Tensors(), t => Assert.All(t.Value.ToFloatArray(), v => Assert.True(float.IsFinite(v))));
    }
}

public class LearnerOptionTests
{
    [Fact]
    public void SeveralStepsPerChunkStillRoundTripAndCountEachByteOnce()
    {
        var data = TestModels.Text(300);
        var config = TestModels.Learner with { StepsPerChunk = 3 };
        var packed = Compressor.Compress(data, TestModels.Continual, config);
        Assert.Equal(data, Compressor.Decompress(packed));
        // the count tables end as if every byte had been counted once (without the match model, whose adaptive map also
        // learns from the mixture's outputs, which the extra steps change)
        var counted = TestModels.Continual with { MatchMinLength = 0 };
        var three = new OnlineLearner(counted, config);
        var one = new OnlineLearner(counted, TestModels.Learner);
        three.Learn(data);
        one.Learn(data);
        Assert.Equal(one.State.Counts!.Save(), three.State.Counts!.Save());
        Assert.NotEqual(one.Model.Parameters().First().ToFloatArray(), three.Model.Parameters().First().ToFloatArray());
    }
}
