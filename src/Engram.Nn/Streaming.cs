// Layers that read a stream in pieces and carry a state between calls: a depthwise causal convolution, sliding-window
// attention with a key/value cache, and a GRU. Each one's Forward over a piece of a stream gives the same outputs,
// bit for bit, however the piece is split into calls within a chunk (EndChunk marks chunk boundaries), which is what
// lets a decoder reproduce an encoder's predictions token by token.
using Engram.Tensors;

namespace Engram.Nn;

/// <summary>State carried by a streaming layer between calls.</summary>
public interface IStreamState
{
    /// <summary>Called at each chunk boundary: cuts the autograd history and trims caches.</summary>
    void EndChunk();
    IStreamState Clone();
    IEnumerable<(string Name, Tensor Value)> Tensors();
    void Load(IReadOnlyDictionary<string, Tensor> saved, string prefix);
}

static class StreamStateIo
{
    public static Tensor? Get(IReadOnlyDictionary<string, Tensor> saved, string name, bool required)
    {
        if (saved.TryGetValue(name, out var t)) return t.CloneDetached();
        if (required) throw new EngramException($"stream state: '{name}' is missing");
        return null;
    }
}

/// <summary>Tail of the previous inputs, [B, k−1, D].</summary>
public sealed class ConvState(Tensor tail) : IStreamState
{
    public Tensor Tail { get; internal set; } = tail;
    public void EndChunk() => Tail = Tail.CloneDetached();
    public IStreamState Clone() => new ConvState(Tail.CloneDetached());
    public IEnumerable<(string, Tensor)> Tensors() { yield return ("tail", Tail); }
    public void Load(IReadOnlyDictionary<string, Tensor> saved, string prefix) => Tail = StreamStateIo.Get(saved, prefix + "tail", true)!;
}

/// <summary>Depthwise causal convolution over time: y_t = Σ_j w_j ⊙ x_{t−k+1+j} (+ bias); x [B, T, D].</summary>
public sealed class CausalConv : Module
{
    public int Kernel { get; }
    public int Dim { get; }
    public Tensor Weight { get; }
    public Tensor Bias { get; }

    public CausalConv(int dim, int kernel, Generator generator)
    {
        Kernel = kernel; Dim = dim;
        Weight = RegisterParameter("weight", Init.Uniform(generator, [kernel, dim], -1.0 / Math.Sqrt(kernel), 1.0 / Math.Sqrt(kernel)));
        Bias = RegisterParameter("bias", Init.Zeros([dim]));
    }

    public ConvState InitialState(int batch = 1) => new(Tensor.Zeros(batch, Kernel - 1, Dim));

    public Tensor Forward(Tensor x, ConvState state)
    {
        int t = x.Shape[1];
        var xs = Tensor.Concat([state.Tail, x], 1);
        Tensor y = Bias;
        for (int j = 0; j < Kernel; j++) y = y + xs.Narrow(1, j, t) * Weight.Narrow(0, j, 1).Reshape(Dim);
        state.Tail = xs.Narrow(1, xs.Shape[1] - (Kernel - 1), Kernel - 1);
        return y;
    }
}

/// <summary>Keys and values (before rotary embedding) from the start of the current chunk's window: the last W of the
/// previous chunks, then this chunk's so far. [B, H, L, d].</summary>
public sealed class KvState(int window) : IStreamState
{
    public int Window { get; } = window;
    public Tensor? Keys { get; internal set; }
    public Tensor? Values { get; internal set; }
    public int Length => Keys?.Shape[2] ?? 0;

    public void EndChunk()
    {
        if (Keys is null) return;
        int keep = Math.Min(Window, Keys.Shape[2]);
        Keys = Keys.Narrow(2, Keys.Shape[2] - keep, keep).CloneDetached();
        Values = Values!.Narrow(2, Values.Shape[2] - keep, keep).CloneDetached();
    }

    public IStreamState Clone() => new KvState(Window) { Keys = Keys?.CloneDetached(), Values = Values?.CloneDetached() };
    public IEnumerable<(string, Tensor)> Tensors()
    {
        if (Keys is null) yield break;
        yield return ("keys", Keys); yield return ("values", Values!);
    }
    public void Load(IReadOnlyDictionary<string, Tensor> saved, string prefix)
    {
        Keys = StreamStateIo.Get(saved, prefix + "keys", false);
        Values = StreamStateIo.Get(saved, prefix + "values", Keys is not null);
    }
}

/// <summary>Causal sliding-window attention over a stream (window W, rotary positions relative to the window start):
/// each query sees itself and the W − 1 tokens before it, across chunk boundaries through the cache.</summary>
public sealed class WindowAttention : Module
{
    public int Dim { get; }
    public int Heads { get; }
    public int HeadDim => Dim / Heads;
    public int Window { get; }
    public Linear QProj { get; }
    public Linear KProj { get; }
    public Linear VProj { get; }
    public Linear OProj { get; }
    (Tensor Cos, Tensor Sin)? _rope;

