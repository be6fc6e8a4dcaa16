// The match model: a memory with recency semantics. It keeps the last W bytes of the stream and an index from the hash
// of every MinLength-byte context to the position that followed its most recent occurrence. When the current context
// has occurred before, it predicts the byte that followed that most recent occurrence, and keeps following it byte
// after byte while the prediction is right; on a miss it looks the context up again. So the latest statement of a
// fact is the one it recalls ("the code of the amber gate is 5521" after "... is 4817"), at any distance inside the
// window, and text read once is predicted from its first reread. Its confidence is learned online: how often a
// prediction made at each match length was right (integer counts, halved at a limit), so the mixer sees a
// probability, the match length and whether there is a match at all, and decides how much to trust it.
// Integer arithmetic and the engine's portable logarithm: the same on every machine.
using Engram.Tensors;
using Engram.Tensors.Kernels;

namespace Engram.Models;

public sealed class MatchModel
{
    /// <summary>Confidence features it gives the mixer: has a match, min(length, 32)/32, log2(length)/16, p(predicted).</summary>
    public const int Features = 4;
    /// <summary>Longest match length tracked (longer matches count as this long).</summary>
    public const int MaxLength = 65535;
    /// <summary>How far back a new match is verified byte by byte (its starting length).</summary>
    const int VerifyLength = 400;
    const int Buckets = 32;
    const int StatLimit = 1023;

    public int MinLength { get; }
    /// <summary>The context length of the second index, which tells apart keys that share their last few bytes.</summary>
    public const int LongLength = 24;
    public int WindowBits { get; }
    long Window => 1L << WindowBits;

    byte[] _buffer;             // _buffer[q & (length − 1)] = byte q of the stream, for q in the window
    // Two indexes in one array: the hash of bytes [q − LongLength, q) (or of the line so far, when shorter: LongKeyLength),
    // then of [q − MinLength, q) → q mod 2^32 (0: none)
    readonly uint[] _index;
    long _pos;                  // bytes read
    long _ptr;                  // while _len > 0: the position whose byte is predicted next
    int _len;                   // current match length (0: no prediction)
    readonly int[] _hits = new int[Buckets], _total = new int[Buckets];
    // The adaptive probability map on the final output: per (match length bucket, bucket of the mixture's own probability
    // of the predicted byte), how often the predicted byte came; the last position's outcome is settled by the next input.
    const int QBuckets = 24;
    const double PriorWeight = 6;
    readonly int[] _mapHits = new int[Buckets * QBuckets], _mapTotal = new int[Buckets * QBuckets];
    int _pendingCell = -1, _pendingByte;
    readonly float[] _softmax = new float[256];

    /// <summary>What the match model says at a position: the predicted byte (−1: none), the match length and its own
    /// probability of being right.</summary>
    public readonly record struct Guess(int Byte, int Length, double Probability);

    /// <summary>The guess for the next byte.</summary>
    public Guess Current => new(Predicted, _len, Confidence);

    // Undo log while marked: index writes (slot, old value), bytes overwritten in the ring, and the scalars.
    sealed class Journal
    {
        public readonly List<(int Slot, uint Old)> Index = new();
        public readonly List<(long Position, byte Old)> Bytes = new();
        public long Pos, Ptr;
        public int Len;
        public int[] Hits = [], Total = [], MapHits = [], MapTotal = [];
        public int PendingCell, PendingByte;
    }
    Journal? _journal;

    /// <summary>Rule 1: a newer occurrence replaces the match being followed only when it agrees at least as far back.
    /// Rule 2 (NewestRule) adds: the long index keys on the current line when it is shorter than LongLength, a match is
    /// looked up there first, and a newer occurrence also wins when it agrees over the same whole lines as the followed one
    /// — a restated line ("The capital of Tasvenka is …" after a lesson) recalls its newest statement, while a line that
    /// only ends alike, or an answer whose question is another line, does not. The price: a question reworded so that
    /// its line is no longer the same ("U: And Alice's phone?") but ends like a newer one ("…Bob's phone?") gets the
    /// newer answer.</summary>
    public int Rule { get; }
    public const int NewestRule = 2;

