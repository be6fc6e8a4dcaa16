// Single-token inference for the layers a stream LM reads bytes with: one token in, one vector out, no tensors, no
// autograd tape, buffers allocated once. Decoding a compressed stream needs the model's prediction of every byte
// before the next is known, so it runs one token at a time; through the tensor engine that costs a hundred small
// operations per token. These steppers compute the same functions directly on spans of the parameters.
// They are not bit-identical to the batched tensor forward (sums run in another order), so whoever codes with a
// stepper's output must predict with a stepper on both sides. Every loop is scalar fused multiply-adds, vector ones
// whose lanes each compute one output in a fixed order, or a PortableReduce sum: the bits do not depend on the SIMD
// width or the machine.
using System.Numerics;
using System.Runtime.InteropServices;
using Engram.Tensors;
using Engram.Tensors.Kernels;

namespace Engram.Nn;

/// <summary>A linear layer for one token: a transposed copy of its weight (taken when the stepper is built; the weights
/// must not change while it is used), so y = Σ_i x_i W[:, i] runs as fused multiply-adds across the outputs — each
/// output's sum in the order of i, whatever the vector width.</summary>
public sealed class StepLinear
{
    readonly float[] _wt; // [in, out]
    readonly float[]? _bias;
    public int In { get; }
    public int Out { get; }

    public StepLinear(Linear layer)
    {
        In = layer.InFeatures; Out = layer.OutFeatures;
        var w = layer.Weight.AsSpanF32();
        _wt = new float[In * Out];
        for (int o = 0; o < Out; o++)
            for (int i = 0; i < In; i++) _wt[i * Out + o] = w[o * In + i];
        _bias = layer.Bias?.AsSpanF32().ToArray();
    }

    public void Apply(ReadOnlySpan<float> x, Span<float> y)
    {
        y = y[..Out];
        if (_bias is null) y.Clear(); else _bias.CopyTo(y);
        int w = Vector<float>.Count, block = 4 * w, o = 0;
        if (Vector.IsHardwareAccelerated)
        {
            // four vectors of outputs stay in registers while every input adds its column
            var vy = MemoryMarshal.Cast<float, Vector<float>>(y);
            var wt = MemoryMarshal.Cast<float, Vector<float>>(_wt.AsSpan());
            if (Out % w == 0)
                for (; o + block <= Out; o += block)
                {
                    int v0 = o / w, stride = Out / w;
                    Vector<float> a0 = vy[v0], a1 = vy[v0 + 1], a2 = vy[v0 + 2], a3 = vy[v0 + 3];
                    for (int i = 0, r = v0; i < In; i++, r += stride)
                    {
                        var xi = new Vector<float>(x[i]);
                        a0 = Vector.FusedMultiplyAdd(xi, wt[r], a0);
                        a1 = Vector.FusedMultiplyAdd(xi, wt[r + 1], a1);
                        a2 = Vector.FusedMultiplyAdd(xi, wt[r + 2], a2);
                        a3 = Vector.FusedMultiplyAdd(xi, wt[r + 3], a3);
                    }
                    vy[v0] = a0; vy[v0 + 1] = a1; vy[v0 + 2] = a2; vy[v0 + 3] = a3;
                }
        }
        if (o < Out)
            for (int i = 0; i < In; i++) StepMath.AddScaled(x[i], _wt.AsSpan(i * Out + o, Out - o), y[o..]);
    }
}

/// <summary>Span arithmetic shared by the steppers.</summary>
public static class StepMath
{
    /// <summary>y += a·x, one fused multiply-add per element (the same bits on every vector width).</summary>
    public static void AddScaled(float a, ReadOnlySpan<float> x, Span<float> y)
    {
        int n = x.Length, i = 0;
        if (Vector.IsHardwareAccelerated && n >= Vector<float>.Count)
        {
            var va = new Vector<float>(a);
            var vx = MemoryMarshal.Cast<float, Vector<float>>(x);
            var vy = MemoryMarshal.Cast<float, Vector<float>>(y);
            for (int v = 0; v < vx.Length; v++) vy[v] = Vector.FusedMultiplyAdd(va, vx[v], vy[v]);
            i = vx.Length * Vector<float>.Count;
        }
        for (; i < n; i++) y[i] = MathF.FusedMultiplyAdd(a, x[i], y[i]);
    }

