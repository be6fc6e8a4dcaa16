// Context-count memory: for each order k, how often each byte followed the last k bytes of the stream so far
// (a hash table updated after every byte, counts halved when one grows past a limit so recent text weighs more; when an
// order holds its most contexts, the least useful eighth is evicted: contexts seen once before those seen more, the
// least recently used first — memory is bounded and never wiped whole).
// It is a non-parametric fast memory: the stream LM mixes its order-k estimates into its logits with gates it learns
// (geometric mixing, as context-mixing compressors do), so exact repeats are predicted from the first reread.
// Tables are flat arrays (open addressing; per-context linked lists of (symbol, count) in a shared pool), so millions
// of contexts cost the garbage collector nothing. Integer arithmetic plus one table of logs: the same on every machine.
using Engram.Tensors;

namespace Engram.Models;

public sealed class ContextCounts
{
    /// <summary>Additive smoothing of each order's estimate: p(b) = (c_b + α) / (n + 256α).</summary>
    public const float Alpha = 0.05f;
    /// <summary>A context's counts are halved when one of them passes this.</summary>
    public const int CountLimit = 1023;
    /// <summary>The most contexts an order holds by default (bounded memory on endless streams). When an order would hold
    /// more, the least useful eighth of its contexts is evicted; which ones depends on the contexts, their counts and when
    /// they were last used, never on the table's capacity or layout.</summary>
    public const int DefaultMaxContexts = 1 << 21;
    public int MaxContexts { get; }
    /// <summary>Features per order besides the estimate: log(n + 256α)/10, distinct/256, seen, largest count/n.</summary>
    public const int ConfidenceFeatures = 4;
    public const int MaxOrder = 32;
    /// <summary>Orders from WordBase up are word contexts: order WordBase + n is the current word so far (letters,
    /// case folded) with the n words before it — or, between words, the last byte with the n words before.</summary>
    public const int WordBase = 64;
    public const int MaxWordContext = 3;

    /// <summary>One order's table. Slot s holds a context (Keys[s] ≠ 0) with its total, distinct count, when it was last
    /// used (stream position / 256) and the head of its list of entries; entry e holds a symbol, its count and the previous
    /// entry of the same context (Next[e] &lt; e).</summary>
    sealed class Table
    {
        public ulong[] Keys = new ulong[1 << 12];
        public int[] Head = new int[1 << 12], Total = new int[1 << 12], Stamp = new int[1 << 12];
        public ushort[] Distinct = new ushort[1 << 12];
        public int Used;
        public byte[] Symbol = new byte[1 << 12];
        public ushort[] Count = new ushort[1 << 12];
        public int[] Next = new int[1 << 12];
        public int Entries;
        public int Mask => Keys.Length - 1;

        public int Find(ulong key)
        {
            for (int s = (int)(key & (ulong)Mask); ; s = (s + 1) & Mask)
            {
                if (Keys[s] == key) return s;
                if (Keys[s] == 0) return ~s;
            }
        }

        public void Resize(int capacity)
        {
            var (keys, head, total, distinct, stamp) = (Keys, Head, Total, Distinct, Stamp);
            Keys = new ulong[capacity]; Head = new int[capacity]; Total = new int[capacity]; Distinct = new ushort[capacity];
            Stamp = new int[capacity];
            for (int s = 0; s < keys.Length; s++)
                if (keys[s] != 0)
                {
                    int t = ~Find(keys[s]);
                    Keys[t] = keys[s]; Head[t] = head[s]; Total[t] = total[s]; Distinct[t] = distinct[s]; Stamp[t] = stamp[s];
                }
        }