    public MatchModel(int minLength, int windowBits, int rule = 1)
    {
        if (rule < 1 || rule > NewestRule) throw new EngramException($"match model: rule {rule} is outside 1..{NewestRule}");
        Rule = rule;
        if (minLength < 2 || minLength > LongLength)
            throw new EngramException($"match model: minimum length {minLength} is outside 2..{LongLength}");
        if (windowBits < 12 || windowBits > 26) throw new EngramException($"match model: window bits {windowBits} are outside 12..26");
        MinLength = minLength;
        WindowBits = windowBits;
        _buffer = new byte[Math.Min(1 << 16, 1 << windowBits)];
        _index = new uint[(1 << windowBits) + (1 << (windowBits - 2))];
    }

    /// <summary>Bytes held in RAM (history ring and index).</summary>
    public long Bytes => _buffer.Length + 4L * _index.Length;

    /// <summary>The current match length (0 when the model predicts nothing).</summary>
    public int Length => _len;

    /// <summary>The byte it predicts next, or −1.</summary>
    public int Predicted => _len > 0 ? _buffer[_ptr & (_buffer.Length - 1)] : -1;

    static int Bucket(int len)
    {
        if (len < 16) return len;
        int log = 31 - int.LeadingZeroCount(len);
        return Math.Min(Buckets - 1, 16 + (log - 4) * 2 + ((len >> (log - 1)) & 1));
    }

    /// <summary>The probability that the predicted byte comes next, from how often predictions at this length were right.</summary>
    public double Confidence => _len == 0 ? 0 : (2.0 * _hits[Bucket(_len)] + 1) / (2.0 * _total[Bucket(_len)] + 2);

    /// <summary>Appends its estimate for the next byte as one sparse expert (log p at the predicted byte, log((1 − p)/255)
    /// elsewhere; 0 everywhere when there is no match) and its Features values to `confidence`.</summary>
    public void Predict(SparseExperts experts, Span<float> confidence)
    {
        confidence.Clear();
        if (_len == 0) { experts.Add(0); return; }
        double p = Confidence;
        experts.Set(Predicted, (float)PortableMath.Log(p));
        experts.Add((float)PortableMath.Log((1 - p) / 255));
        confidence[0] = 1;
        confidence[1] = Math.Min(_len, 32) / 32f;
        confidence[2] = (float)(31 - int.LeadingZeroCount(_len)) / 16;
        confidence[3] = (float)p;
    }

    byte At(long q) => _buffer[q & (_buffer.Length - 1)];

    /// <summary>The long index's slot (entries [0, 2^WindowBits)) of the `length` bytes before `end`.</summary>
    int LongSlot(long end, int length) => (int)Hash(end, length, 1 << WindowBits);

    /// <summary>How many bytes before `end` the long index keys on: LongLength, or fewer when a newline is among them —
    /// the line so far with the newline before it, so a short line is found again whatever preceded it (−1: the key
    /// would be shorter than MinLength or reach before `floor`).</summary>
    int LongKeyLength(long end, long floor)
    {
        if (Rule < NewestRule) return end - LongLength >= floor ? LongLength : -1;
        for (int j = 1; j <= LongLength; j++)
        {
            if (end - j < floor) return -1;
            if (At(end - j) == (byte)'\n') return j >= MinLength ? j : -1;
        }
        return LongLength;
    }

    /// <summary>The short index's slot (the next quarter as many entries) of the MinLength bytes before `end`.</summary>
    int ShortSlot(long end) => (1 << WindowBits) + (int)Hash(end, MinLength, 1 << (WindowBits - 2));

    uint Hash(long end, int length, int size)
    {
        ulong h = 0xCBF29CE484222325UL ^ (ulong)length;
        for (long q = end - length; q < end; q++) h = (h ^ At(q)) * 0x100000001B3UL;
        h ^= h >> 29; h *= 0xBF58476D1CE4E5B9UL; h ^= h >> 32;
        return (uint)(h & (ulong)(size - 1));
    }

    /// <summary>The position an index entry points to, if it is inside the window with its whole context.</summary>
    long Candidate(uint stored, int length)
    {
        if (stored == 0) return -1;
        long age = (uint)((uint)_pos - stored);
        long q = _pos - age;
        return age > 0 && q - length >= Math.Max(0, _pos - Window) ? q : -1;
    }

    /// <summary>How many bytes before q agree with the bytes before the current position (at most `limit`).</summary>
    int Verify(long q, int limit)
    {
        int n = 0;
        long floor = Math.Max(0, _pos - Window);
        while (n < limit && q - 1 - n >= floor && At(q - 1 - n) == At(_pos - 1 - n)) n++;
        return n;
    }

