// Reverse-mode autograd on a tape: every recorded operation gets a sequence number, so walking the
// reachable nodes in decreasing sequence order is a valid reverse topological order. Backward
// formulas are ordinary tensor operations, so running them with recording on (createGraph) builds
// the graph of the gradient itself, and gradients of gradients work.
namespace Engram.Tensors;

/// <summary>Gradient of the inputs of a node given the gradient of its output (null: no gradient for that input).</summary>
public delegate GradList BackwardFn(Node node, Tensor gradOutput);

/// <summary>The gradients a backward formula returns, one per input (null: none). Written as a collection expression
/// (`[ga, gb]`); up to three are held inline, so returning them allocates nothing.</summary>
[System.Runtime.CompilerServices.CollectionBuilder(typeof(GradList), nameof(Create))]
public readonly struct GradList
{
    readonly Tensor? _a, _b, _c;
    readonly Tensor?[]? _more;
    public int Count { get; }

    GradList(Tensor? a, Tensor? b, Tensor? c, int count, Tensor?[]? more) { _a = a; _b = b; _c = c; Count = count; _more = more; }

    public static GradList Create(ReadOnlySpan<Tensor?> items) => items.Length switch
    {
        0 => default,
        1 => new(items[0], null, null, 1, null),
        2 => new(items[0], items[1], null, 2, null),
        3 => new(items[0], items[1], items[2], 3, null),
        _ => new(null, null, null, items.Length, items.ToArray()),
    };

    public static implicit operator GradList(Tensor?[] grads) => new(null, null, null, grads.Length, grads);

    public Tensor? this[int i]
    {
        get
        {
            if ((uint)i >= (uint)Count) throw new IndexOutOfRangeException($"gradient {i} of {Count}");
            return _more is not null ? _more[i] : i == 0 ? _a : i == 1 ? _b : _c;
        }
    }

    public IEnumerator<Tensor?> GetEnumerator() { for (int i = 0; i < Count; i++) yield return this[i]; }
}

/// <summary>Typed values a backward formula keeps (no boxing): up to four tensors, one object, two doubles, two ints.</summary>
internal struct SavedState
{
    public Tensor? A, B, C, D;
    public object? Ref;
    public double X, Y;
    public int I, J;
}

public sealed class Node
{
    public string Op { get; private set; } = "";
    public Tensor[] Inputs { get; private set; } = [];
    /// <summary>Extra values the backward formula needs (dimensions, indices, masks).</summary>
    public object? Saved { get; private set; }
    internal SavedState State;
    internal BackwardFn Backward = null!;
    internal long Sequence;
    internal bool Released;
    /// <summary>Owned by a TensorScope's pool (returned there when the scope ends), and whether its Inputs array is too.</summary>
    internal bool Pooled, PooledInputs;

    internal Node() { }

    internal void Set(string op, Tensor[] inputs, bool pooledInputs, BackwardFn backward, object? saved, in SavedState state, long sequence)
    {
        Op = op; Inputs = inputs; PooledInputs = pooledInputs; Backward = backward;
        Saved = saved; State = state; Sequence = sequence; Released = false;
    }

    internal void Clear() { Inputs = []; Saved = null; State = default; Backward = null!; PooledInputs = false; }
}

public static class Autograd
{
    [ThreadStatic] static int _noGradDepth;
    [ThreadStatic] static bool _anomaly;
    [ThreadStatic] static string? _inBackwardOf;
    [ThreadStatic] static bool _accumulatingLeaves;
    static long _sequence;

    /// <summary>True while operations are being recorded on this thread.</summary>
    public static bool IsEnabled => _noGradDepth == 0;

    /// <summary>Anomaly mode (this thread): every operation checks its output, and every backward formula its gradients,
    /// for NaN or Inf and throws AnomalyException naming the operation.</summary>
    public static bool DetectAnomaly { get => _anomaly; set => _anomaly = value; }

    /// <summary>Within the returned scope no operation is recorded. Costs one thread-static increment.</summary>
    public static NoGradScope NoGrad() { _noGradDepth++; return new NoGradScope(true); }

    internal static NoGradScope EnableGrad(bool enable)
    {
        if (enable) { int saved = _noGradDepth; _noGradDepth = 0; return new NoGradScope(false, saved); }
        _noGradDepth++; return new NoGradScope(true);
    }

    public readonly struct NoGradScope : IDisposable
    {
        readonly bool _decrement; readonly int _restore;
        internal NoGradScope(bool decrement, int restore = 0) { _decrement = decrement; _restore = restore; }
        public void Dispose() { if (_decrement) _noGradDepth--; else _noGradDepth = _restore; }
    }

