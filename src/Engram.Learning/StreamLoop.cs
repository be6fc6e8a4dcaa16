// The one loop that drives the online learner over a stream: bytes are read as they arrive (a reader thread feeds the
// loop, so a pipe such as `tail -f log | engram learn -` is learned chunk by chunk while it flows, and Ctrl-C or a
// periodic save never waits on a blocked read); each full chunk is predicted, shown to an observer, then learned.
using System.Collections.Concurrent;
using System.Diagnostics;
using Engram.Tensors;

namespace Engram.Learning;

/// <summary>The distributions the learner gave to one chunk's bytes, each computed before it had learned anything
/// from the chunk. Owned by the learner and refilled by its next Predict: copy what must outlive that.</summary>
public sealed class ChunkPrediction
{
    const int V = Models.LmConfig.Vocabulary;
    float[] _logits = [];
    uint[] _cumulative = [];
    double[] _bits = [];
    byte[] _bytes = [];
    readonly uint[] _freq = new uint[V];
    readonly float[] _scratch = new float[V];

    /// <summary>Bytes in the chunk.</summary>
    public int Length { get; private set; }
    /// <summary>Stream position of the chunk's first byte.</summary>
    public long Start { get; private set; }
    /// <summary>Σ −log2 p(byte) over the chunk, under the model's float distribution.</summary>
    public double TotalBits { get; private set; }
    public ReadOnlySpan<byte> Bytes => _bytes.AsSpan(0, Length);
    /// <summary>The logits of byte i's distribution (256 values).</summary>
    public ReadOnlySpan<float> Logits(int i) => _logits.AsSpan(Row(i) * V, V);
    /// <summary>Cumulative coder frequencies of byte i's distribution (257 values from 0 to 2^16).</summary>
    public ReadOnlySpan<uint> Cumulative(int i) => _cumulative.AsSpan(Row(i) * (V + 1), V + 1);
    /// <summary>−log2 p of the byte that came, under the model's float distribution.</summary>
    public double Bits(int i) => _bits[Row(i)];
    /// <summary>The most likely byte at position i (the greedy prediction); ties go to the lowest byte.</summary>
    public int MostLikely(int i) => System.Numerics.Tensors.TensorPrimitives.IndexOfMax(Logits(i));

    int Row(int i) => (uint)i < (uint)Length ? i
        : throw new ArgumentOutOfRangeException(nameof(i), $"position {i} of a {Length}-byte chunk");

    internal void Fill(float[] logits, ReadOnlySpan<byte> chunk, long start)
    {
        int n = chunk.Length;
        if (_bytes.Length < n) { _bytes = new byte[n]; _bits = new double[n]; _cumulative = new uint[n * (V + 1)]; }
        _logits = logits;
        chunk.CopyTo(_bytes);
        Length = n; Start = start;
        double total = 0;
        for (int i = 0; i < n; i++)
        {
            total += _bits[i] = ByteDistribution.Frequencies(_logits.AsSpan(i * V, V), _freq, _scratch, chunk[i]);
            ByteDistribution.Cumulate(_freq, _cumulative.AsSpan(i * (V + 1), V + 1));
        }
        TotalBits = total;
    }
}

/// <summary>How OnlineLearner.Learn(Stream) runs.</summary>
public sealed record LearnOptions
{
    /// <summary>Called with each chunk's prediction, before the learner learns from it.</summary>
    public Action<ChunkPrediction>? Observe { get; init; }
    /// <summary>Saves the learner (e.g. to its brain folder): every SaveEvery while learning, and at the end.</summary>
    public Action<OnlineLearner>? Save { get; init; }
    public TimeSpan SaveEvery { get; init; } = TimeSpan.FromSeconds(60);
    public TimeSpan ProgressEvery { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>Bytes the input is expected to hold (for the ETA), when known.</summary>
    public long? ExpectedBytes { get; init; }
    /// <summary>Stop after this many bytes (the rest of the input is not read).</summary>
    public long MaxBytes { get; init; } = long.MaxValue;
}

/// <summary>Where a Learn(Stream) run stands. Bytes and bits count this run only.</summary>
public sealed record LearnProgress(long Bytes, double Bits, double Seconds, long? ExpectedBytes, long StreamPosition, bool Final)
{
    public double BitsPerByte => Bytes == 0 ? 0 : Bits / Bytes;
    public double BytesPerSecond => Seconds > 0 ? Bytes / Seconds : 0;
    /// <summary>Seconds left at the current rate, when the input's length is known.</summary>
    public double? EtaSeconds => ExpectedBytes is long e && BytesPerSecond > 0 ? Math.Max(0, e - Bytes) / BytesPerSecond : null;
}

/// <summary>The end of a Learn(Stream) run: bytes and bits of this run; Cancelled when it stopped before the input ended.</summary>
public sealed record LearnSummary(long Bytes, double Bits, double Seconds, bool Cancelled, int Saves)
{
    public double BitsPerByte => Bytes == 0 ? 0 : Bits / Bytes;
    public double BytesPerSecond => Seconds > 0 ? Bytes / Seconds : 0;
}

static class StreamLoop
{
    const int BlockSize = 1 << 16;