    /// <summary>Reads the next byte: scores the current prediction, follows or drops the match, indexes the new context,
    /// and looks for a new match when there is none.</summary>
    public void Update(byte b)
    {
        if (_len > 0)
        {
            int k = Bucket(_len);
            bool hit = At(_ptr) == b;
            _total[k]++;
            if (hit) _hits[k]++;
            if (_total[k] > StatLimit) { _total[k] = (_total[k] + 1) / 2; _hits[k] = (_hits[k] + 1) / 2; }
            if (hit) { _len = Math.Min(_len + 1, MaxLength); _ptr++; }
            else _len = 0;
        }
        Write(b);
        if (_pos < MinLength) return;
        if ((_pos & int.MaxValue) == 0) Purge();
        // The long context first: its latest occurrence, when it agrees at least as far back as the match being followed
        // (a key that differs early from another one sharing its last bytes is told apart here) or over the whole current
        // line (the same statement restated: what the older one agrees with before the line is chance, and the newest wins).
        int longKey = LongKeyLength(_pos, 0);
        int longSlot = longKey > 0 ? LongSlot(_pos, longKey) : -1;
        if (longSlot >= 0 && Candidate(_index[longSlot], longKey) is var lq and > 0 && (_len == 0 || lq != _ptr))
        {
            int need = Math.Min(_len, VerifyLength);
            bool fresh = Rule >= NewestRule && _len == 0; // rule 2: with no match, the long context is tried first
            int n = Verify(lq, fresh ? VerifyLength : Math.Min(VerifyLength, need + 1));
            if (n >= longKey && (n >= need || (Rule >= NewestRule && SameLines(n, need, _ptr - _len <= 0))))
            {
                _len = n >= need ? Math.Max(n, _len) : n;
                _ptr = lq;
            }
        }
        int shortSlot = ShortSlot(_pos);
        if (_len == 0 && Candidate(_index[shortSlot], MinLength) is var q and > 0)
        {
            int n = Verify(q, VerifyLength);
            if (n >= MinLength) { _len = n; _ptr = q; }
        }
        foreach (var slot in longSlot >= 0 ? [longSlot, shortSlot] : new[] { shortSlot })
        {
            _journal?.Index.Add((slot, _index[slot]));
            _index[slot] = (uint)_pos;
        }
    }

    /// <summary>Whether an agreement of `n` bytes back covers as many whole lines (newlines, at least one) as one of `m`
    /// ≥ n: what the longer one agrees with beyond them is part of a line neither agrees over whole — chance. The longer
    /// one reaching the start of the stream has agreed over its first line whole.</summary>
    bool SameLines(int n, int m, bool longerFromStreamStart)
    {
        if (longerFromStreamStart && m > n) return false;
        int lines = 0;
        for (int j = 0; j < m; j++)
            if (At(_pos - 1 - j) == (byte)'\n')
            {
                if (j >= n) return false;
                lines++;
            }
        return lines > 0;
    }

    void Write(byte b)
    {
        if (_pos == _buffer.Length && _buffer.Length < Window)
            Array.Resize(ref _buffer, (int)Math.Min(Window, 2L * _buffer.Length));
        long i = _pos & (_buffer.Length - 1);
        if (_journal is not null && _pos >= _buffer.Length) _journal.Bytes.Add((_pos, _buffer[i]));
        _buffer[i] = b;
        _pos++;
    }

    /// <summary>Every 2^31 bytes, drops index entries older than the window, so a stored position (kept mod 2^32) is never
    /// mistaken for a newer one; the index is then exactly what rebuilding it from the window gives.</summary>
    void Purge()
    {
        for (int s = 0; s < _index.Length; s++)
            if (_index[s] != 0 && Candidate(_index[s], MinLength) < 0)
            {
                _journal?.Index.Add((s, _index[s]));
                _index[s] = 0;
            }
    }