    /// <summary>y = x / √(mean x² + ε) ⊙ w.</summary>
    public static void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, double eps, Span<float> y)
    {
        float r = 1f / MathF.Sqrt(PortableReduce.SumOfSquares(x) / x.Length + (float)eps);
        for (int i = 0; i < x.Length; i++) y[i] = x[i] * r * (weight.IsEmpty ? 1f : weight[i]);
    }

    public static void RmsNorm(RmsNorm norm, ReadOnlySpan<float> x, Span<float> y)
        => RmsNorm(x, norm.Weight is null ? default : norm.Weight.AsSpanF32(), norm.Eps, y);

    /// <summary>LayerNorm with biased variance: returns 1/σ and writes x̂ (before the affine map) to xhat when given.</summary>
    public static float LayerNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, double eps,
        Span<float> y, Span<float> xhat = default)
    {
        int n = x.Length;
        float sum = 0, variance = 0;
        for (int i = 0; i < n; i++) sum += x[i];
        float mean = sum / n;
        for (int i = 0; i < n; i++) { float c = x[i] - mean; variance = MathF.FusedMultiplyAdd(c, c, variance); }
        float r = 1f / MathF.Sqrt(variance / n + (float)eps);
        for (int i = 0; i < n; i++)
        {
            float h = (x[i] - mean) * r;
            if (!xhat.IsEmpty) xhat[i] = h;
            y[i] = MathF.FusedMultiplyAdd(h, weight.IsEmpty ? 1f : weight[i], bias.IsEmpty ? 0f : bias[i]);
        }
        return r;
    }

    /// <summary>GELU in place, tanh approximation: ½ z (1 + tanh(√(2/π)(z + 0.044715 z³))), with the portable tanh.
    /// `u`: scratch of z's length.</summary>
    public static void Gelu(Span<float> z, Span<float> u)
    {
        u = u[..z.Length];
        for (int i = 0; i < z.Length; i++) u[i] = 0.7978845608f * (z[i] + 0.044715f * z[i] * z[i] * z[i]);
        PortableExp.Tanh(u, u);
        for (int i = 0; i < z.Length; i++) z[i] = 0.5f * z[i] * (1f + u[i]);
    }

    /// <summary>gate ← SiLU(gate) ⊙ up, with the portable sigmoid. `s`: scratch of gate's length.</summary>
    public static void SwiGlu(Span<float> gate, ReadOnlySpan<float> up, Span<float> s)
    {
        s = s[..gate.Length];
        PortableExp.Sigmoid(gate, s);
        for (int i = 0; i < gate.Length; i++) gate[i] = gate[i] * s[i] * up[i];
    }

    /// <summary>log(1 + eᶻ), as the engine's Softplus computes it.</summary>
    public static float Softplus(float z) => MathF.Max(z, 0) + (float)PortableMath.Log(1.0 + PortableExp.Exp(-MathF.Abs(z)));
}

/// <summary>A causal convolution one token at a time, from a copy of its state's tail (the state is not changed).</summary>
public sealed class ConvStepper
{
    readonly CausalConv _conv;
    readonly float[] _ring; // the last k − 1 inputs, oldest first at _start
    int _start;

    public ConvStepper(CausalConv conv, ConvState state)
    {
        _conv = conv;
        _ring = state.Tail.Contiguous().ToFloatArray();
    }

    public void Step(ReadOnlySpan<float> x, Span<float> y)
    {
        int k = _conv.Kernel, d = _conv.Dim;
        var w = _conv.Weight.AsSpanF32();
        _conv.Bias.AsSpanF32().CopyTo(y);
        for (int j = 0; j < k - 1; j++)
        {
            var past = _ring.AsSpan((_start + j) % (k - 1) * d, d);
            var wj = w.Slice(j * d, d);
            for (int i = 0; i < d; i++) y[i] = MathF.FusedMultiplyAdd(past[i], wj[i], y[i]);
        }
        var wl = w.Slice((k - 1) * d, d);
        for (int i = 0; i < d; i++) y[i] = MathF.FusedMultiplyAdd(x[i], wl[i], y[i]);
        if (k > 1)
        {
            x.CopyTo(_ring.AsSpan(_start * d, d));
            _start = (_start + 1) % (k - 1);
        }
    }
}