    static bool Needs(Tensor? t) => t is not null && t.RequiresGrad;

    /// <summary>Records output = op(inputs) if recording is on and any input requires grad; returns output.</summary>
    public static Tensor Record(Tensor output, string op, BackwardFn backward, Tensor a, Tensor? b = null, Tensor? c = null,
        object? saved = null)
        => Record(output, op, backward, a, b, c, saved, default);

    /// <summary>Record with typed saved values (the engine's own ops: nothing boxed).</summary>
    internal static Tensor Record(Tensor output, string op, BackwardFn backward, Tensor a, Tensor? b, Tensor? c, in SavedState state)
        => Record(output, op, backward, a, b, c, null, state);

    static Tensor Record(Tensor output, string op, BackwardFn backward, Tensor a, Tensor? b, Tensor? c, object? saved, in SavedState state)
    {
        if (_anomaly) CheckFinite(output, op);
        if (_noGradDepth != 0 || !(Needs(a) || Needs(b) || Needs(c))) return output;
        output = OwnOutput(output);
        var node = TensorScope.NewNode(output);
        int count = c is not null ? 3 : b is not null ? 2 : 1;
        var inputs = TensorScope.NewInputs(count, node.Pooled);
        inputs[0] = a;
        if (count > 1) inputs[1] = b!;
        if (count > 2) inputs[2] = c!;
        return Attach(output, node, op, backward, inputs, node.Pooled, saved, state);
    }

    public static Tensor Record(Tensor output, string op, BackwardFn backward, Tensor[] inputs, object? saved = null)
    {
        if (_anomaly) CheckFinite(output, op);
        if (_noGradDepth != 0) return output;
        bool any = false;
        foreach (var t in inputs) any |= t.RequiresGrad;
        if (!any) return output;
        output = OwnOutput(output);
        return Attach(output, TensorScope.NewNode(output), op, backward, inputs, false, saved, default);
    }

    /// <summary>An op that returned one of its inputs unchanged (a view of itself) gets its own tensor for its node.</summary>
    static Tensor OwnOutput(Tensor output) => output.GradFn is not null || output.RequiresGrad ? output.Detach() : output;

    static Tensor Attach(Tensor output, Node node, string op, BackwardFn backward, Tensor[] inputs, bool pooledInputs, object? saved,
        in SavedState state)
    {
        node.Set(op, inputs, pooledInputs, backward, saved, state, Interlocked.Increment(ref _sequence));
        output.GradFn = node;
        output.RequiresGrad = true;
        return output;
    }

    internal static void CheckFinite(Tensor t, string op)
    {
        var v = t.Contiguous();
        bool bad = false;
        if (v.DType == DType.Float32) { foreach (var x in v.Span<float>()) if (!float.IsFinite(x)) { bad = true; break; } }
        else { foreach (var x in v.Span<double>()) if (!double.IsFinite(x)) { bad = true; break; } }
        if (bad)
        {
            var where = _inBackwardOf is null ? "" : $" in the backward of '{_inBackwardOf}'";
            throw new AnomalyException($"anomaly: operation '{op}'{where} produced NaN or Inf (output shape {t.ShapeText})");
        }
    }

    /// <summary>Backpropagates from a scalar (or from `output` with the given gradient) and accumulates into the .Grad of every leaf that
    /// requires grad.</summary>
    public static void Backward(Tensor output, Tensor? gradOutput = null, bool retainGraph = false, bool createGraph = false)
    {
        bool saved = _accumulatingLeaves;
        _accumulatingLeaves = !createGraph;
        bool outer = _runDepth == 0; // a nested Backward (from a backward formula) must not touch the outer one's arrays or fields
        var outputs = outer ? _oneOutput ??= new Tensor[1] : new Tensor[1];
        var gradOutputs = outer ? _oneGradOutput ??= new Tensor?[1] : new Tensor?[1];
        outputs[0] = output; gradOutputs[0] = gradOutput;
        try
        {
            if (outer)
            {
                var leaves = RunWithFields(outputs, gradOutputs, retainGraph || createGraph, createGraph);
                try { foreach (var t in leaves) AccumulateLeaf(t, TakeLeafGradient(t), createGraph); }
                finally { foreach (var t in leaves) DropPending(t); leaves.Clear(); }
            }
            else
                foreach (var (t, g) in Run(outputs, gradOutputs, retainGraph || createGraph, createGraph, wanted: null))
                    if (t.IsLeaf) AccumulateLeaf(t, g, createGraph);
        }
        finally { _accumulatingLeaves = saved; outputs[0] = null!; gradOutputs[0] = null; }
    }