    /// <summary>The final step for a piece of input: for each position with a guess, the probability of the guessed byte
    /// is set to what the adaptive map gives for (match length, the mixture's probability of that byte) — learned by
    /// counting how often it came, starting from the match model's own probability — and the map learns each outcome
    /// from the next input. Returns the logit shifts [T, 256] to add (only at guessed bytes), or null when none.</summary>
    public float[]? Refine(ReadOnlySpan<float> logits, Guess[] guesses, int[] inputs)
    {
        float[]? shift = null;
        for (int p = 0; p < inputs.Length; p++)
        {
            float s = RefineAt(logits.Slice(p * 256, 256), guesses[p], inputs[p]);
            if (guesses[p].Byte < 0) continue;
            shift ??= new float[inputs.Length * 256];
            shift[p * 256 + guesses[p].Byte] = s;
        }
        return shift;
    }

    /// <summary>Refine for one position: `input` resolves the previous position's outcome; returns the logit shift of the
    /// guessed byte (0 when there is no guess).</summary>
    public float RefineAt(ReadOnlySpan<float> row, Guess g, int input)
    {
        if (_pendingCell >= 0 && input < 256)
        {
            int c = _pendingCell;
            _mapTotal[c]++;
            if (input == _pendingByte) _mapHits[c]++;
            if (_mapTotal[c] > StatLimit) { _mapTotal[c] = (_mapTotal[c] + 1) / 2; _mapHits[c] = (_mapHits[c] + 1) / 2; }
        }
        _pendingCell = -1;
        if (g.Byte < 0) return 0;
        // the mixture's probability of the guessed byte: a softmax with the portable float exp (the same bits on every
        // vector width)
        float max = float.NegativeInfinity;
        foreach (var l in row) max = MathF.Max(max, l);
        var e = _softmax.AsSpan(0, row.Length);
        for (int i = 0; i < row.Length; i++) e[i] = row[i] - max;
        PortableExp.Exp(e, e);
        double q = Math.Clamp((double)e[g.Byte] / PortableReduce.Sum(e), 1e-6, 1 - 1e-6);
        double stretch = PortableMath.Log(q / (1 - q));
        // Interpolate between the two nearest cells of the mixture's probability (centres every 16/23 in logit
        // units from −8 to 8); the nearer one learns the outcome.
        double x = Math.Clamp((stretch + 8) * (QBuckets - 1) / 16, 0, QBuckets - 1);
        int lo = Math.Min((int)x, QBuckets - 2), row0 = Bucket(g.Length) * QBuckets;
        double frac = x - lo;
        double mixed = (1 - frac) * Cell(row0 + lo, g.Probability) + frac * Cell(row0 + lo + 1, g.Probability);
        double final = Math.Clamp(mixed, 1e-4, 1 - 1e-4);
        (_pendingCell, _pendingByte) = (row0 + lo + (frac >= 0.5 ? 1 : 0), g.Byte);
        return (float)(PortableMath.Log(final / (1 - final)) - stretch);
    }

    /// <summary>A cell's probability: its outcomes, starting from the better of the match model's own probability and
    /// the cell's centre (the byte is at least as likely as either says until evidence shows otherwise).</summary>
    double Cell(int cell, double matchProbability)
    {
        double centre = 1 / (1 + PortableMath.Exp(8 - 16.0 * (cell % QBuckets) / (QBuckets - 1)));
        return (_mapHits[cell] + PriorWeight * Math.Max(matchProbability, centre)) / (_mapTotal[cell] + PriorWeight);
    }

    public void Mark()
    {
        if (_journal is not null) throw new InvalidOperationException("match model: already marked");
        _journal = new Journal
        {
            Pos = _pos, Ptr = _ptr, Len = _len, Hits = (int[])_hits.Clone(), Total = (int[])_total.Clone(),
            MapHits = (int[])_mapHits.Clone(), MapTotal = (int[])_mapTotal.Clone(), PendingCell = _pendingCell, PendingByte = _pendingByte,
        };
    }

    public void Rollback()
    {
        var j = _journal ?? throw new InvalidOperationException("match model: Rollback without Mark");
        for (int x = j.Index.Count - 1; x >= 0; x--) _index[j.Index[x].Slot] = j.Index[x].Old;
        for (int x = j.Bytes.Count - 1; x >= 0; x--) _buffer[j.Bytes[x].Position & (_buffer.Length - 1)] = j.Bytes[x].Old;
        (_pos, _ptr, _len) = (j.Pos, j.Ptr, j.Len);
        j.Hits.CopyTo(_hits, 0);
        j.Total.CopyTo(_total, 0);
        j.MapHits.CopyTo(_mapHits, 0);
        j.MapTotal.CopyTo(_mapTotal, 0);
        (_pendingCell, _pendingByte) = (j.PendingCell, j.PendingByte);
        _journal = null;
    }

