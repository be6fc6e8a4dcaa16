// The learner protocol: Predict gives a chunk's distributions before anything learns from it, Learn learns it, and
// Learn(Stream) is the one loop — it learns bytes as they arrive, however they are split, stops cleanly when cancelled
// (nothing read is lost) and saves periodically; generation reads a prompt and predicts the byte after it.
using System.Collections.Concurrent;
using Engram.Learning;
using Engram.Models;
using Engram.Tensors;

namespace Engram.Learning.Tests;

public class StreamLoopTests
{
    static float[] Weights(OnlineLearner l) => l.Model.Parameters().SelectMany(p => p.ToFloatArray()).ToArray();

    /// <summary>What an input stream that can only be read says about everything else.</summary>
    abstract class ReadOnlyStream : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>A stream that hands out at most `piece` bytes per read, from a queue fed by the test (a pipe).</summary>
    sealed class PipeStream(int piece = int.MaxValue) : ReadOnlyStream
    {
        readonly BlockingCollection<byte[]> _blocks = new();
        byte[] _current = [];
        int _at;
        public void Write(byte[] bytes) => _blocks.Add(bytes);
        public void Close(bool _) => _blocks.CompleteAdding();
        public override int Read(byte[] buffer, int offset, int count)
        {
            while (_at == _current.Length)
            {
                if (!_blocks.TryTake(out var next, Timeout.Infinite)) return 0;
                _current = next; _at = 0;
            }
            int n = Math.Min(Math.Min(count, piece), _current.Length - _at);
            Array.Copy(_current, _at, buffer, offset, n);
            _at += n;
            return n;
        }
    }

    [Fact]
    public void TheSameBytesGiveTheSameLearningHoweverTheyArrive()
    {
        var data = TestModels.Text(203);
        var whole = new OnlineLearner(TestModels.Continual, TestModels.Learner);
        whole.Learn(data);
        var trickled = new OnlineLearner(TestModels.Continual, TestModels.Learner);
        var pipe = new PipeStream(piece: 3);
        foreach (var part in data.Chunk(17)) pipe.Write(part);
        pipe.Close(true);
        var r = trickled.Learn(pipe);
        Assert.Equal(203, r.Bytes);
        Assert.Equal(Weights(whole), Weights(trickled));
        Assert.Equal(whole.TotalBits, trickled.TotalBits);

        var byHand = new OnlineLearner(TestModels.Continual, TestModels.Learner);
        for (int i = 0; i < data.Length; i += 8)
        {
            var p = byHand.Predict(data.AsSpan(i, Math.Min(8, data.Length - i)));
            Assert.Equal(i, p.Start);
            byHand.Learn();
        }
        Assert.Equal(Weights(whole), Weights(byHand));
    }

    [Fact]
    public void APredictionIsMadeBeforeTheChunkIsLearnedAndLearnFollowsPredict()
    {
        var data = TestModels.Text(16);
        var l = new OnlineLearner(TestModels.Continual, TestModels.Learner);
        var before = Weights(l);
        var p = l.Predict(data.AsSpan(0, 8));
        Assert.Equal(before, Weights(l)); // predicting changes no weight
        Assert.Equal(0, l.Position);
        Assert.Throws<InvalidOperationException>(() => l.Predict(data.AsSpan(8, 8)));
        double bits = l.Learn();
        Assert.Equal(p.TotalBits, bits);
        Assert.NotEqual(before, Weights(l));
        Assert.Equal(8, l.Position);
        Assert.Throws<InvalidOperationException>(() => l.Learn());
        Assert.Throws<ArgumentException>(() => l.Predict(new byte[9])); // longer than a chunk
    }