    public WindowAttention(int dim, int heads, int window, Generator generator)
    {
        if (heads <= 0 || dim % heads != 0)
            throw new ShapeMismatchException($"WindowAttention: dim {dim} is not divisible by {heads} heads");
        if (window < 1) throw new EngramException($"WindowAttention: window must be ≥ 1, got {window}");
        Dim = dim; Heads = heads; Window = window;
        QProj = RegisterModule("q_proj", new Linear(dim, dim, false, generator));
        KProj = RegisterModule("k_proj", new Linear(dim, dim, false, generator));
        VProj = RegisterModule("v_proj", new Linear(dim, dim, false, generator));
        OProj = RegisterModule("o_proj", new Linear(dim, dim, false, generator));
    }

    public KvState InitialState() => new(Window);

    (Tensor Cos, Tensor Sin) Tables(int length)
    {
        if (_rope is not { } r || r.Cos.Shape[0] < length)
        {
            using var keep = TensorScope.Suspend();
            int n = Math.Max(length, 2 * Window + 256);
            _rope = r = Functional.RotaryTables(n, HeadDim);
        }
        return r;
    }

    public Tensor Forward(Tensor x, KvState state)
    {
        int b = x.Shape[0], t = x.Shape[1];
        Tensor Heads_(Tensor y) => y.Reshape(b, t, Heads, HeadDim).Transpose(1, 2);
        var kNew = Heads_(KProj.Forward(x)); var vNew = Heads_(VProj.Forward(x));
        var keys = state.Keys is null ? kNew.Contiguous() : Tensor.Concat([state.Keys, kNew], 2);
        var values = state.Values is null ? vNew.Contiguous() : Tensor.Concat([state.Values, vNew], 2);
        state.Keys = keys; state.Values = values;
        int length = keys.Shape[2];
        var (cos, sin) = Tables(length);
        var kr = Functional.ApplyRotary(keys, cos.Narrow(0, 0, length).Contiguous(), sin.Narrow(0, 0, length).Contiguous());
        var q = Functional.ApplyRotary(Heads_(QProj.Forward(x)), cos.Narrow(0, length - t, t).Contiguous(),
            sin.Narrow(0, length - t, t).Contiguous());
        var a = Functional.ScaledDotProductAttention(q, kr, values, AttentionMask.SlidingWindow, Window);
        return OProj.Forward(a.Transpose(1, 2).Reshape(b, t, Dim));
    }
}

/// <summary>The hidden state of a GRU, [B, D].</summary>
public sealed class GruState(Tensor hidden) : IStreamState
{
    public Tensor Hidden { get; internal set; } = hidden;
    public void EndChunk() => Hidden = Hidden.CloneDetached();
    public IStreamState Clone() => new GruState(Hidden.CloneDetached());
    public IEnumerable<(string, Tensor)> Tensors() { yield return ("hidden", Hidden); }
    public void Load(IReadOnlyDictionary<string, Tensor> saved, string prefix)
        => Hidden = StreamStateIo.Get(saved, prefix + "hidden", true)!;
}

/// <summary>GRU layer (PyTorch's equations): r = σ(W_ir x + b_ir + W_hr h + b_hr), z likewise,
/// n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), h' = (1 − z) ⊙ n + z ⊙ h. x [B, T, D] → hidden states [B, T, D].</summary>
public sealed class Gru : Module
{
    public int Dim { get; }
    public Linear InputProj { get; }
    public Linear HiddenProj { get; }

    public Gru(int dim, Generator generator)
    {
        Dim = dim;
        InputProj = RegisterModule("input_proj", new Linear(dim, 3 * dim, true, generator));
        HiddenProj = RegisterModule("hidden_proj", new Linear(dim, 3 * dim, true, generator));
    }

    public GruState InitialState(int batch = 1) => new(Tensor.Zeros(batch, Dim));

    public Tensor Forward(Tensor x, GruState state)
    {
        int t = x.Shape[1];
        var gi = InputProj.Forward(x); // [B, T, 3D]
        var h = state.Hidden;
        var outs = new Tensor[t];
        for (int i = 0; i < t; i++)
        {
            var gx = gi.Narrow(1, i, 1).Squeeze(1);
            var gh = HiddenProj.Forward(h);
            var r = (gx.Narrow(-1, 0, Dim) + gh.Narrow(-1, 0, Dim)).Sigmoid();
            var z = (gx.Narrow(-1, Dim, Dim) + gh.Narrow(-1, Dim, Dim)).Sigmoid();
            var n = (gx.Narrow(-1, 2 * Dim, Dim) + r * gh.Narrow(-1, 2 * Dim, Dim)).Tanh();
            h = n + z * (h - n);
            outs[i] = h;
        }
        state.Hidden = h;
        return Tensor.Stack(outs, 1);
    }
}

/// <summary>FastWeightState as a stream state.</summary>
public sealed class FastWeightStreamState(FastWeightState inner) : IStreamState
{
    public FastWeightState Inner { get; private set; } = inner;
    public void EndChunk() => Inner.Detach();
    public IStreamState Clone() => new FastWeightStreamState(Inner.Clone());
    public IEnumerable<(string, Tensor)> Tensors() => Inner.Tensors();
    public void Load(IReadOnlyDictionary<string, Tensor> saved, string prefix) => Inner.Load(saved, prefix);
}