    public static LearnSummary Run(OnlineLearner learner, Stream input, LearnOptions o, IProgress<LearnProgress>? progress,
        CancellationToken cancel)
    {
        if (learner.HasPendingChunk) throw new InvalidOperationException("Learn: a predicted chunk has not been learned yet");
        int chunkLength = learner.Config.Chunk;
        var chunk = new byte[chunkLength];
        int filled = 0;
        long bytes = 0;
        double bits = 0;
        int saves = 0;
        var clock = Stopwatch.StartNew();
        TimeSpan lastSave = TimeSpan.Zero, lastProgress = TimeSpan.Zero;
        bool dirty = false;

        void LearnPending()
        {
            if (filled == 0) return;
            var p = learner.Predict(chunk.AsSpan(0, filled));
            try { o.Observe?.Invoke(p); }
            catch { learner.Discard(); throw; }
            bits += learner.Learn();
            bytes += filled;
            filled = 0;
            dirty = true;
        }
        void Report(bool final)
        {
            if (progress is null) return;
            lastProgress = clock.Elapsed;
            progress.Report(new LearnProgress(bytes, bits, clock.Elapsed.TotalSeconds, o.ExpectedBytes, learner.Position, final));
        }
        void SaveIfDue(bool force)
        {
            if (o.Save is null || !dirty || (!force && clock.Elapsed - lastSave < o.SaveEvery)) return;
            o.Save(learner);
            saves++;
            dirty = false;
            lastSave = clock.Elapsed;
        }

        using var reader = new BlockReader(input, BlockSize, o.MaxBytes);
        bool cancelled = false;
        void Consume(byte[] block, int length, bool checkCancel)
        {
            for (int at = 0; at < length;)
            {
                int n = Math.Min(chunkLength - filled, length - at);
                block.AsSpan(at, n).CopyTo(chunk.AsSpan(filled));
                filled += n; at += n;
                if (filled == chunkLength) LearnPending();
                if (clock.Elapsed - lastProgress >= o.ProgressEvery) Report(false);
                SaveIfDue(force: false);
                if (checkCancel && cancel.IsCancellationRequested) cancelled = true;
            }
        }
        while (!cancelled)
        {
            byte[]? block;
            int length;
            try
            {
                // wake up at least once a second while the input is idle, for periodic saves and progress
                if (!reader.TryTake(out block, out length, TimeSpan.FromSeconds(1), cancel))
                {
                    SaveIfDue(force: false);
                    continue;
                }
            }
            catch (OperationCanceledException) { cancelled = true; break; }
            if (block is null) break; // end of input
            Consume(block, length, checkCancel: true);
            reader.Return(block);
        }
        // Stopping early: the blocks already read and queued are learned too (nothing taken from the input is lost, but
        // for a block the reader thread may be in the middle of reading); then what is pending, then the last save —
        // before a read failure is reported, so learning done until then is kept.
        if (cancelled) reader.Stop();
        while (cancelled && reader.TryTake(out var queued, out var queuedLength, TimeSpan.Zero, CancellationToken.None)
            && queued is not null)
            Consume(queued, queuedLength, checkCancel: false);
        LearnPending();
        SaveIfDue(force: true);
        Report(true);
        reader.ThrowIfFailed();
        return new LearnSummary(bytes, bits, clock.Elapsed.TotalSeconds, cancelled, saves);
    }
}

/// <summary>Reads a stream on its own thread into a small queue of blocks, so the loop never blocks on a read.</summary>
public sealed class BlockReader : IDisposable
{
    readonly BlockingCollection<(byte[]? Block, int Length)> _queue = new(boundedCapacity: 4);
    readonly ConcurrentBag<byte[]> _free = [];
    readonly Thread _thread;
    readonly CancellationTokenSource _stop = new();
    Exception? _failure;

    public BlockReader(Stream input, int blockSize, long maxBytes)
    {
        _thread = new Thread(() =>
        {
            long total = 0;
            try
            {
                while (total < maxBytes)
                {
                    var block = _free.TryTake(out var b) ? b : new byte[blockSize];
                    int want = (int)Math.Min(blockSize, maxBytes - total);
                    int n = input.Read(block, 0, want);
                    if (n <= 0) break;
                    total += n;
                    _queue.Add((block, n), _stop.Token);
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested) { return; }
            catch (Exception e) { _failure = e; } // any failure of the input is reported by the loop, never on this thread
            try { _queue.Add((null, 0), _stop.Token); } catch (OperationCanceledException) { }
        })
        { IsBackground = true, Name = "engram input reader" };
        _thread.Start();
    }

    public bool TryTake(out byte[]? block, out int length, TimeSpan timeout, CancellationToken cancel)
    {
        bool got = _queue.TryTake(out var item, (int)timeout.TotalMilliseconds, cancel);
        (block, length) = item;
        return got;
    }

    public void Return(byte[] block) => _free.Add(block);

    /// <summary>Stops taking more input (a read in progress finishes into nothing).</summary>
    public void Stop() => _stop.Cancel();

    public void ThrowIfFailed()
    {
        if (_failure is not null)
            throw _failure is IOException or UnauthorizedAccessException or EngramException ? _failure
                : new IOException($"reading the input failed: {_failure.Message}", _failure);
    }

    public void Dispose()
    {
        _stop.Cancel(); // a reader blocked on an endless input stays blocked; it is a background thread
    }
}