    [Fact]
    public void APipeIsLearnedWhileItFlowsAndCancellingKeepsWhatWasRead()
    {
        var learner = new OnlineLearner(TestModels.Continual, TestModels.Learner);
        var pipe = new PipeStream();
        var seen = new BlockingCollection<long>();
        int saves = 0;
        using var stop = new CancellationTokenSource();
        LearnSummary? r = null;
        var run = new Thread(() => r = learner.Learn(pipe, new LearnOptions
        {
            Observe = p => seen.Add(p.Start + p.Length),
            Save = _ => Interlocked.Increment(ref saves),
            SaveEvery = TimeSpan.FromDays(1),
        }, null, stop.Token));
        run.Start();
        var data = TestModels.Text(20);
        pipe.Write(data[..16]);
        // two chunks are learned while the input is still open
        Assert.True(seen.TryTake(out var end1, TimeSpan.FromSeconds(60)) && end1 == 8);
        Assert.True(seen.TryTake(out var end2, TimeSpan.FromSeconds(60)) && end2 == 16);
        pipe.Write(data[16..]); // an incomplete chunk, then the writer goes quiet
        Thread.Sleep(300);
        stop.Cancel();
        Assert.True(run.Join(TimeSpan.FromSeconds(60)));
        Assert.True(r!.Cancelled);
        Assert.Equal(20, r.Bytes); // the 4 bytes already read are learned too
        Assert.Equal(20, learner.Position);
        Assert.Equal(1, saves); // and saved once, at the end
    }

    /// <summary>Gives `good` bytes, then fails as a broken input (a corrupt gzip stream, say) would.</summary>
    sealed class FailingStream(byte[] good) : ReadOnlyStream
    {
        int _at;
        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_at == good.Length) throw new InvalidDataException("the input is corrupt");
            int n = Math.Min(count, good.Length - _at);
            Array.Copy(good, _at, buffer, offset, n);
            _at += n;
            return n;
        }
    }

    [Fact]
    public void AFailingInputIsReportedAfterWhatWasReadIsLearnedAndSaved()
    {
        var learner = new OnlineLearner(TestModels.Continual, TestModels.Learner);
        long saved = -1;
        var e = Assert.Throws<IOException>(() =>
            learner.Learn(new FailingStream(TestModels.Text(20)), new LearnOptions { Save = l => saved = l.Position }));
        Assert.Contains("corrupt", e.Message);
        Assert.Equal(20, learner.Position);
        Assert.Equal(20, saved);
    }

    [Fact]
    public void AFailingObserverLeavesNoScopeOpenAndTheLearnerRefusesToGoOn()
    {
        var learner = new OnlineLearner(TestModels.Continual, TestModels.Learner with { StepsPerChunk = 2 });
        Assert.Throws<IOException>(() => learner.Learn(TestModels.Text(40), new LearnOptions
        {
            Observe = p => { if (p.Start == 16) throw new IOException("disk full"); },
        }));
        Assert.False(TensorScope.IsActive);
        Assert.False(learner.HasPendingChunk);
        Assert.Equal(16, learner.Position);
        var e = Assert.Throws<InvalidOperationException>(() => learner.Predict(new byte[4]));
        Assert.Contains("failed in the middle of a chunk", e.Message);
    }

    [Fact]
    public void SavesComeEverySaveEveryWhileLearning()
    {
        var learner = new OnlineLearner(TestModels.Continual, TestModels.Learner);
        var positions = new List<long>();
        var r = learner.Learn(TestModels.Text(64), new LearnOptions { Save = l => positions.Add(l.Position), SaveEvery = TimeSpan.Zero });
        Assert.Equal(8, r.Saves);
        Assert.Equal([8, 16, 24, 32, 40, 48, 56, 64], positions);
    }

    [Fact]
    public void ReadReturnsThePredictionOfTheByteAfterTheContext()
    {
        // A learner that has seen a text many times continues a prompt from it exactly, byte for byte, by greedy
        // decoding through Read — the path `engram generate` takes (it used to answer one byte late).
        var text = "the quick brown fox jumps over the lazy dog. "u8.ToArray();
        var learner = new OnlineLearner(TestModels.Continual, TestModels.Learner with { LearningRate = 1e-2 });
        learner.Learn(Enumerable.Repeat(text, 60).SelectMany(b => b).ToArray());
        var logits = learner.Read("the quick brown"u8);
        var output = new List<byte>();
        for (int i = 0; i < 20; i++)
        {
            byte next = (byte)System.Numerics.Tensors.TensorPrimitives.IndexOfMax(logits);
            output.Add(next);
            logits = learner.Read([next]);
        }
        Assert.Equal(" fox jumps over the ", System.Text.Encoding.ASCII.GetString(output.ToArray()));
    }
}