    static void AccumulateLeaf(Tensor t, Tensor g, bool createGraph)
    {
        if (!t.RequiresGrad) return;
        if (createGraph) { t.Grad = t.Grad is null ? g : t.Grad + g; return; }
        // Leaf gradients outlive any TensorScope: they are persistent buffers, accumulated in place.
        var old = t.Grad;
        if (old is null || old.IsReleased)
        {
            using var persistent = TensorScope.Suspend();
            t.Grad = g.Detach().To(t.DType).CloneDetached();
        }
        else if (old.RequiresGrad || !old.IsContiguous || old.DType != t.DType)
        {
            // Not a plain buffer of our own (a createGraph gradient with a graph, a view, another dtype): added to out
            // of place, as PyTorch does, so the old tensor is left untouched; the sum is a new plain buffer.
            using var persistent = TensorScope.Suspend();
            t.Grad = old.Detach().To(t.DType) + g.Detach().To(t.DType); // a fresh tensor, made outside any scope
        }
        else AddInPlace(old, g.Detach().To(t.DType)); // any copy made here is scope storage
    }

    /// <summary>During Backward (not Grad, not createGraph), adds a·b straight into leaf.Grad with an accumulating GEMM
    /// when leaf is a float32 matrix (its gradient buffer is created, zeroed, if missing); returns false (the caller returns the product)
    /// otherwise.</summary>
    internal static bool TryAccumulateProduct(Tensor leaf, Tensor a, Tensor b)
    {
        if (!_accumulatingLeaves || _anomaly || _runDepth != 1 || !leaf.IsLeaf || !leaf.RequiresGrad) return false;
        var grad = leaf.Grad;
        if (grad is null && leaf.DType == DType.Float32 && leaf.Rank == 2 && a.Rank == 2 && b.Rank == 2 && a.Shape[0] == leaf.Shape[0]
            && b.Shape[1] == leaf.Shape[1])
        {
            // A first gradient goes into a fresh zero buffer exactly as later ones do: the bits of a gradient never depend on
            // whether its buffer existed before (a weight used several times would otherwise round differently on a first
            // or resumed step than on a step whose zeroed buffer was kept).
            using var persistent = TensorScope.Suspend();
            leaf.Grad = grad = Tensor.Zeros(leaf.ShapeArr);
        }
        if (grad is null || grad.RequiresGrad || grad.DType != DType.Float32 || leaf.DType != DType.Float32 || grad.Rank != 2
            || !grad.IsContiguous || grad.IsReleased)
            return false;
        if (a.Rank != 2 || b.Rank != 2 || a.DType != DType.Float32 || b.DType != DType.Float32) return false;
        int M = a.Shape[0], K = a.Shape[1], N = b.Shape[1];
        if (b.Shape[0] != K || grad.Shape[0] != M || grad.Shape[1] != N || !Tensor.SameShape(grad, leaf)) return false;
        a.ThrowIfReleased(); b.ThrowIfReleased();
        Kernels.Gemm.Run(M, N, K, new Kernels.MatrixView<float>((float[])a.Data, a.Offset, a.StridesArr[0], a.StridesArr[1]),
            new Kernels.MatrixView<float>((float[])b.Data, b.Offset, b.StridesArr[0], b.StridesArr[1]), grad.Span<float>(), N,
            accumulate: true);
        return true;
    }

    static void AddInPlace(Tensor acc, Tensor add)
    {
        var a = add.Contiguous();
        if (acc.DType == DType.Float32) System.Numerics.Tensors.TensorPrimitives.Add(acc.Span<float>(), a.Span<float>(), acc.Span<float>());
        else System.Numerics.Tensors.TensorPrimitives.Add(acc.Span<double>(), a.Span<double>(), acc.Span<double>());
    }

    /// <summary>Gradients of sum(outputs[i] · gradOutputs[i]) with respect to each input (zeros where an input is unreachable).
    /// With createGraph the results are themselves differentiable.</summary>
    public static Tensor[] Grad(Tensor[] outputs, Tensor[] inputs, Tensor?[]? gradOutputs = null, bool retainGraph = false,
        bool createGraph = false, bool allowUnused = true)
    {
        var wanted = new HashSet<Tensor>(inputs, ReferenceEqualityComparer.Instance);
        var grads = Run(outputs, gradOutputs ?? new Tensor?[outputs.Length], retainGraph || createGraph, createGraph, wanted);
        var result = new Tensor[inputs.Length];
        for (int i = 0; i < inputs.Length; i++)
        {
            if (grads.TryGetValue(inputs[i], out var g)) result[i] = g;
            else if (allowUnused) result[i] = Tensor.ZerosLike(inputs[i]);
            else throw new EngramException($"Grad: input {i} ({inputs[i].Name ?? inputs[i].ShapeText}) is not reachable from the outputs");
        }
        return result;
    }

