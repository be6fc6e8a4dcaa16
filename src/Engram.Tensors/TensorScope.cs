// A tensor scope recycles memory between training steps. Inside `using (TensorScope.Begin())`, tensor storage,
// tensor objects with their shape arrays, autograd nodes and small scratch arrays come from per-thread pools;
// when the scope ends they all return to the pools, so a steady-state step allocates no managed memory at all.
// Every tensor created inside is released when the scope ends: using it afterwards raises an EngramException
// naming the problem — until a later scope reuses the object (set RecycleObjects = false while hunting for such
// a stale reference: objects are then never reused, so the error always fires). Values that must outlive the
// step — leaf gradients, optimizer state — are allocated outside the scope automatically; copy anything else out
// (Item(), ToFloatArray()) or create it under Suspend().
namespace Engram.Tensors;

public sealed class TensorScope : IDisposable
{
    /// <summary>Kept for compatibility: since every storage size is pooled inside a scope, this is 0.</summary>
    public const int MinPooledElements = 0;

    /// <summary>Largest rank whose tensor objects are pooled.</summary>
    const int MaxPooledRank = 8;

    [ThreadStatic] static TensorScope? _current;
    [ThreadStatic] static Dictionary<int, Stack<float[]>>? _poolF;
    [ThreadStatic] static Dictionary<int, Stack<double[]>>? _poolD;
    [ThreadStatic] static Dictionary<int, Stack<int[]>>? _poolI;
    [ThreadStatic] static Stack<Tensor>[]? _tensorPool;
    [ThreadStatic] static Stack<Node>? _nodePool;
    [ThreadStatic] static Stack<Tensor[]>[]? _inputsPool;
    [ThreadStatic] static Stack<TensorScope>? _scopePool;
    /// <summary>This thread's choice: 0 = the process default, 1 = recycle, 2 = do not.</summary>
    [ThreadStatic] static int _recycleHere;
    /// <summary>ENGRAM_RECYCLE_OBJECTS=0 makes "do not recycle objects" the default on every thread (for a whole test run hunting stale
    /// references).</summary>
    static readonly bool NoRecyclingByDefault = Environment.GetEnvironmentVariable("ENGRAM_RECYCLE_OBJECTS") == "0";
    static bool _noRecycling => _recycleHere == 2 || (_recycleHere == 0 && NoRecyclingByDefault);

    TensorScope? _parent;
    readonly List<Array> _rented = new();
    readonly List<Tensor> _created = new();
    readonly List<Node> _nodes = new();
    bool _disposed;

    TensorScope() { }

    /// <summary>Starts a scope on this thread (scopes nest; the inner one owns what it creates).</summary>
    public static TensorScope Begin()
    {
        var s = _scopePool is { Count: > 0 } p ? p.Pop() : new TensorScope();
        s._parent = _current; s._disposed = false;
        return _current = s;
    }

    public static bool IsActive => _current is not null;

    /// <summary>Whether scopes on this thread reuse tensor objects and nodes (default true; the environment variable
    /// ENGRAM_RECYCLE_OBJECTS=0 makes the default false). False: each tensor object is new, so any use of a tensor after
    /// its scope ended is always reported (a debugging aid; storage is still pooled).</summary>
    public static bool RecycleObjects { get => !_noRecycling; set => _recycleHere = value ? 1 : 2; }

    /// <summary>Within the returned scope, tensors are ordinary allocations that outlive the enclosing TensorScope.</summary>
    public static SuspendScope Suspend() { var s = new SuspendScope(_current); _current = null; return s; }

    public readonly struct SuspendScope : IDisposable
    {
        readonly TensorScope? _restore;
        internal SuspendScope(TensorScope? restore) => _restore = restore;
        public void Dispose() => _current = _restore;
    }

    /// <summary>Storage arrays this thread had to allocate inside a scope because the pool had none of that size (a diagnostic:
    /// it stops growing once steps repeat).</summary>
    public static long PoolMisses => _misses;
    [ThreadStatic] static long _misses;

    /// <summary>Bytes of storage now rented by this scope (a diagnostic).</summary>
    public long RentedBytes
    {
        get
        {
            long n = 0;
            foreach (var a in _rented) n += (long)a.Length * (a is double[]? 8 : 4);
            return n;
        }
    }

    /// <summary>A tensor object with shape/strides arrays of the given rank, owned by the current scope (pooled) or ordinary.</summary>
    internal static Tensor NewTensor(int rank)
    {
        var scope = _current;
        if (scope is null) return Tensor.Blank(rank);
        Tensor t;
        if (!_noRecycling && rank <= MaxPooledRank && _tensorPool?[rank] is { Count: > 0 } st) t = st.Pop();
        else t = Tensor.Blank(rank);
        t.Scope = scope;
        scope._created.Add(t);
        return t;
    }