/// <summary>A SwiGLU MLP one token at a time.</summary>
public sealed class SwiGluStepper(SwiGlu mlp)
{
    readonly StepLinear _gateProj = new(mlp.GateProj), _upProj = new(mlp.UpProj), _downProj = new(mlp.DownProj);
    readonly float[] _gate = new float[mlp.GateProj.OutFeatures], _up = new float[mlp.UpProj.OutFeatures],
        _sigmoid = new float[mlp.GateProj.OutFeatures];

    public void Step(ReadOnlySpan<float> x, Span<float> y)
    {
        _gateProj.Apply(x, _gate);
        _upProj.Apply(x, _up);
        StepMath.SwiGlu(_gate, _up, _sigmoid);
        _downProj.Apply(_gate, y);
    }
}

/// <summary>A TTT-Linear fast-weight layer (linear inner model, plain inner gradient steps: no momentum, no forgetting)
/// one token at a time, from a copy of its state. Every token of a mini-batch takes its inner gradient G_t at the
/// mini-batch's starting weights W₀; token t reads W_t = W₀ − Σ_{s≤t} θ_s k̃_sᵀ G_s, which the stepper keeps up to date
/// (one rank-1 update per token: the primal form of the dual form's sums); at the end of the mini-batch W₀ ← W_t.</summary>
public sealed class FastWeightStepper
{
    readonly FastWeightLayer _layer;
    readonly int _h, _d, _mb;
    readonly float[] _w0, _wt;           // [H, d+1, d]: W₀ of the current mini-batch, and W after the tokens so far
    int _count;                          // tokens of the current mini-batch read so far
    readonly float[] _q, _k, _v, _rate, _gate, _z, _y, _row, _xhat, _g, _grad, _key, _qa;
    readonly StepLinear _qProj, _kProj, _vProj, _oProj, _lrProj;
    readonly StepLinear? _gateProj;

    public static bool Supports(FastWeightOptions o) => o.Inner == InnerModel.Linear && !o.Momentum && !o.Forget;

    public FastWeightStepper(FastWeightLayer layer, FastWeightState state)
    {
        if (!Supports(layer.Options)) throw new EngramException("FastWeightStepper: only the linear inner model with plain steps");
        if (state.Weights[0].Shape[0] != 1) throw new EngramException("FastWeightStepper: one stream only");
        _layer = layer;
        _h = layer.Options.Heads; _d = layer.HeadDim; _mb = layer.Options.MiniBatch;
        int dim = layer.Dim;
        _w0 = state.Weights[0].Contiguous().ToFloatArray();
        _wt = (float[])_w0.Clone();
        _q = new float[dim]; _k = new float[dim]; _v = new float[dim]; _rate = new float[_h];
        _gate = new float[dim]; _z = new float[dim]; _y = new float[dim];
        _row = new float[_d]; _xhat = new float[_d]; _g = new float[_d]; _grad = new float[_d];
        _key = new float[_d + 1]; _qa = new float[_d + 1];
        _qProj = new(layer.QProj); _kProj = new(layer.KProj); _vProj = new(layer.VProj); _oProj = new(layer.OProj);
        _lrProj = new(layer.LrProj);
        if (layer.GateProj is { } gp) _gateProj = new(gp);
        // The tokens of the unfinished mini-batch: their rows as the batched forward cached them when it read them
        // (under the parameters of that time), else computed from their inputs now, as the batched forward would.
        if (state.Cache is { } cache && cache.Count == state.PendingCount)
        {
            int n = cache.Count;
            var keys = cache.Inputs[0].Contiguous().ToFloatArray();
            var grads = cache.Grads[0].Contiguous().ToFloatArray();
            var theta = cache.Theta.Contiguous().ToFloatArray();
            for (int hd = 0; hd < _h; hd++)
                for (int s = 0; s < n; s++)
                    Update(hd, theta[hd * n + s], keys.AsSpan((hd * n + s) * (_d + 1), _d + 1), grads.AsSpan((hd * n + s) * _d, _d));
            _count = n;
        }
        else if (state.Pending is { } pending)
        {
            var xs = pending.Contiguous().ToFloatArray();
            for (int t = 0; t < state.PendingCount; t++) Write(xs.AsSpan(t * dim, dim)); // fewer than a mini-batch
        }
    }

    /// <summary>W_t −= θ k̃ᵀ G for head h.</summary>
    void Update(int head, float theta, ReadOnlySpan<float> key, ReadOnlySpan<float> grad)
    {
        var w = _wt.AsSpan(head * (_d + 1) * _d, (_d + 1) * _d);
        for (int i = 0; i <= _d; i++) StepMath.AddScaled(-theta * key[i], grad, w.Slice(i * _d, _d));
    }

