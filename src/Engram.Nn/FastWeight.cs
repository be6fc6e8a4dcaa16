// Fast-weight layers (docs/fast_weights.md): the layer's hidden state is the weights W of an inner model f, and
// reading a token takes a gradient step on the inner loss ½‖f(k_t; W) − v_t‖². One class covers TTT-Linear,
// TTT-MLP, Titans-style memory (momentum and forgetting gates) and the (gated) delta rule: the inner model and the
// inner optimiser are its two options. Forward is the mini-batch dual form; ForwardPrimal is the per-token oracle.
using Engram.Tensors;

namespace Engram.Nn;

public enum InnerModel { Linear, Mlp }

/// <summary>Configuration of a fast-weight layer. The presets name the published variants.</summary>
public sealed record FastWeightOptions
{
    public InnerModel Inner { get; init; } = InnerModel.Linear;
    public int Heads { get; init; } = 4;
    /// <summary>Tokens per inner mini-batch b: all take their gradient at the state the previous mini-batch left.</summary>
    public int MiniBatch { get; init; } = 16;
    /// <summary>f(z) = z + LN(f_res(z)) (TTT); off: f = f_res (delta rule).</summary>
    public bool NormResidual { get; init; } = true;
    /// <summary>Titans momentum of surprise: S_t = μ_t S_{t−1} − θ_t ∇ℓ.</summary>
    public bool Momentum { get; init; }
    /// <summary>Titans forgetting gate: M_t = (1 − α_t) M_{t−1} + S_t.</summary>
    public bool Forget { get; init; }
    /// <summary>η_base in θ_t = η_base · σ(θ_lr · x_t) (1 for Linear, 0.1 for MLP in the TTT reference).</summary>
    public double EtaBase { get; init; } = 1.0;
    /// <summary>Divide the inner learning rate by the head dimension (TTT reference).</summary>
    public bool DivideByHeadDim { get; init; } = true;
    /// <summary>Scale the i-th token's rate (1-based) inside a mini-batch by 1/i (TTT reference option).</summary>
    public bool PositionScale { get; init; }
    /// <summary>Output gate GELU(θ_G x) ⊙ z before the output projection.</summary>
    public bool OutputGate { get; init; } = true;
    /// <summary>Hidden width of the MLP inner model as a multiple of the head dimension.</summary>
    public int MlpWidthFactor { get; init; } = 4;

    public static FastWeightOptions TttLinear => new();
    public static FastWeightOptions TttMlp => new() { Inner = InnerModel.Mlp, EtaBase = 0.1 };
    public static FastWeightOptions Titans => new() { Inner = InnerModel.Mlp, Momentum = true, Forget = true, EtaBase = 0.1 };
    public static FastWeightOptions DeltaRule => new() { NormResidual = false, MiniBatch = 1, OutputGate = false };
    public static FastWeightOptions GatedDeltaRule => DeltaRule with { Forget = true };
}

/// <summary>The per-stream state of a fast-weight layer: the inner weights at the last mini-batch boundary (each
/// [B, H, in+1, out], the last row being the bias), the momentum when used, and the layer inputs of the unfinished
/// mini-batch. Reading those pending tokens already changes what the layer outputs, so a stream shorter than one
/// mini-batch still updates the memory.</summary>
public sealed class FastWeightState
{
    public Tensor[] Weights { get; internal set; }
    public Tensor[]? Momentum { get; internal set; }
    public Tensor? Pending { get; internal set; }
    public int PendingCount => Pending?.Shape[1] ?? 0;
    /// <summary>Per-token quantities of the pending tokens (derived from Pending and the weights; rebuilt when absent).</summary>
    internal PendingRows? Cache { get; set; }

    internal FastWeightState(Tensor[] weights, Tensor[]? momentum) { Weights = weights; Momentum = momentum; }

    /// <summary>Cuts the autograd history (truncated backpropagation: states carry over detached).</summary>
    public void Detach()
    {
        Weights = Weights.Select(w => w.CloneDetached()).ToArray(); // copies: the first state is a view of W₀
        Momentum = Momentum?.Select(s => s.CloneDetached()).ToArray();
        Pending = Pending?.CloneDetached();
        Cache = Cache?.CloneDetached();
    }