    public void Commit()
    {
        if (_journal is null) throw new InvalidOperationException("match model: Commit without Mark");
        _journal = null;
    }

    public MatchModel Clone()
    {
        var c = new MatchModel(MinLength, WindowBits, Rule)
        {
            _buffer = (byte[])_buffer.Clone(), _pos = _pos, _ptr = _ptr, _len = _len,
            _pendingCell = _pendingCell, _pendingByte = _pendingByte,
        };
        _mapHits.CopyTo(c._mapHits, 0);
        _mapTotal.CopyTo(c._mapTotal, 0);
        _index.CopyTo(c._index, 0);
        _hits.CopyTo(c._hits, 0);
        _total.CopyTo(c._total, 0);
        return c;
    }

    /// <summary>Writes the state: the window's bytes and the scalars (the index is rebuilt from the window on load).</summary>
    public void Save(BinaryWriter w)
    {
        if (_journal is not null) throw new InvalidOperationException("match model: cannot save while marked");
        if (Rule != 1) { w.Write(-Rule); } // rule 1 saves as before this field existed (its first value is MinLength ≥ 2)
        w.Write(MinLength); w.Write(WindowBits); w.Write(_pos); w.Write(_ptr); w.Write(_len);
        for (int k = 0; k < Buckets; k++) { w.Write(_hits[k]); w.Write(_total[k]); }
        for (int k = 0; k < _mapHits.Length; k++) { w.Write(_mapHits[k]); w.Write(_mapTotal[k]); }
        w.Write(_pendingCell); w.Write(_pendingByte);
        long start = Math.Max(0, _pos - Window);
        w.Write(_buffer.Length);
        for (long q = start; q < _pos; q++) w.Write(At(q));
    }

    public static MatchModel Load(BinaryReader r)
    {
        int first = r.ReadInt32(), rule = first < 0 ? -first : 1;
        int minLength = first < 0 ? r.ReadInt32() : first, windowBits = r.ReadInt32();
        var m = new MatchModel(minLength, windowBits, rule) { _pos = r.ReadInt64(), _ptr = r.ReadInt64(), _len = r.ReadInt32() };
        for (int k = 0; k < Buckets; k++)
        {
            m._hits[k] = r.ReadInt32(); m._total[k] = r.ReadInt32();
            if (m._total[k] < 0 || m._total[k] > StatLimit || m._hits[k] < 0 || m._hits[k] > m._total[k])
                throw new InvalidFileException("match model: invalid statistics");
        }
        for (int k = 0; k < m._mapHits.Length; k++)
        {
            m._mapHits[k] = r.ReadInt32(); m._mapTotal[k] = r.ReadInt32();
            if (m._mapTotal[k] < 0 || m._mapTotal[k] > StatLimit || m._mapHits[k] < 0 || m._mapHits[k] > m._mapTotal[k])
                throw new InvalidFileException("match model: invalid statistics");
        }
        (m._pendingCell, m._pendingByte) = (r.ReadInt32(), r.ReadInt32());
        if (m._pendingCell < -1 || m._pendingCell >= m._mapHits.Length || m._pendingByte < 0 || m._pendingByte > 255)
            throw new InvalidFileException("match model: invalid pending outcome");
        int length = r.ReadInt32();
        long start = Math.Max(0, m._pos - m.Window);
        if (m._pos < 0 || m._len < 0 || m._len > MaxLength || length < 1 || length > m.Window || (length & (length - 1)) != 0
            || m._pos - start > length || (m._len > 0 && (m._ptr < start || m._ptr >= m._pos)))
            throw new InvalidFileException("match model: invalid position");
        m._buffer = new byte[length];
        var bytes = r.ReadBytes((int)(m._pos - start));
        if (bytes.Length != m._pos - start) throw new InvalidFileException("match model: truncated");
        for (long q = start; q < m._pos; q++) m._buffer[q & (length - 1)] = bytes[q - start];
        // Rebuild the index: every position of the window whose context lies inside it, oldest first.
        for (long q = Math.Max(start + minLength, minLength); q <= m._pos; q++)
        {
            if (m.LongKeyLength(q, start) is var key and > 0) m._index[m.LongSlot(q, key)] = (uint)q;
            m._index[m.ShortSlot(q)] = (uint)q;
        }
        return m;
    }
}