    /// <summary>A node for an output tensor: pooled when the output belongs to the current scope.</summary>
    internal static Node NewNode(Tensor output)
    {
        var scope = _current;
        if (scope is null || output.Scope != scope || _noRecycling) return new Node();
        var node = _nodePool is { Count: > 0 } p ? p.Pop() : new Node();
        node.Pooled = true;
        scope._nodes.Add(node);
        return node;
    }

    /// <summary>An array for a node's 1–3 inputs, pooled with the node (see NewNode).</summary>
    internal static Tensor[] NewInputs(int count, bool pooled)
    {
        if (!pooled) return new Tensor[count];
        var pools = _inputsPool ??= [new(), new(), new(), new()];
        return pools[count].TryPop(out var a) ? a : new Tensor[count];
    }

    /// <summary>Storage of n elements, zeroed (or, when clear is false and the array comes from the pool, holding old values
    /// the caller promises to overwrite).</summary>
    internal static Array Allocate(DType dtype, int n, bool clear = true)
    {
        var scope = _current;
        if (scope is null) return dtype == DType.Float32 ? new float[n] : new double[n];
        Array a;
        if (dtype == DType.Float32)
        {
            var pool = _poolF ??= new();
            if (pool.TryGetValue(n, out var st) && st.TryPop(out var f)) { if (clear) Array.Clear(f); a = f; }
            else { a = new float[n]; _misses++; }
        }
        else
        {
            var pool = _poolD ??= new();
            if (pool.TryGetValue(n, out var st) && st.TryPop(out var d)) { if (clear) Array.Clear(d); a = d; }
            else { a = new double[n]; _misses++; }
        }
        scope._rented.Add(a);
        return a;
    }

    /// <summary>Scratch of exactly n elements (zeroed) that lives until the current scope ends (an ordinary array outside one).</summary>
    internal static T[] Rent<T>(int n) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return (T[])Allocate(DType.Float32, n);
        if (typeof(T) == typeof(double)) return (T[])Allocate(DType.Float64, n);
        if (typeof(T) != typeof(int)) throw new EngramException($"TensorScope.Rent: unsupported element type {typeof(T).Name}");
        var scope = _current;
        if (scope is null) return new T[n];
        var pool = _poolI ??= new();
        int[] r;
        if (pool.TryGetValue(n, out var st) && st.TryPop(out var a)) { Array.Clear(a); r = a; }
        else { r = new int[n]; _misses++; }
        scope._rented.Add(r);
        return (T[])(object)r;
    }

    public void Dispose()
    {
        if (_disposed) return;
        if (_current != this)
            throw new EngramException("TensorScope disposed out of order (scopes must end innermost first, on the thread that began them)");
        _disposed = true;
        bool recycle = !_noRecycling;
        var tensorPool = recycle ? _tensorPool ??= NewTensorPool() : null;
        foreach (var t in _created)
        {
            t.Release();
            if (recycle && !t.Pinned && t.Rank <= MaxPooledRank) { t.ResetForReuse(); tensorPool![t.Rank].Push(t); }
        }
        if (_nodes.Count > 0)
        {
            var nodePool = _nodePool ??= new();
            var inputsPool = _inputsPool ??= [new(), new(), new(), new()];
            foreach (var n in _nodes)
            {
                if (n.PooledInputs) { Array.Clear(n.Inputs); inputsPool[n.Inputs.Length].Push(n.Inputs); }
                n.Clear();
                nodePool.Push(n);
            }
        }
        foreach (var a in _rented)
        {
            if (a is float[] f)
            {
                var pool = _poolF ??= new();
                if (!pool.TryGetValue(f.Length, out var st)) pool[f.Length] = st = new();
                st.Push(f);
            }
            else if (a is double[] d)
            {
                var pool = _poolD ??= new();
                if (!pool.TryGetValue(d.Length, out var st)) pool[d.Length] = st = new();
                st.Push(d);
            }
            else if (a is int[] i)
            {
                var pool = _poolI ??= new();
                if (!pool.TryGetValue(i.Length, out var st)) pool[i.Length] = st = new();
                st.Push(i);
            }
        }
        _created.Clear(); _rented.Clear(); _nodes.Clear();
        _current = _parent;
        _parent = null;
        (_scopePool ??= new()).Push(this);
    }

    static Stack<Tensor>[] NewTensorPool()
    {
        var p = new Stack<Tensor>[MaxPooledRank + 1];
        for (int i = 0; i < p.Length; i++) p[i] = new();
        return p;
    }

    /// <summary>Drops every pooled array and object of this thread (returns the memory to the garbage collector).</summary>
    public static void ClearPool()
    {
        _poolF?.Clear();
        _poolD?.Clear();
        _poolI?.Clear();
        _tensorPool = null;
        _nodePool = null;
        _inputsPool = null;
    }
}