    /// <summary>An independent detached copy.</summary>
    public FastWeightState Clone() => new(Weights.Select(w => w.CloneDetached()).ToArray(),
        Momentum?.Select(s => s.CloneDetached()).ToArray())
    { Pending = Pending?.CloneDetached(), Cache = Cache?.CloneDetached() };

    /// <summary>Named tensors for saving (weights.i, momentum.i, pending, and the pending tokens' rows: rows.*). The rows
    /// were computed with the slow weights of the time the tokens were read; rebuilt after a reload they would use the
    /// weights of the reload's time, so they are saved and a reloaded learner continues bit for bit.</summary>
    public IEnumerable<(string Name, Tensor Value)> Tensors()
    {
        for (int i = 0; i < Weights.Length; i++) yield return ($"weights.{i}", Weights[i]);
        if (Momentum is not null) for (int i = 0; i < Momentum.Length; i++) yield return ($"momentum.{i}", Momentum[i]);
        if (Pending is not null) yield return ("pending", Pending);
        if (Pending is null || Cache is not { } rows || rows.Count != PendingCount) yield break;
        for (int i = 0; i < rows.Inputs.Length; i++) yield return ($"rows.inputs.{i}", rows.Inputs[i]);
        for (int i = 0; i < rows.Grads.Length; i++) yield return ($"rows.grads.{i}", rows.Grads[i]);
        yield return ("rows.theta", rows.Theta);
        if (rows.LogMomentum is not null) yield return ("rows.log_momentum", rows.LogMomentum);
        if (rows.LogRetain is not null) yield return ("rows.log_retain", rows.LogRetain);
    }

    /// <summary>Restores values saved by Tensors(); shapes must match this state's.</summary>
    public void Load(IReadOnlyDictionary<string, Tensor> saved, string prefix)
    {
        Tensor Get(string n, Tensor like)
        {
            if (!saved.TryGetValue(prefix + n, out var t)) throw new EngramException($"fast-weight state: '{prefix}{n}' is missing");
            if (!Tensor.SameShapeAs(t, like))
                throw new ShapeMismatchException($"fast-weight state: '{prefix}{n}' has shape {t.ShapeText}, expected {like.ShapeText}");
            return t.CloneDetached();
        }
        var w = Weights.Select((x, i) => Get($"weights.{i}", x)).ToArray();
        var m = Momentum?.Select((x, i) => Get($"momentum.{i}", x)).ToArray();
        Weights = w; Momentum = m;
        Pending = saved.TryGetValue(prefix + "pending", out var p) ? p.CloneDetached() : null;
        if (saved.TryGetValue(prefix + "rows.theta", out var theta) && theta.Shape.Length != 4)
            throw new ShapeMismatchException($"fast-weight state: '{prefix}rows.theta' has shape {theta.ShapeText}, expected 4 dimensions");
        Cache = Pending is null || theta is null ? null : new PendingRows(
            Indexed(saved, prefix + "rows.inputs."), Indexed(saved, prefix + "rows.grads."), theta.CloneDetached(),
            saved.TryGetValue(prefix + "rows.log_momentum", out var lm) ? lm.CloneDetached() : null,
            saved.TryGetValue(prefix + "rows.log_retain", out var lr) ? lr.CloneDetached() : null);
        if (Cache is { } c && (c.Count != PendingCount || c.Inputs.Length != c.Grads.Length || c.Inputs.Length == 0))
            throw new ShapeMismatchException($"fast-weight state: '{prefix}rows.*' do not match the {PendingCount} pending tokens");
    }

    static Tensor[] Indexed(IReadOnlyDictionary<string, Tensor> saved, string prefix)
    {
        var list = new List<Tensor>();
        while (saved.TryGetValue(prefix + list.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), out var t))
            list.Add(t.CloneDetached());
        return [.. list];
    }
}