        /// <summary>Removes a context (backward-shift deletion keeps every probe sequence intact).</summary>
        public void Remove(ulong key)
        {
            int hole = Find(key);
            if (hole < 0) return;
            for (int j = (hole + 1) & Mask; Keys[j] != 0; j = (j + 1) & Mask)
            {
                int home = (int)(Keys[j] & (ulong)Mask);
                bool move = hole <= j ? home <= hole || home > j : home <= hole && home > j;
                if (!move) continue;
                Keys[hole] = Keys[j]; Head[hole] = Head[j]; Total[hole] = Total[j]; Distinct[hole] = Distinct[j]; Stamp[hole] = Stamp[j];
                hole = j;
            }
            Keys[hole] = 0;
            Used--;
        }

        /// <summary>Evicts the `count` least useful contexts — seen once before seen more often, then least recently used,
        /// then by key — and compacts the entry pool (each list keeps its order).</summary>
        public void Evict(int count)
        {
            var live = new (long Rank, ulong Key)[Used];
            int n = 0;
            for (int s = 0; s < Keys.Length; s++)
                if (Keys[s] != 0) live[n++] = (((long)Math.Min(Total[s], 2) << 32) | (uint)Stamp[s], Keys[s]);
            Array.Sort(live);
            for (int i = 0; i < count && i < n; i++) Remove(live[i].Key);
            var (symbol, counts, next) = (new byte[Math.Max(1 << 12, Entries)], new ushort[Math.Max(1 << 12, Entries)],
                new int[Math.Max(1 << 12, Entries)]);
            int entries = 0;
            var list = new List<int>();
            for (int s = 0; s < Keys.Length; s++)
            {
                if (Keys[s] == 0) continue;
                list.Clear();
                for (int e = Head[s]; e >= 0; e = Next[e]) list.Add(e);
                int previous = -1;
                for (int i = list.Count - 1; i >= 0; i--) // the tail first, so Next[e] < e still holds
                {
                    symbol[entries] = Symbol[list[i]]; counts[entries] = Count[list[i]]; next[entries] = previous;
                    previous = entries++;
                }
                Head[s] = previous;
            }
            (Symbol, Count, Next, Entries) = (symbol, counts, next, entries);
        }

        public int NewEntry(byte symbol, int next)
        {
            if (Entries == Symbol.Length)
            {
                Array.Resize(ref Symbol, Entries * 2); Array.Resize(ref Count, Entries * 2); Array.Resize(ref Next, Entries * 2);
            }
            Symbol[Entries] = symbol; Count[Entries] = 0; Next[Entries] = next;
            return Entries++;
        }

        public Table Clone() => new()
        {
            Keys = (ulong[])Keys.Clone(), Head = (int[])Head.Clone(), Total = (int[])Total.Clone(),
            Distinct = (ushort[])Distinct.Clone(), Stamp = (int[])Stamp.Clone(), Used = Used,
            Symbol = (byte[])Symbol.Clone(), Count = (ushort[])Count.Clone(), Next = (int[])Next.Clone(), Entries = Entries,
        };
    }

    public int[] Orders { get; }
    /// <summary>The match model mixed in after the orders (recency: the latest occurrence of the context wins), if any.</summary>
    public MatchModel? Match { get; private set; }
    /// <summary>Experts appended per byte: one per order, plus the match model's.</summary>
    public int Experts => Orders.Length + (Match is null ? 0 : 1);

    /// <summary>Bytes held by the tables' arrays (what the count memory costs in RAM), and contexts held, per order.</summary>
    public (long Bytes, int Contexts)[] Footprint() => _tables.Select(t =>
        ((long)t.Keys.Length * (8 + 4 + 4 + 4 + 2) + (long)t.Symbol.Length * (1 + 2 + 4), t.Used)).ToArray();
    readonly Table[] _tables;
    ulong _history;
    long _seen;
    readonly byte[] _recent = new byte[MaxOrder]; // ring buffer: _recent[(_seen − 1) % 32] is the newest byte
    ulong _word;                                      // hash of the current word's letters so far (0: between words)
    readonly ulong[] _words = new ulong[MaxWordContext]; // the words before it, newest first
    readonly ulong[] _keys;
    readonly int[] _slots; // Find(_keys[i]) as Predict last saw it (−1: not looked up since the keys changed)