    public static Tensor Grad(Tensor output, Tensor input, bool createGraph = false, bool retainGraph = false)
        => Grad([output], [input], null, retainGraph, createGraph)[0];

    // Collections reused by the outermost run on each thread (nested runs, from composed backward formulas, get new ones).
    [ThreadStatic] static Dictionary<Tensor, Tensor>? _grads;
    [ThreadStatic] static HashSet<Tensor>? _seen;
    [ThreadStatic] static List<Tensor>? _order;
    [ThreadStatic] static List<Tensor>? _leaves;
    [ThreadStatic] static Stack<Tensor>? _stack;
    [ThreadStatic] static int _runDepth;
    [ThreadStatic] static long[]? _sortKeys;
    [ThreadStatic] static Tensor[]? _oneOutput;
    [ThreadStatic] static Tensor?[]? _oneGradOutput;
    static long _runs;

    /// <summary>Where a run keeps each tensor's pending gradient and whether it has visited it.</summary>
    interface IGradMap
    {
        bool TryGet(Tensor t, out Tensor g);
        void Set(Tensor t, Tensor g);
        /// <summary>t's gradient has been passed on to its inputs.</summary>
        void Done(Tensor t);
        /// <summary>True the first time t is seen in this run.</summary>
        bool Visit(Tensor t);
    }

    /// <summary>The outermost Backward on a thread: pending gradients and visit marks are fields of the tensors, stamped
    /// with the run's number (no hashing at all); the leaves that received a gradient are listed for the caller.</summary>
    struct FieldMap(long run, List<Tensor> leaves) : IGradMap
    {
        public readonly List<Tensor> Leaves = leaves;
        public readonly bool TryGet(Tensor t, out Tensor g)
        {
            if (t.GradRun == run) { g = t.RunGrad!; return true; }
            g = null!; return false;
        }
        public readonly void Set(Tensor t, Tensor g)
        {
            if (t.GradRun != run) { t.GradRun = run; if (t.IsLeaf) Leaves.Add(t); }
            t.RunGrad = g;
        }
        public readonly void Done(Tensor t) => DropPending(t);
        public readonly bool Visit(Tensor t)
        {
            if (t.SeenRun == run) return false;
            t.SeenRun = run; return true;
        }
    }

    /// <summary>Grad() and nested runs: a dictionary and a set of their own, so they never touch an enclosing run's fields.</summary>
    readonly struct DictionaryMap(Dictionary<Tensor, Tensor> grads, HashSet<Tensor> seen, HashSet<Tensor>? wanted) : IGradMap
    {
        public bool TryGet(Tensor t, out Tensor g) => grads.TryGetValue(t, out g!);
        public void Set(Tensor t, Tensor g) => grads[t] = g;
        public void Done(Tensor t) { if (wanted is null || !wanted.Contains(t)) grads.Remove(t); }
        public bool Visit(Tensor t) => seen.Add(t);
    }

    /// <summary>The outermost Backward: runs with the field map and returns the leaves that received gradients (their
    /// gradient in RunGrad, stamped GradRun); the caller takes them with TakeLeafGradient.</summary>
    static List<Tensor> RunWithFields(Tensor[] outputs, Tensor?[] gradOutputs, bool retain, bool createGraph)
    {
        var leaves = _leaves ??= new();
        leaves.Clear();
        var map = new FieldMap(Interlocked.Increment(ref _runs), leaves);
        _runDepth++;
        try { RunCore(outputs, gradOutputs, retain, createGraph, ref map, outer: true); }
        catch { foreach (var t in leaves) DropPending(t); leaves.Clear(); throw; }
        finally { _runDepth--; }
        return leaves;
    }

    static Tensor TakeLeafGradient(Tensor leaf)
    {
        var g = leaf.RunGrad!;
        DropPending(leaf);
        return g;
    }

    /// <summary>Forgets a tensor's pending gradient of the field-based run (and the reference to it).</summary>
    static void DropPending(Tensor t) { t.RunGrad = null; t.GradRun = 0; }