/// <summary>What the dual form needs of the tokens already in the current mini-batch: each inner layer's (augmented)
/// inputs and output gradients at the mini-batch's starting weights, and the token's rates and gates, [B, H, n, ·].
/// Every entry depends on its own token only, so reusing them is bit-identical to recomputing them.</summary>
internal sealed record PendingRows(Tensor[] Inputs, Tensor[] Grads, Tensor Theta, Tensor? LogMomentum, Tensor? LogRetain)
{
    public int Count => Theta.Shape[2];
    public PendingRows CloneDetached() => new(Inputs.Select(t => t.CloneDetached()).ToArray(),
        Grads.Select(t => t.CloneDetached()).ToArray(), Theta.CloneDetached(), LogMomentum?.CloneDetached(), LogRetain?.CloneDetached());
    public PendingRows Append(PendingRows next) => new(
        Inputs.Zip(next.Inputs, (a, b) => Tensor.Concat([a, b], 2)).ToArray(),
        Grads.Zip(next.Grads, (a, b) => Tensor.Concat([a, b], 2)).ToArray(),
        Tensor.Concat([Theta, next.Theta], 2), LogMomentum is null ? null : Tensor.Concat([LogMomentum, next.LogMomentum!], 2),
        LogRetain is null ? null : Tensor.Concat([LogRetain, next.LogRetain!], 2));
}

/// <summary>Fast-weight layer: x [B, T, D] → [B, T, D]. Views q, k, v = θ_Q x, θ_K x, θ_V x per head (d = D/H);
/// inner model f(z) = z + LN(f_res(z)) with f_res linear (W z + b) or an MLP (W₂ GELU(W₁ z + b₁) + b₂, width 4d);
/// output f(q_t; W_t) → LayerNorm → optional gate GELU(θ_G x) ⊙ · → θ_O. W₀ is learned.</summary>
public sealed class FastWeightLayer : Module
{
    public FastWeightOptions Options { get; }
    public int Dim { get; }
    public int HeadDim { get; }
    public Linear QProj { get; }
    public Linear KProj { get; }
    public Linear VProj { get; }
    public Linear OProj { get; }
    public Linear LrProj { get; }
    public Linear? GateProj { get; }
    public Linear? MomentumProj { get; }
    public Linear? ForgetProj { get; }
    public LayerNorm PostNorm { get; }
    /// <summary>Learned initial inner weights, one per inner layer: [H, in+1, out].</summary>
    public Tensor[] InitialWeights { get; }
    public Tensor? InnerNormWeight { get; }
    public Tensor? InnerNormBias { get; }
    readonly Dictionary<(int, DType), Tensor> _tril = new();

    public FastWeightLayer(int dim, FastWeightOptions options, Generator generator, DType dtype = DType.Float32)
    {
        if (options.Heads <= 0 || dim % options.Heads != 0)
            throw new ShapeMismatchException($"FastWeightLayer: dim {dim} is not divisible by {options.Heads} heads");
        if (options.MiniBatch < 1) throw new EngramException($"FastWeightLayer: mini-batch must be ≥ 1, got {options.MiniBatch}");
        Options = options; Dim = dim; HeadDim = dim / options.Heads;
        int h = options.Heads, d = HeadDim;
        QProj = RegisterModule("q_proj", new Linear(dim, dim, false, generator, dtype));
        KProj = RegisterModule("k_proj", new Linear(dim, dim, false, generator, dtype));
        VProj = RegisterModule("v_proj", new Linear(dim, dim, false, generator, dtype));
        OProj = RegisterModule("o_proj", new Linear(dim, dim, false, generator, dtype));
        LrProj = RegisterModule("lr_proj", new Linear(dim, h, true, generator, dtype));
        if (options.OutputGate) GateProj = RegisterModule("gate_proj", new Linear(dim, dim, false, generator, dtype));
        if (options.Momentum) MomentumProj = RegisterModule("momentum_proj", new Linear(dim, h, true, generator, dtype));
        if (options.Forget)
        {
            ForgetProj = RegisterModule("forget_proj", new Linear(dim, h, true, generator, dtype));
            ForgetProj.Bias!.CopyFrom(Tensor.Full([h], -4.0, dtype)); // start remembering: α ≈ 0.018
        }
        PostNorm = RegisterModule("post_norm", new LayerNorm(dim, dtype: dtype));
        int[] widths = options.Inner == InnerModel.Linear ? [d, d] : [d, options.MlpWidthFactor * d, d];
        InitialWeights = new Tensor[widths.Length - 1];
        for (int l = 0; l + 1 < widths.Length; l++)
        {
            var w = Tensor.Concat([Init.Normal(generator, [h, widths[l], widths[l + 1]], 0, 0.02, dtype),
                Init.Zeros([h, 1, widths[l + 1]], dtype)], 1);
            InitialWeights[l] = RegisterParameter($"w0_{l}", w);
        }
        if (options.NormResidual)
        {
            InnerNormWeight = RegisterParameter("inner_norm_weight", Init.Ones([h, 1, d], dtype));
            InnerNormBias = RegisterParameter("inner_norm_bias", Init.Zeros([h, 1, d], dtype));
        }
    }