    // Undo log while marked (a decoder's look-ahead): contexts inserted, context fields and entry counts before their
    // first change, and each table's entry count at the mark (entries appended later are dropped on rollback).
    sealed class Journal
    {
        public readonly List<(int Order, ulong Key)> Inserted = new();
        public readonly HashSet<(int Order, ulong Key)> InsertedSet = new();
        public readonly Dictionary<(int Order, ulong Key), (int Head, int Total, ushort Distinct, int Stamp)> Contexts = new();
        public readonly Dictionary<(int Order, int Entry), ushort> Counts = new();
        public int[] Entries = [];
        public ulong History;
        public long Seen;
        public byte[] Recent = [];
        public ulong Word;
        public ulong[] Words = [];
    }
    Journal? _journal;

    public ContextCounts(int[] orders, MatchModel? match = null, int maxContexts = DefaultMaxContexts)
    {
        if (maxContexts < 8 || maxContexts > DefaultMaxContexts * 8)
            throw new EngramException($"context counts: at most {maxContexts} contexts per order is outside 8..{DefaultMaxContexts * 8}");
        Match = match;
        MaxContexts = maxContexts;
        foreach (var k in orders)
            if ((k < 0 || k > MaxOrder) && (k < WordBase || k > WordBase + MaxWordContext))
                throw new EngramException($"context counts: order {k} is outside 0..{MaxOrder} " +
                    $"and {WordBase}..{WordBase + MaxWordContext} (word contexts)");
        Orders = orders;
        _tables = orders.Select(_ => new Table()).ToArray();
        _keys = new ulong[orders.Length];
        _slots = new int[orders.Length];
        ComputeKeys();
    }

    static ulong Mix(ulong x)
    {
        x ^= x >> 30; x *= 0xBF58476D1CE4E5B9UL; x ^= x >> 27; x *= 0x94D049BB133111EBUL; x ^= x >> 31;
        return x;
    }

    /// <summary>Hash of (order, the last k bytes, how many of them exist) for every order; never 0 (0 marks a free slot).</summary>
    void ComputeKeys()
    {
        for (int i = 0; i < Orders.Length; i++)
        {
            int k = Orders[i];
            ulong ctx;
            if (k >= WordBase)
            {
                ctx = _word != 0 ? _word : 0xA5A5_0000UL | (ulong)(_history & 0xFF);
                for (int w = 0; w < k - WordBase; w++) ctx = Mix(ctx + _words[w]);
                _keys[i] = Mix(ctx * 0x9E3779B97F4A7C15UL + (ulong)k * 0x632BE59BD9B4E019UL) | 1;
                _slots[i] = int.MinValue;
                continue;
            }
            if (k <= 8) ctx = k == 0 ? 0 : k == 8 ? _history : _history & ((1UL << (8 * k)) - 1);
            else
            {
                ctx = 0xCBF29CE484222325UL;
                long n = Math.Min(_seen, k);
                for (long j = 1; j <= n; j++) ctx = (ctx ^ _recent[(int)((_seen - j) % MaxOrder)]) * 0x100000001B3UL;
            }
            _keys[i] = Mix(ctx * 0x9E3779B97F4A7C15UL + (ulong)k * 0x632BE59BD9B4E019UL + (ulong)Math.Min(_seen, k)) | 1;
            _slots[i] = int.MinValue;
        }
    }

