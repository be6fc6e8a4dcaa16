// A tensor scope recycles storage between training steps. Inside `using (TensorScope.Begin())`, tensor storage
// of at least MinPooledElements comes from a per-thread pool of arrays; when the scope ends, that storage returns
// to the pool and every tensor created inside is released (using it afterwards raises an EngramException naming
// the problem). Steady-state steps then reuse the same arrays instead of allocating (and page-faulting) hundreds
// of megabytes each time. Values that must outlive the step — leaf gradients, optimizer state — are allocated
// outside the scope automatically; copy anything else out (Item(), ToFloatArray()) or create it under Suspend().
namespace Engram.Tensors;

public sealed class TensorScope : IDisposable
{
    /// <summary>Arrays smaller than this are ordinary allocations (cheap, and pooling them would cost more than it saves).</summary>
    public const int MinPooledElements = 64;

    [ThreadStatic] static TensorScope? _current;
    [ThreadStatic] static Dictionary<int, Stack<float[]>>? _poolF;
    [ThreadStatic] static Dictionary<int, Stack<double[]>>? _poolD;

    readonly TensorScope? _parent;
    readonly List<Array> _rented = new();
    readonly List<Tensor> _created = new();
    bool _disposed;

    TensorScope(TensorScope? parent) => _parent = parent;

    /// <summary>Starts a scope on this thread (scopes nest; the inner one owns what it creates).</summary>
    public static TensorScope Begin() => _current = new TensorScope(_current);

    public static bool IsActive => _current is not null;

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
    public long RentedBytes => _rented.Sum(a => (long)a.Length * (a is float[] ? 4 : 8));

    internal static void Register(Tensor t) => _current?._created.Add(t);

    /// <summary>Storage of n elements, zeroed.</summary>
    internal static Array Allocate(DType dtype, int n)
    {
        var scope = _current;
        if (scope is null || n < MinPooledElements) return dtype == DType.Float32 ? new float[n] : new double[n];
        Array a;
        if (dtype == DType.Float32)
        {
            var pool = _poolF ??= new();
            if (pool.TryGetValue(n, out var st) && st.TryPop(out var f)) { Array.Clear(f); a = f; }
            else { a = new float[n]; _misses++; }
        }
        else
        {
            var pool = _poolD ??= new();
            if (pool.TryGetValue(n, out var st) && st.TryPop(out var d)) { Array.Clear(d); a = d; }
            else { a = new double[n]; _misses++; }
        }
        scope._rented.Add(a);
        return a;
    }

    public void Dispose()
    {
        if (_disposed) return;
        if (_current != this) throw new EngramException("TensorScope disposed out of order (scopes must end innermost first, on the thread that began them)");
        _disposed = true;
        foreach (var t in _created) t.Release();
        foreach (var a in _rented)
        {
            if (a is float[] f) { var pool = _poolF ??= new(); if (!pool.TryGetValue(f.Length, out var st)) pool[f.Length] = st = new(); st.Push(f); }
            else if (a is double[] d) { var pool = _poolD ??= new(); if (!pool.TryGetValue(d.Length, out var st)) pool[d.Length] = st = new(); st.Push(d); }
        }
        _created.Clear(); _rented.Clear();
        _current = _parent;
    }

    /// <summary>Drops every pooled array of this thread (returns the memory to the garbage collector).</summary>
    public static void ClearPool() { _poolF?.Clear(); _poolD?.Clear(); }
}