    /// <summary>The state at the start of a stream: W₀ for each of `batch` streams (attached to the parameter, so the
    /// first chunk trains W₀), zero momentum, nothing pending.</summary>
    public FastWeightState InitialState(int batch = 1)
    {
        var w = InitialWeights.Select(p => p.Unsqueeze(0).Expand([batch, .. p.Shape])).ToArray();
        var m = Options.Momentum ? InitialWeights.Select(p => Tensor.Zeros([batch, .. p.Shape], p.DType)).ToArray() : null;
        return new FastWeightState(w, m);
    }

    /// <summary>Dual (mini-batch) form: x [B, T, D] → [B, T, D], advancing the state. Mini-batches are aligned to the
    /// stream, so any split of a stream into calls gives the same outputs, bit for bit.</summary>
    public Tensor Forward(Tensor x, FastWeightState state) => Run(x, state, primal: false);

    /// <summary>Primal form: explicit per-token updates of the inner weights (the oracle for Forward; slower).</summary>
    public Tensor ForwardPrimal(Tensor x, FastWeightState state) => Run(x, state, primal: true);

    /// <summary>Per-token views [B, H, T, ·] of the layer inputs xs [B, T, D].</summary>
    sealed record Views(Tensor Q, Tensor K, Tensor V, Tensor Theta, Tensor? LogMomentum, Tensor? LogRetain);

    Views Project(Tensor xs)
    {
        int b = xs.Shape[0], t = xs.Shape[1], h = Options.Heads, d = HeadDim;
        Tensor Heads(Tensor y) => y.Reshape(b, t, h, d).Transpose(1, 2);
        Tensor PerHead(Tensor y) => y.Transpose(1, 2).Unsqueeze(-1); // [B, T, H] → [B, H, T, 1]
        double scale = Options.EtaBase / (Options.DivideByHeadDim ? d : 1);
        var theta = PerHead(LrProj.Forward(xs).Sigmoid()) * scale;
        // log μ = −softplus(−u), log(1 − α) = −softplus(u): the engine's portable softplus, no log of a rounded sigmoid
        var logMomentum = MomentumProj is null ? null : -PerHead(-MomentumProj.Forward(xs)).Softplus();
        var logRetain = ForgetProj is null ? null : -PerHead(ForgetProj.Forward(xs)).Softplus();
        return new Views(Heads(QProj.Forward(xs)), Heads(KProj.Forward(xs)), Heads(VProj.Forward(xs)), theta, logMomentum, logRetain);
    }

    Tensor Run(Tensor x, FastWeightState state, bool primal)
    {
        if (x.Rank != 3 || x.Shape[2] != Dim)
            throw new ShapeMismatchException($"FastWeightLayer: input {x.ShapeText}, expected [B, T, {Dim}]");
        if (state.Weights[0].Shape[0] != x.Shape[0])
            throw new ShapeMismatchException($"FastWeightLayer: state holds {state.Weights[0].Shape[0]} streams, input {x.ShapeText}");
        int b = x.Shape[0], t = x.Shape[1];
        if (t == 0) return x;
        var z = primal ? RunPrimal(x, state) : RunDual(x, state); // [B, H, T, d]
        var y = PostNorm.Forward(z.Transpose(1, 2).Reshape(b, t, Dim));
        if (GateProj is not null) y = y * GateProj.Forward(x).Gelu(approximateTanh: true);
        return OProj.Forward(y);
    }

    static Views Rows(Views v, int start, int n)
    {
        Tensor R(Tensor y) => y.Narrow(2, start, n);
        return new Views(R(v.Q), R(v.K), R(v.V), R(v.Theta), v.LogMomentum is null ? null : R(v.LogMomentum),
            v.LogRetain is null ? null : R(v.LogRetain));
    }

    Views WithPositionScale(Views v, int first)
    {
        if (!Options.PositionScale) return v;
        int n = v.Theta.Shape[2];
        var s = new float[n];
        for (int i = 0; i < n; i++) s[i] = 1f / (first + i + 1);
        return v with { Theta = v.Theta * Tensor.FromArray(s, n, 1).To(v.Theta.DType) };
    }