    /// <summary>Appends the estimates for the next byte, one sparse expert per order (log p everywhere, exceptions at
    /// the symbols seen in the context), and K·ConfidenceFeatures values to `confidence`.</summary>
    public void Predict(SparseExperts experts, Span<float> confidence)
    {
        for (int i = 0; i < Orders.Length; i++)
        {
            var t = _tables[i];
            int s = _slots[i] = t.Find(_keys[i]);
            int total = s >= 0 ? t.Total[s] : 0;
            float logDenominator = LogDen[total];
            var conf = confidence.Slice(i * ConfidenceFeatures, ConfidenceFeatures);
            conf.Clear();
            if (total > 0)
            {
                int max = 0;
                for (int e = t.Head[s]; e >= 0; e = t.Next[e])
                {
                    experts.Set(t.Symbol[e], LogNum[t.Count[e]] - logDenominator);
                    max = Math.Max(max, t.Count[e]);
                }
                conf[0] = logDenominator / 10;
                conf[1] = t.Distinct[s] / 256f;
                conf[2] = 1;
                conf[3] = (float)max / total;
            }
            experts.Add(LogAlpha - logDenominator);
        }
        Match?.Predict(experts, confidence.Slice(Orders.Length * ConfidenceFeatures, ConfidenceFeatures));
    }

    /// <summary>Adds the byte that followed the current contexts, then shifts it into the history.</summary>
    public void Update(byte b)
    {
        for (int i = 0; i < Orders.Length; i++)
        {
            var t = _tables[i];
            int s = _slots[i] != int.MinValue ? _slots[i] : t.Find(_keys[i]);
            if (s < 0)
            {
                if (t.Used + 1 > MaxContexts && _journal is null) t.Evict(MaxContexts / 8); // a look-ahead never evicts
                if (t.Used + 1 > t.Keys.Length / 2) t.Resize(t.Keys.Length * 2);
                s = ~t.Find(_keys[i]);
                t.Keys[s] = _keys[i]; t.Head[s] = -1; t.Total[s] = 0; t.Distinct[s] = 0; t.Used++;
                if (_journal is not null) { _journal.Inserted.Add((i, _keys[i])); _journal.InsertedSet.Add((i, _keys[i])); }
            }
            else if (_journal is not null && !_journal.InsertedSet.Contains((i, _keys[i])))
                _journal.Contexts.TryAdd((i, _keys[i]), (t.Head[s], t.Total[s], t.Distinct[s], t.Stamp[s]));
            int e = t.Head[s];
            while (e >= 0 && t.Symbol[e] != b) e = t.Next[e];
            if (e < 0) { e = t.NewEntry(b, t.Head[s]); t.Head[s] = e; t.Distinct[s]++; }
            Touch(i, e, t);
            t.Count[e]++; t.Total[s]++;
            t.Stamp[s] = (int)Math.Min(int.MaxValue, _seen >> 8);
            if (t.Count[e] > CountLimit)
            {
                int total = 0;
                for (int x = t.Head[s]; x >= 0; x = t.Next[x]) { Touch(i, x, t); total += t.Count[x] = (ushort)((t.Count[x] + 1) / 2); }
                t.Total[s] = total;
            }
        }
        Match?.Update(b);
        if ((uint)((b | 0x20) - 'a') <= 'z' - 'a') // a letter, case folded
            _word = ((_word == 0 ? 0xCBF29CE484222325UL : _word) ^ (ulong)(b | 0x20)) * 0x100000001B3UL;
        else if (_word != 0)
        {
            for (int w = MaxWordContext - 1; w > 0; w--) _words[w] = _words[w - 1];
            _words[0] = _word;
            _word = 0;
        }
        _history = (_history << 8) | b;
        _recent[(int)(_seen % MaxOrder)] = b;
        _seen++;
        ComputeKeys();
    }

    void Touch(int order, int entry, Table t)
    {
        if (_journal is not null && entry < _journal.Entries[order]) _journal.Counts.TryAdd((order, entry), t.Count[entry]);
    }

    /// <summary>Starts recording changes so that Rollback() can undo every Update since (a decoder's look-ahead, an
    /// evaluation). Tables may grow while marked (capacity never changes results) but are not cleared.</summary>
    public void Mark()
    {
        if (_journal is not null) throw new InvalidOperationException("context counts: already marked");
        _journal = new Journal
        {
            Entries = _tables.Select(t => t.Entries).ToArray(),
            History = _history, Seen = _seen, Recent = (byte[])_recent.Clone(), Word = _word, Words = (ulong[])_words.Clone(),
        };
        Match?.Mark();
    }