    /// <summary>Adds the token whose layer input is x to the mini-batch: its inner gradient at W₀ moves W_t.</summary>
    void Write(ReadOnlySpan<float> x)
    {
        var o = _layer.Options;
        _kProj.Apply(x, _k);
        _vProj.Apply(x, _v);
        _lrProj.Apply(x, _rate);
        float scale = (float)(o.EtaBase / (o.DivideByHeadDim ? _d : 1));
        if (o.PositionScale) scale *= 1f / (_count + 1);
        var key = _key.AsSpan();
        for (int hd = 0; hd < _h; hd++)
        {
            _k.AsSpan(hd * _d, _d).CopyTo(key);
            key[_d] = 1;
            float theta = PortableExp.Sigmoid(_rate[hd]) * scale;
            Apply(_w0, hd, key, _row);
            var grad = _grad.AsSpan();
            var v = _v.AsSpan(hd * _d, _d);
            if (o.NormResidual)
            {
                var weight = InnerNormWeight(hd);
                float rstd = StepMath.LayerNorm(_row, weight, InnerNormBias(hd), 1e-6, _g, _xhat);
                // f = k + LN(r); ∂/∂r of ½‖f − v‖² through the LayerNorm
                float meanG = 0, meanGx = 0;
                for (int j = 0; j < _d; j++)
                {
                    float gf = key[j] + _g[j] - v[j];
                    float gh = gf * weight[j];
                    grad[j] = gh;
                    meanG += gh; meanGx = MathF.FusedMultiplyAdd(gh, _xhat[j], meanGx);
                }
                meanG /= _d; meanGx /= _d;
                for (int j = 0; j < _d; j++) grad[j] = (grad[j] - meanG - _xhat[j] * meanGx) * rstd;
            }
            else for (int j = 0; j < _d; j++) grad[j] = _row[j] - v[j];
            Update(hd, theta, key, grad);
        }
        _count++;
    }

    ReadOnlySpan<float> InnerNormWeight(int head) => _layer.InnerNormWeight!.AsSpanF32().Slice(head * _d, _d);
    ReadOnlySpan<float> InnerNormBias(int head) => _layer.InnerNormBias!.AsSpanF32().Slice(head * _d, _d);

    /// <summary>r = ã W for head h (ã augmented, d + 1 values).</summary>
    void Apply(float[] weights, int head, ReadOnlySpan<float> a, Span<float> r)
    {
        var w = weights.AsSpan(head * (_d + 1) * _d, (_d + 1) * _d);
        r.Clear();
        for (int i = 0; i <= _d; i++) StepMath.AddScaled(a[i], w.Slice(i * _d, _d), r);
    }

    /// <summary>Reads the token whose layer input is x; writes the layer's output to y.</summary>
    public void Step(ReadOnlySpan<float> x, Span<float> y)
    {
        var o = _layer.Options;
        _qProj.Apply(x, _q);
        Write(x); // the token reads the weights after its own inner step
        var qa = _qa.AsSpan();
        for (int hd = 0; hd < _h; hd++)
        {
            _q.AsSpan(hd * _d, _d).CopyTo(qa);
            qa[_d] = 1;
            Apply(_wt, hd, qa, _row);
            var z = _z.AsSpan(hd * _d, _d);
            if (o.NormResidual)
            {
                StepMath.LayerNorm(_row, InnerNormWeight(hd), InnerNormBias(hd), 1e-6, z);
                for (int j = 0; j < _d; j++) z[j] += qa[j];
            }
            else _row.CopyTo(z);
        }
        if (_count == _mb)
        {
            _wt.CopyTo(_w0, 0);
            _count = 0;
        }
        var post = _layer.PostNorm;
        StepMath.LayerNorm(_z, post.Weight is null ? default : post.Weight.AsSpanF32(),
            post.Bias is null ? default : post.Bias.AsSpanF32(), post.Eps, _y);
        if (_gateProj is { } gate)
        {
            gate.Apply(x, _gate);
            StepMath.Gelu(_gate, _z); // _z is free once the post-norm has read it
            for (int i = 0; i < _y.Length; i++) _y[i] *= _gate[i];
        }
        _oProj.Apply(_y, y);
    }
}