    /// <summary>The per-token quantities of the pending tokens, rebuilt from their inputs when not cached.</summary>
    PendingRows? PendingRowsOf(FastWeightState state)
    {
        if (state.Pending is null) return null;
        if (state.Cache is { } c && c.Count == state.PendingCount) return c;
        var v = WithPositionScale(Project(state.Pending), 0);
        var (_, inputs, grads) = Inner(state.Weights, v.K, v.V);
        return state.Cache = new PendingRows(inputs, grads!, v.Theta, v.LogMomentum, v.LogRetain);
    }

    /// <summary>Dual form: mini-batches aligned to the stream; the first one continues the pending tokens, whose
    /// per-token quantities are reused, so a token's output costs O(b·d²) whether it arrives alone or in a chunk.</summary>
    Tensor RunDual(Tensor x, FastWeightState state)
    {
        int t = x.Shape[1], mb = Options.MiniBatch, n0 = state.PendingCount;
        var views = Project(x);
        var outputs = new List<Tensor>();
        var prefix = PendingRowsOf(state);
        int done = 0;
        while (done < t)
        {
            int have = prefix?.Count ?? 0;
            int n = Math.Min(mb - have, t - done);
            var v = WithPositionScale(Rows(views, done, n), have);
            bool complete = have + n == mb;
            var (z, rows) = MiniBatchDual(state, v, prefix, complete);
            outputs.Add(z);
            prefix = complete ? null : rows;
            done += n;
        }
        var pending = state.Pending is null ? x : Tensor.Concat([state.Pending, x], 1);
        int total = n0 + t, left = total % mb;
        state.Pending = left == 0 ? null : pending.Narrow(1, total - left, left);
        state.Cache = prefix;
        return outputs.Count == 1 ? outputs[0] : Tensor.Concat(outputs, 2);
    }

    /// <summary>Primal form over pending + new tokens (the oracle; recomputes the pending tokens).</summary>
    Tensor RunPrimal(Tensor x, FastWeightState state)
    {
        int t = x.Shape[1], n0 = state.PendingCount, mb = Options.MiniBatch;
        var xs = state.Pending is null ? x : Tensor.Concat([state.Pending, x], 1);
        int total = n0 + t;
        var views = Project(xs);
        var outputs = new List<Tensor>();
        for (int start = 0; start < total; start += mb)
        {
            int n = Math.Min(mb, total - start);
            var z = MiniBatchPrimal(state, WithPositionScale(Rows(views, start, n), 0), n == mb);
            int keepFrom = Math.Max(0, n0 - start); // rows of pending tokens were output by an earlier call
            if (keepFrom < n) outputs.Add(keepFrom == 0 ? z : z.Narrow(2, keepFrom, n - keepFrom));
        }
        int done = total / mb * mb;
        state.Pending = done == total ? null : xs.Narrow(1, done, total - done);
        state.Cache = null;
        return outputs.Count == 1 ? outputs[0] : Tensor.Concat(outputs, 2);
    }

    static Tensor Augment(Tensor z) => Tensor.Concat([z, Tensor.Ones([.. z.Shape[..^1], 1], z.DType)], -1);

    static Tensor Act(Tensor z) => z.Gelu(approximateTanh: true);

    /// <summary>d GELU_tanh(z)/dz written with tensor operations (so the outer gradient flows through it).</summary>
    static Tensor ActGrad(Tensor z)
    {
        const double c = 0.7978845608028654; // √(2/π)
        var th = ((z + z * z * z * 0.044715) * c).Tanh();
        return (th + 1.0) * 0.5 + z * 0.5 * (1.0 - th * th) * ((z * z * (3 * 0.044715) + 1.0) * c);
    }

    /// <summary>Inner LayerNorm over the head dimension; returns the output and what its backward needs.</summary>
    (Tensor Out, Tensor XHat, Tensor Rstd) InnerNorm(Tensor r)
    {
        var xc = r - r.Mean(-1, keepDim: true);
        var rstd = ((xc * xc).Mean(-1, keepDim: true) + 1e-6).Rsqrt();
        var xhat = xc * rstd;
        return (xhat * InnerNormWeight! + InnerNormBias!, xhat, rstd);
    }