    /// <summary>Undoes every Update since Mark().</summary>
    public void Rollback()
    {
        var j = _journal ?? throw new InvalidOperationException("context counts: Rollback without Mark");
        foreach (var ((i, e), c) in j.Counts) _tables[i].Count[e] = c;
        foreach (var ((i, key), v) in j.Contexts)
        {
            var t = _tables[i];
            int s = t.Find(key);
            t.Head[s] = v.Head;
            t.Total[s] = v.Total;
            t.Distinct[s] = v.Distinct;
            t.Stamp[s] = v.Stamp;
        }
        for (int x = j.Inserted.Count - 1; x >= 0; x--) _tables[j.Inserted[x].Order].Remove(j.Inserted[x].Key);
        for (int i = 0; i < _tables.Length; i++) _tables[i].Entries = j.Entries[i];
        (_history, _seen) = (j.History, j.Seen);
        j.Recent.CopyTo(_recent, 0);
        _word = j.Word;
        j.Words.CopyTo(_words, 0);
        ComputeKeys();
        Match?.Rollback();
        _journal = null;
    }

    /// <summary>Keeps every Update since Mark() and stops recording.</summary>
    public void Commit()
    {
        if (_journal is null) throw new InvalidOperationException("context counts: Commit without Mark");
        Match?.Commit();
        _journal = null;
    }

    /// <summary>A deep copy.</summary>
    public ContextCounts Clone()
    {
        var c = new ContextCounts(Orders, Match?.Clone(), MaxContexts) { _history = _history, _seen = _seen, _word = _word };
        _recent.CopyTo(c._recent, 0);
        _words.CopyTo(c._words, 0);
        for (int i = 0; i < _tables.Length; i++) c._tables[i] = _tables[i].Clone();
        c.ComputeKeys();
        return c;
    }

    /// <summary>First word of the saved form since the match model (the first format began with the order count, 0..64);
    /// format 3 adds the word state after the recent bytes.</summary>
    const int SaveFormat2 = -2, SaveFormat3 = -3;

    static readonly float LogAlpha = (float)PortableMath.Log(Alpha);
    static readonly float[] LogDen = Enumerable.Range(0, 256 * (CountLimit + 1) + 1)
        .Select(n => (float)PortableMath.Log(n + 256 * (double)Alpha)).ToArray();
    static readonly float[] LogNum = Enumerable.Range(0, CountLimit + 2).Select(c => (float)PortableMath.Log(c + (double)Alpha)).ToArray();

    /// <summary>Serialises the tables (for brains): orders, history, then per table its contexts in
    /// key order, each with its entries in list order (which fixes the order estimates are mixed in).</summary>
    public byte[] Save()
    {
        if (_journal is not null) throw new InvalidOperationException("context counts: cannot save while marked");
        using var ms = new MemoryStream();
        using var w = new BinaryWriter(ms);
        w.Write(SaveFormat3);
        w.Write(MaxContexts);
        w.Write(Orders.Length); foreach (var k in Orders) w.Write(k);
        w.Write(_history); w.Write(_seen); w.Write(_recent);
        w.Write(_word); foreach (var x in _words) w.Write(x);
        foreach (var t in _tables)
        {
            w.Write(t.Used); w.Write(t.Entries);
            var slots = Enumerable.Range(0, t.Keys.Length).Where(x => t.Keys[x] != 0).OrderBy(x => t.Keys[x]).ToArray();
            foreach (var s in slots)
            {
                w.Write(t.Keys[s]); w.Write(t.Distinct[s]); w.Write(t.Stamp[s]);
                for (int e = t.Head[s]; e >= 0; e = t.Next[e]) { w.Write(t.Symbol[e]); w.Write(t.Count[e]); }
            }
        }
        w.Write(Match is not null);
        Match?.Save(w);
        w.Flush();
        return ms.ToArray();
    }