public class BrainTests
{
    static string NewDir() => Path.Combine(Path.GetTempPath(), "engram-brain-" + Guid.NewGuid());

    [Fact]
    public void ABrainIsLockedWhileInUseAndStaleTempFilesAreRemoved()
    {
        var dir = NewDir();
        try
        {
            Directory.CreateDirectory(dir);
            var stale = Path.Combine(dir, $".{Brain.FileName}.123.abc.tmp");
            File.WriteAllText(stale, "half a brain");
            using (Brain.Lock(dir))
            {
                Assert.False(File.Exists(stale));
                var e = Assert.Throws<EngramException>(() => Brain.Lock(dir));
                Assert.Contains("in use", e.Message);
            }
            using (Brain.Lock(dir)) { } // released
            var file = Path.Combine(dir, "afile");
            File.WriteAllText(file, "x");
            Assert.Contains("is a file", Assert.Throws<EngramException>(() => Brain.Lock(file)).Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void AFlippedBitInABrainIsCaught()
    {
        var dir = NewDir();
        try
        {
            var l = new OnlineLearner(TestModels.Continual, TestModels.Learner);
            l.LearnChunk(TestModels.Text(8));
            Brain.Save(l, dir);
            var path = Path.Combine(dir, Brain.FileName);
            var good = File.ReadAllBytes(path);
            var rng = new Random(5);
            int headerEnd = 8 + (int)BitConverter.ToUInt64(good, 0);
            for (int trial = 0; trial < 10; trial++)
            {
                var bad = (byte[])good.Clone();
                bad[headerEnd + rng.Next(bad.Length - headerEnd)] ^= (byte)(1 << rng.Next(8)); // tensor data, not the header
                File.WriteAllBytes(path, bad);
                var e = Assert.Throws<InvalidFileException>(() => Brain.Load(dir));
                Assert.Contains("checksum", e.Message);
            }
            File.WriteAllBytes(path, good);
            Assert.Equal(8, Brain.Load(dir).Position);
            var info = Brain.ReadInfo(dir);
            Assert.Equal(8, info.Position);
            Assert.Equal(Engram.Tensors.IO.Checkpoint.FormatVersion, info.Format);
        }
        finally { Directory.Delete(dir, true); }
    }
}

public class CheckpointFormatTests
{
    [Fact]
    public void ABrainWrittenInFormat1StillLoadsAndEqualsTheSameBrainInTheCheckpointFormat()
    {
        var dir = Path.Combine(Path.GetTempPath(), "engram-brain-" + Guid.NewGuid());
        var old = Path.Combine(Path.GetTempPath(), "engram-brain-" + Guid.NewGuid());
        try
        {
            var l = new OnlineLearner(TestModels.Continual, TestModels.Learner);
            l.Learn(TestModels.Text(40));
            Brain.Save(l, dir);
            // the same brain as format 1 wrote it: tensors model./optim./state., counts as a tensor, values in the metadata
            var ck = Tensors.IO.Checkpoint.Load(Path.Combine(dir, Brain.FileName));
            Assert.Equal("brain", ck.Kind);
            var entries = new List<KeyValuePair<string, Tensors.IO.SafetensorsEntry>>();
            foreach (var (prefix, section) in new[] { ("model.", ck.Weights), ("optim.", ck.OptimizerState), ("state.", ck.State) })
                foreach (var (k, v) in section) entries.Add(new(prefix + k, Tensors.IO.SafetensorsEntry.FromTensor(v)));
            var counts = ck.Blobs["counts"];
            entries.Add(new("counts", new Tensors.IO.SafetensorsEntry(Tensors.IO.StDType.U8, [counts.Length], counts)));
            var meta = new Dictionary<string, string>(ck.Extra) { ["engram.brain"] = "1" };
            meta["rng"] = string.Join(",",
                ck.GeneratorState!.Select(w => w.ToString("x16", System.Globalization.CultureInfo.InvariantCulture)));
            foreach (var (k, v) in ck.OptimizerHyperparameters) meta["optim." + k] = v;
            Directory.CreateDirectory(old);
            Tensors.IO.Safetensors.Write(Path.Combine(old, Brain.FileName), entries, meta);

            var a = Brain.Load(dir);
            var b = Brain.Load(old);
            Assert.Equal(a.Position, b.Position);
            Assert.Equal(a.TotalBits, b.TotalBits);
            var text = TestModels.Text(24, seed: 3);
            a.Learn(text); b.Learn(text); // they go on identically
            Assert.Equal(a.TotalBits, b.TotalBits);
            Assert.Equal(a.Model.Parameters().SelectMany(p => p.ToFloatArray()), b.Model.Parameters().SelectMany(p => p.ToFloatArray()));
            Assert.Equal("1", Brain.ReadInfo(old).Format);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
            if (Directory.Exists(old)) Directory.Delete(old, true);
        }
    }

    [Fact]
    public void ATrainingCheckpointIsNotTakenForABrain()
    {
        var dir = Path.Combine(Path.GetTempPath(), "engram-brain-" + Guid.NewGuid());
        try
        {
            Directory.CreateDirectory(dir);
            Tensors.IO.Checkpoint.Save(Path.Combine(dir, Brain.FileName), new Dictionary<string, Tensor> { ["w"] = Tensor.Zeros([2]) });
            var e = Assert.Throws<InvalidFileException>(() => Brain.Load(dir));
            Assert.Contains("not a brain", e.Message);
        }
        finally { Directory.Delete(dir, true); }
    }
}

public class CompressedFileTests
{
    static byte[] WithHeaderField(byte[] packed, Func<byte[], byte[]> change)
    {
        // rebuild a file whose header is changed and whose header checksum is made valid again (a hostile file)
        int configLength = BitConverter.ToUInt16(packed, 11);
        int headerEnd = 13 + configLength + 8;
        var header = change(packed[..headerEnd]);
        var crc = BitConverter.GetBytes(Tensors.IO.Crc32C.Compute(header));
        return [.. header, .. crc, .. packed[(headerEnd + 4)..]];
    }

    [Fact]
    public void AHostileLengthIsRefusedAtOnce()
    {
        var packed = Compressor.Compress(TestModels.Text(100), TestModels.Continual, TestModels.Learner);
        var hostile = WithHeaderField(packed, h =>
        {
            BitConverter.GetBytes(2_000_000_000UL).CopyTo(h, h.Length - 8);
            return h;
        });
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var e = Assert.Throws<InvalidFileException>(() => Compressor.Decompress(hostile, "hostile.ez"));
        Assert.Contains("more than a payload", e.Message);
        Assert.Contains("hostile.ez", e.Message);
    }

    [Fact]
    public void AConfigurationAskingForUnboundedWorkIsRefused()
    {
        foreach (var (field, value) in new[] { ("\"Layers\":1", "\"Layers\":100000"), ("\"StepsPerChunk\":1", "\"StepsPerChunk\":1000000"),
            ("\"Dim\":16", "\"Dim\":1000000") })
        {
            var packed = Compressor.Compress(TestModels.Text(50), TestModels.Continual, TestModels.Learner);
            Assert.Equal(1, packed[10]); // a custom configuration is stored as JSON
            var hostile = WithHeaderField(packed, h =>
            {
                var json = System.Text.Encoding.UTF8.GetString(h, 13, h.Length - 21);
                Assert.Contains(field, json);
                var changed = System.Text.Encoding.UTF8.GetBytes(json.Replace(field, value));
                var header = new List<byte>(h[..11]);
                header.AddRange(BitConverter.GetBytes((ushort)changed.Length));
                header.AddRange(changed);
                header.AddRange(h[^8..]);
                return [.. header];
            });
            var e = Assert.Throws<InvalidFileException>(() => Compressor.Decompress(hostile, "x.ez"));
            Assert.Contains("must be in", e.Message);
        }
    }

    [Fact]
    public void APresetIsStoredByNameSoSmallFilesStaySmall()
    {
        var data = "hello, world"u8.ToArray();
        var packed = Compressor.Compress(data, Models.Presets.Get("tiny"), LearnerConfig.ForPreset("tiny"));
        Assert.Equal(0, packed[10]);
        Assert.True(packed.Length < 60, $"{packed.Length} bytes for 12");
        Assert.Equal(data, Compressor.Decompress(packed));
    }

    [Fact]
    public void BytesAfterTheEndOfTheStreamAreRefused()
    {
        var data = TestModels.Text(30);
        var packed = Compressor.Compress(data, TestModels.Continual, TestModels.Learner);
        var e = Assert.Throws<InvalidFileException>(() => Compressor.Decompress([.. packed, 0x7B], "x.ez"));
        Assert.Contains("after the end", e.Message);
    }

    [Fact]
    public void AFormat4FileStillDecodesWithTheMatchRuleItWasMadeWith()
    {
        // made by the Engram before match rule 2 (`engram compress restated.txt … --model tiny`): statements restated
        // with new values and questions answered on the next line, where the two rules predict differently
        var golden = Path.Combine(AppContext.BaseDirectory, "Golden");
        var text = File.ReadAllBytes(Path.Combine(golden, "restated.txt"));
        var old = File.ReadAllBytes(Path.Combine(golden, "restated.format4.tiny.ez"));
        Assert.Equal(4, BitConverter.ToUInt16(old, 8));
        Assert.Equal(text, Compressor.Decompress(old, "restated.format4.tiny.ez"));
        var now = Compressor.Compress(text, Presets.Get("tiny"), LearnerConfig.ForPreset("tiny"));
        Assert.Equal(Compressor.FormatVersion, BitConverter.ToUInt16(now, 8));
        int header = 29; // magic, version, kind, length, "tiny", original length, header CRC
        Assert.Equal(old.AsSpan(10, header - 14).ToArray(), now.AsSpan(10, header - 14).ToArray());
        Assert.NotEqual(old.AsSpan(header).ToArray(), now.AsSpan(header).ToArray()); // rule 2 codes these bytes otherwise
        Assert.Equal(text, Compressor.Decompress(now, "now.ez"));
    }

    [Fact]
    public void BrainsMadeBeforeMatchRule2KeepTheirConfigurationAndRule()
    {
        // an older brain's configuration has no MatchRule: it must read back as rule 1 and write back without the field,
        // or its state hash — in every record of its audit log — would change and its history would not replay
        var old = TestModels.Continual with { MatchRule = null };
        Assert.DoesNotContain("MatchRule", old.ToJson());
        var back = LmConfig.FromJson(old.ToJson());
        Assert.Null(back.MatchRule);
        Assert.Equal(1, back.NewCounts()!.Match!.Rule);
        Assert.Equal(2, Presets.Get("small").NewCounts()!.Match!.Rule);
        Assert.Throws<EngramException>(() => (old with { MatchRule = 3 }).Validate());
    }

    [Fact]
    public void AnOlderFormatIsRefusedWithAClearMessage()
    {
        var packed = Compressor.Compress(TestModels.Text(20), TestModels.Continual, TestModels.Learner);
        packed[8] = 1; packed[9] = 0;
        var e = Assert.Throws<InvalidFileException>(() => Compressor.Decompress(packed, "old.ez"));
        Assert.Contains("older Engram", e.Message);
    }
}