    Tensor InnerNormBackward(Tensor g, Tensor xhat, Tensor rstd)
    {
        var gh = g * InnerNormWeight!;
        return (gh - gh.Mean(-1, keepDim: true) - xhat * (gh * xhat).Mean(-1, keepDim: true)) * rstd;
    }

    /// <summary>Inner model at weights w for inputs z [B, H, n, d]: the output f(z), the per-layer (augmented) inputs
    /// and, given targets, the gradient of ½‖f − v‖² with respect to each layer's output.</summary>
    (Tensor F, Tensor[] Inputs, Tensor[]? Grads) Inner(Tensor[] w, Tensor z, Tensor? target)
    {
        var a0 = Augment(z);
        Tensor r; Tensor[] inputs; Tensor? pre = null;
        if (Options.Inner == InnerModel.Linear) { r = Tensor.Matmul(a0, w[0]); inputs = [a0]; }
        else
        {
            pre = Tensor.Matmul(a0, w[0]);
            var a1 = Augment(Act(pre));
            r = Tensor.Matmul(a1, w[1]);
            inputs = [a0, a1];
        }
        Tensor f, xhat = null!, rstd = null!;
        if (Options.NormResidual) { (var ln, xhat, rstd) = InnerNorm(r); f = z + ln; }
        else f = r;
        if (target is null) return (f, inputs, null);
        var gf = f - target;
        var gr = Options.NormResidual ? InnerNormBackward(gf, xhat, rstd) : gf;
        if (Options.Inner == InnerModel.Linear) return (f, inputs, [gr]);
        int hidden = w[1].Shape[^2] - 1;
        var gh = Tensor.Matmul(gr, w[1].Narrow(-2, 0, hidden).MT);
        return (f, inputs, [gh * ActGrad(pre!), gr]);
    }

    Tensor Tril(int n, DType dtype)
    {
        if (_tril.TryGetValue((n, dtype), out var m)) return m;
        using var keep = TensorScope.Suspend();
        var a = new float[n * n];
        for (int i = 0; i < n; i++) for (int j = 0; j <= i; j++) a[i * n + j] = 1;
        return _tril[(n, dtype)] = Tensor.FromArray(a, n, n).To(dtype);
    }

    /// <summary>decay[t, u] = exp(L_t − L_u) for u ≤ t (0 above the diagonal), L = cumulative sum of logs [B, H, n, 1].</summary>
    Tensor Decay(Tensor cumLog, int n)
    {
        var diff = cumLog - cumLog.MT;
        return diff.MaskedFill(Tril(n, cumLog.DType).Eq(0), double.NegativeInfinity).Exp();
    }