    public static ContextCounts Load(byte[] data)
    {
        try
        {
            using var r = new BinaryReader(new MemoryStream(data));
            int n = r.ReadInt32();
            bool format3 = n == SaveFormat3, format2 = n == SaveFormat2 || format3;
            int maxContexts = format2 ? r.ReadInt32() : DefaultMaxContexts;
            if (format2) n = r.ReadInt32();
            if (n < 0 || n > 64) throw new InvalidFileException($"context counts: {n} orders");
            var orders = new int[n];
            for (int i = 0; i < n; i++) orders[i] = r.ReadInt32();
            var c = new ContextCounts(orders, null, maxContexts) { _history = r.ReadUInt64(), _seen = r.ReadInt64() };
            if (c._seen < 0) throw new InvalidFileException("context counts: negative position");
            var recent = r.ReadBytes(MaxOrder);
            if (recent.Length != MaxOrder) throw new InvalidFileException("context counts: truncated");
            recent.CopyTo(c._recent, 0);
            if (format3)
            {
                c._word = r.ReadUInt64();
                for (int w = 0; w < MaxWordContext; w++) c._words[w] = r.ReadUInt64();
            }
            for (int i = 0; i < n; i++)
            {
                int used = r.ReadInt32(), entries = r.ReadInt32();
                if (used < 0 || used > c.MaxContexts || entries < 0 || entries > used * 256L)
                    throw new InvalidFileException("context counts: invalid table size");
                int capacity = 1 << 12;
                while (capacity / 2 < used) capacity *= 2;
                var t = new Table();
                t.Resize(capacity);
                t.Symbol = new byte[Math.Max(1 << 12, entries)]; t.Count = new ushort[t.Symbol.Length]; t.Next = new int[t.Symbol.Length];
                for (int x = 0; x < used; x++)
                {
                    ulong key = r.ReadUInt64();
                    int distinct = r.ReadUInt16(), stamp = format2 ? r.ReadInt32() : 0;
                    if (key == 0 || distinct > 256 || stamp < 0) throw new InvalidFileException("context counts: invalid context");
                    int s = t.Find(key);
                    if (s >= 0) throw new InvalidFileException("context counts: a context appears twice");
                    s = ~s;
                    t.Keys[s] = key; t.Distinct[s] = (ushort)distinct; t.Stamp[s] = stamp; t.Head[s] = -1; t.Used++;
                    var list = new (byte Symbol, ushort Count)[distinct];
                    for (int j = 0; j < distinct; j++)
                    {
                        list[j] = (r.ReadByte(), r.ReadUInt16());
                        if (list[j].Count > CountLimit) throw new InvalidFileException("context counts: a count over the limit");
                        t.Total[s] += list[j].Count;
                    }
                    for (int j = distinct - 1; j >= 0; j--) // rebuild so the list reads back in the saved order
                    {
                        if (t.Entries >= t.Symbol.Length) throw new InvalidFileException("context counts: more entries than declared");
                        int e = t.NewEntry(list[j].Symbol, t.Head[s]);
                        t.Count[e] = list[j].Count; t.Head[s] = e;
                    }
                }
                if (t.Entries != entries) throw new InvalidFileException("context counts: entry count does not match");
                c._tables[i] = t;
            }
            if (format2 && r.ReadBoolean()) c.Match = MatchModel.Load(r);
            if (r.BaseStream.Position != data.Length) throw new InvalidFileException("context counts: trailing bytes");
            c.ComputeKeys();
            return c;
        }
        catch (EndOfStreamException) { throw new InvalidFileException("context counts: truncated"); }
        catch (EngramException e) when (e is not InvalidFileException) { throw new InvalidFileException(e.Message); }
    }
}