    static Dictionary<Tensor, Tensor> Run(Tensor[] outputs, Tensor?[] gradOutputs, bool retain, bool createGraph, HashSet<Tensor>? wanted)
    {
        bool outer = _runDepth++ == 0;
        try
        {
            // The outer run's dictionary is returned to the caller, who reads it before the next run on this thread.
            var grads = outer ? (_grads ??= new(ReferenceEqualityComparer.Instance))
                : new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance);
            var seen = outer ? (_seen ??= new(ReferenceEqualityComparer.Instance))
                : new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
            grads.Clear(); seen.Clear();
            var map = new DictionaryMap(grads, seen, wanted);
            try { RunCore(outputs, gradOutputs, retain, createGraph, ref map, outer); }
            finally { seen.Clear(); } // do not keep the graph alive until the next backward
            return grads;
        }
        finally { _runDepth--; }
    }

    static void RunCore<TMap>(Tensor[] outputs, Tensor?[] gradOutputs, bool retain, bool createGraph, ref TMap grads, bool outer)
        where TMap : struct, IGradMap
    {
        for (int i = 0; i < outputs.Length; i++)
        {
            var o = outputs[i];
            if (!o.RequiresGrad)
                throw new EngramException($"backward: output {i} ({o.ShapeText}) does not require grad; nothing to differentiate");
            var g = gradOutputs[i];
            if (g is null)
            {
                if (o.Numel != 1)
                    throw new ShapeMismatchException($"backward: output {i} has shape {o.ShapeText}; a gradient is implicit only for " +
                        "one-element outputs");
                g = Tensor.OnesLike(o);
            }
            else if (!Tensor.SameShape(g, o))
                throw new ShapeMismatchException($"backward: gradient of shape {g.ShapeText} for output of shape {o.ShapeText}");
            grads.Set(o, grads.TryGet(o, out var prev) ? prev + g : g);
        }

        // Collect reachable non-leaf tensors; visit in decreasing tape order.
        var order = outer ? (_order ??= new()) : new List<Tensor>();
        var stack = outer ? (_stack ??= new()) : new Stack<Tensor>();
        order.Clear(); stack.Clear();
        try
        {
            foreach (var o in outputs) if (o.GradFn is not null && grads.Visit(o)) stack.Push(o);
            while (stack.Count > 0)
            {
                var t = stack.Pop();
                order.Add(t);
                foreach (var inp in t.GradFn!.Inputs)
                    if (inp.GradFn is not null && inp.RequiresGrad && grads.Visit(inp)) stack.Push(inp);
            }
            // Decreasing sequence: sort by the negated sequence (a key sort with the default comparer allocates nothing).
            var items = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(order);
            var keys = outer
                ? (_sortKeys is { } sk && sk.Length >= items.Length
                    ? sk : _sortKeys = new long[Math.Max(items.Length, 2 * (_sortKeys?.Length ?? 0))])
                : new long[items.Length];
            for (int i = 0; i < items.Length; i++) keys[i] = -items[i].GradFn!.Sequence;
            keys.AsSpan(0, items.Length).Sort(items);

            using var scope = Autograd.EnableGrad(createGraph);
            foreach (var t in order)
            {
                if (!grads.TryGet(t, out var g)) continue;
                var node = t.GradFn!;
                if (node.Released)
                    throw new EngramException($"backward through '{node.Op}' a second time: its graph was freed; pass retainGraph: true " +
                        "to the first backward");
                GradList inGrads;
                _inBackwardOf = node.Op;
                try { inGrads = node.Backward(node, g); }
                finally { _inBackwardOf = null; }
                if (!retain) node.Released = true;
                if (inGrads.Count != node.Inputs.Length)
                    throw new EngramException($"backward of '{node.Op}' returned {inGrads.Count} gradients for " +
                        $"{node.Inputs.Length} inputs");
                for (int k = 0; k < node.Inputs.Length; k++)
                {
                    var inp = node.Inputs[k];
                    var ig = inGrads[k];
                    if (ig is null || !inp.RequiresGrad) continue;
                    if (!Tensor.SameShape(ig, inp))
                        throw new ShapeMismatchException($"backward of '{node.Op}': gradient shape {ig.ShapeText} for input {k} of shape " +
                            $"{inp.ShapeText}");
                    if (_anomaly) { _inBackwardOf = node.Op; try { CheckFinite(ig, "gradient"); } finally { _inBackwardOf = null; } }
                    grads.Set(inp, grads.TryGet(inp, out var prev) ? prev + ig : ig);
                }
                grads.Done(t);
            }
        }
        catch
        {
            foreach (var t in order) grads.Done(t); // drop pending gradients of the failed run
            throw;
        }
        finally { order.Clear(); } // do not keep the graph alive until the next backward
    }
}