    /// <summary>One mini-batch in the dual form. With G_s the inner gradient of token s at the mini-batch's starting
    /// weights W₀ (and momentum S₀), every inner optimiser here makes W_t = β_t W₀ + m_t S₀ − Σ_{s≤t} c_ts X_sᵀ G_s, so
    /// outputs come from products over the mini-batch: f(q_t; W_t) = β_t q̃W₀ + m_t q̃S₀ − ((q̃ Xᵀ) ⊙ c) G.
    /// Plain TTT: c_ts = θ_s, β = 1. Forgetting: A_tu = Π_{u&lt;r≤t}(1 − α_r), β_t = Π_{r≤t}(1 − α_r).
    /// Momentum: E_us = Π_{s&lt;r≤u} μ_r, c = A E diag(θ), m_t = Σ_u A_tu Π_{r≤u} μ_r.</summary>
    (Tensor Output, PendingRows Rows) MiniBatchDual(FastWeightState state, Views v, PendingRows? prefix, bool complete)
    {
        var w0 = state.Weights;
        var (_, inputsNew, gradsNew) = Inner(w0, v.K, v.V);
        var mine = new PendingRows(inputsNew, gradsNew!, v.Theta, v.LogMomentum, v.LogRetain);
        var all = prefix is null ? mine : prefix.Append(mine);
        int n = all.Count, r0 = n - v.Q.Shape[2], r = n - r0;
        var tril = Tril(n, v.Q.DType);
        var trilRows = r0 == 0 ? tril : tril.Narrow(0, r0, r);       // rows of the new tokens
        var thetaRow = all.Theta.MT;                                  // [B, H, 1, n]
        Tensor c; Tensor? betaRows = null, mRows = null, eLast = null, eRow = null, aRows = null;
        if (all.LogRetain is not null)
        {
            var cum = Tensor.Matmul(tril, all.LogRetain);             // Σ_{s≤t} log(1 − α_s)
            var cumRows = r0 == 0 ? cum : cum.Narrow(2, r0, r);
            aRows = (cumRows - cum.MT).MaskedFill(trilRows.Eq(0), double.NegativeInfinity).Exp();
            betaRows = cumRows.Exp();
        }
        if (all.LogMomentum is not null)
        {
            var cumMom = Tensor.Matmul(tril, all.LogMomentum);
            var E = Decay(cumMom, n);
            var e = cumMom.Exp();                                     // Π_{r≤u} μ_r
            var left = aRows ?? trilRows;
            c = Tensor.Matmul(left, E) * thetaRow;
            mRows = Tensor.Matmul(left, e);
            eLast = e.Narrow(2, n - 1, 1);
            eRow = (E.Narrow(2, n - 1, 1) * thetaRow).MT;            // [B, H, n, 1]: E[n−1, s] θ_s
        }
        else c = (aRows ?? trilRows) * thetaRow;

        var xq = Augment(v.Q);
        Tensor o = null!;
        for (int l = 0; l < w0.Length; l++)
        {
            o = Tensor.Matmul(xq, w0[l]);
            if (betaRows is not null) o = o * betaRows;
            if (mRows is not null) o = o + mRows * Tensor.Matmul(xq, state.Momentum![l]);
            o = o - Tensor.Matmul(Tensor.Matmul(xq, all.Inputs[l].MT) * c, all.Grads[l]);
            if (l + 1 < w0.Length) xq = Augment(Act(o));
        }
        var f = Options.NormResidual ? v.Q + InnerNorm(o).Out : o;
        if (complete)
        {
            var cLast = c.Narrow(2, r - 1, 1).MT; // [B, H, n, 1]
            var wNew = new Tensor[w0.Length];
            var sNew = state.Momentum is null ? null : new Tensor[w0.Length];
            for (int l = 0; l < w0.Length; l++)
            {
                var w = w0[l];
                if (betaRows is not null) w = w * betaRows.Narrow(2, r - 1, 1);
                if (mRows is not null) w = w + mRows.Narrow(2, r - 1, 1) * state.Momentum![l];
                wNew[l] = w - Tensor.Matmul(all.Inputs[l].MT, all.Grads[l] * cLast);
                if (sNew is not null) sNew[l] = eLast! * state.Momentum![l] - Tensor.Matmul(all.Inputs[l].MT, all.Grads[l] * eRow!);
            }
            state.Weights = wNew;
            if (sNew is not null) state.Momentum = sNew;
        }
        return (f, all);
    }

    /// <summary>One mini-batch in the primal form: gradients at the starting weights, then explicit updates token by
    /// token (S_t = μ_t S_{t−1} − θ_t G_t; M_t = (1 − α_t) M_{t−1} + S_t; plain: M_t = M_{t−1} − θ_t G_t), each
    /// token's output read from M_t.</summary>
    Tensor MiniBatchPrimal(FastWeightState state, Views v, bool complete)
    {
        int n = v.Q.Shape[2];
        var w0 = state.Weights;
        var m = (Tensor[])w0.Clone();
        var s = state.Momentum is null ? null : (Tensor[])state.Momentum.Clone();
        var outs = new List<Tensor>();
        for (int i = 0; i < n; i++)
        {
            Tensor Row(Tensor y) => y.Narrow(2, i, 1);
            var (_, inputs, grads) = Inner(w0, Row(v.K), Row(v.V));
            var theta = Row(v.Theta);
            for (int l = 0; l < m.Length; l++)
            {
                var step = Tensor.Matmul(inputs[l].MT, grads![l]) * theta; // θ_t X_tᵀ G_t
                if (s is not null) { s[l] = s[l] * Row(v.LogMomentum!).Exp() - step; step = -s[l]; }
                m[l] = (v.LogRetain is null ? m[l] : m[l] * Row(v.LogRetain).Exp()) - step;
            }
            outs.Add(Inner(m, Row(v.Q), null).F);
        }
        if (complete) { state.Weights = m; if (s is not null) state.Momentum = s; }
        return Tensor.Concat(outs, 2);
    }
}
