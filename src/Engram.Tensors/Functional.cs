// Neural-network functions built from differentiable primitives (so gradients of gradients come free):
// losses, normalisations, rotary embeddings, scaled dot-product attention, dropout.
namespace Engram.Tensors;

public enum AttentionMask { None, Causal, SlidingWindow }

public static class Functional
{
    /// <summary>Mean cross-entropy of logits [..., C] against class indices (one per row); rows whose target is
    /// ignoreIndex contribute nothing and are not counted (all ignored gives NaN, as PyTorch, with zero gradients;
    /// the fused path and the reference agree).</summary>
    public static Tensor CrossEntropy(Tensor logits, int[] targets, int ignoreIndex = -100)
        => UseFused ? Fused.CrossEntropy(logits, targets, ignoreIndex) : CrossEntropyReference(logits, targets, ignoreIndex);

    public static Tensor CrossEntropyReference(Tensor logits, int[] targets, int ignoreIndex = -100)
        => NllFromLogProbs(logits, targets, ignoreIndex, "CrossEntropy", l => l.LogSoftmax(-1));

    /// <summary>Stablemax cross-entropy (HRM): s(x) = x + 1 for x ≥ 0, 1/(1 − x) otherwise; p = s(x)/Σ s(x);
    /// computed in float64 and returned in the logits' dtype.</summary>
    public static Tensor StablemaxCrossEntropy(Tensor logits, int[] targets, int ignoreIndex = -100)
        => NllFromLogProbs(logits, targets, ignoreIndex, "StablemaxCrossEntropy", l =>
        {
            var x = l.To(DType.Float64);
            var s = Tensor.Where(x.Ge(0), x.Clamp(min: 0) + 1.0, 1.0 / (1.0 - x.Clamp(max: 0)));
            return s.Log() - s.Sum(-1, keepDim: true).Log();
        }).To(logits.DType);

    /// <summary>Checks targets against logits [..., C]; returns (rows, classes, count of non-ignored rows).</summary>
    internal static (int Rows, int Classes, int Count) CheckTargets(Tensor logits, int[] targets, int ignoreIndex, string op)
    {
        if (logits.Rank < 1) throw new ShapeMismatchException($"{op}: logits must have a class dimension, got {logits.ShapeText}");
        int C = logits.Shape[^1], rows = C == 0 ? 0 : logits.Numel / C, count = 0;
        if (targets.Length != rows)
            throw new ShapeMismatchException($"{op}: {targets.Length} targets for logits {logits.ShapeText} ({rows} rows of {C} classes)");
        for (int i = 0; i < rows; i++)
        {
            if (targets[i] == ignoreIndex) continue;
            if ((uint)targets[i] >= (uint)C) throw new ShapeMismatchException($"{op}: target {targets[i]} at row {i} is outside [0, {C})");
            count++;
        }
        return (rows, C, count);
    }

    static Tensor NllFromLogProbs(Tensor logits, int[] targets, int ignoreIndex, string op, Func<Tensor, Tensor> logProbs)
    {
        var (rows, C, count) = CheckTargets(logits, targets, ignoreIndex, op);
        var safe = new int[rows]; var keep = new double[rows];
        for (int i = 0; i < rows; i++)
            if (targets[i] != ignoreIndex) { safe[i] = targets[i]; keep[i] = 1; }
        var lp = logProbs(logits.Reshape(rows, C));
        var picked = lp.Gather(1, safe, [rows, 1]).Reshape(rows);
        var mask = Tensor.FromArray(keep, rows).To(lp.DType);
        var total = -(picked * mask).Sum();
        // Every target ignored: the mean over no rows is NaN (as PyTorch, and as the fused path), but no row contributes
        // any gradient — total·(1/0) would make the gradient 0·∞ = NaN, so the NaN is added to a zero-weighted total.
        return count > 0 ? total * (1.0 / count) : (total * 0.0).AddScalar(double.NaN);
    }

    /// <summary>Mean squared error.</summary>
    public static Tensor MseLoss(Tensor prediction, Tensor target) => (prediction - target).Square().Mean();

    /// <summary>Binary cross-entropy on logits, mean over elements: softplus(x) − x·t, softplus computed stably as
    /// max(x,0) + log(1 + e^−|x|). Written with softplus, whose derivative is σ(x), the gradient is (σ(x) − t)/N
    /// everywhere, x = 0 included (max and |x| written out separately would take a subgradient there), and it is
    /// itself differentiable.</summary>
    public static Tensor BinaryCrossEntropyWithLogits(Tensor logits, Tensor targets)
        => (logits.Softplus() - logits * targets).Mean();

    /// <summary>RMSNorm over the last dimension: x / √(mean(x²) + eps) · weight (weight optional).</summary>
    public static Tensor RmsNorm(Tensor x, Tensor? weight = null, double eps = 1e-6)
    {
        if (weight is not null && (weight.Rank != 1 || weight.Shape[0] != x.Shape[^1] || weight.DType != x.DType))
            throw new ShapeMismatchException($"RmsNorm: weight {weight.ShapeText} ({weight.DType}) does not match the last dimension of " +
                $"x {x.ShapeText} ({x.DType})");
        return UseFused ? Fused.RmsNorm(x, weight, eps) : RmsNormReference(x, weight, eps);
    }

    public static Tensor RmsNormReference(Tensor x, Tensor? weight, double eps)
    {
        var y = x * (x.Square().Mean(-1, keepDim: true) + eps).Rsqrt();
        return weight is null ? y : y * weight;
    }

    /// <summary>LayerNorm over the last dimension with optional affine weight and bias (biased variance, as PyTorch).</summary>
    public static Tensor LayerNorm(Tensor x, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        var mu = x.Mean(-1, keepDim: true);
        var centered = x - mu;
        var y = centered * (centered.Square().Mean(-1, keepDim: true) + eps).Rsqrt();
        if (weight is not null) y = y * weight;
        if (bias is not null) y = y + bias;
        return y;
    }

    /// <summary>Cos and sin tables [T, D] for rotary embeddings at positions start..start+T−1 (frequency base^(−2i/D),
    /// each frequency repeated for both halves, the "rotate half" layout).</summary>
    public static (Tensor Cos, Tensor Sin) RotaryTables(int positions, int dim, double theta = 10000, int start = 0,
        DType dtype = DType.Float32)
    {
        if (dim % 2 != 0) throw new ShapeMismatchException($"RotaryTables: head dimension must be even, got {dim}");
        var cos = new double[positions * dim]; var sin = new double[positions * dim];
        int half = dim / 2;
        for (int t = 0; t < positions; t++)
            for (int i = 0; i < half; i++)
            {
                // θ^(−2i/D) and the sine/cosine come from PortableMath: the same tables on every machine.
                double angle = (start + t) * PortableMath.Exp(-2.0 * i / dim * PortableMath.Log(theta));
                var (sn, cs) = PortableMath.SinCos(angle);
                cos[t * dim + i] = cos[t * dim + i + half] = cs;
                sin[t * dim + i] = sin[t * dim + i + half] = sn;
            }
        return (Tensor.FromArray(cos, positions, dim).To(dtype), Tensor.FromArray(sin, positions, dim).To(dtype));
    }

    /// <summary>Applies rotary position embeddings to x [..., T, D]: x·cos + rotate_half(x)·sin,
    /// rotate_half(x) = [−x₂, x₁].</summary>
    public static Tensor ApplyRotary(Tensor x, Tensor cos, Tensor sin)
    {
        int D = x.Shape[^1];
        if (x.Rank < 2 || D % 2 != 0 || cos.Rank != 2 || !Tensor.SameShapeAs(cos, sin) || cos.Shape[^1] != D
            || cos.Shape[^2] != x.Shape[^2])
            throw new ShapeMismatchException($"ApplyRotary: tables {cos.ShapeText} and {sin.ShapeText} do not match x {x.ShapeText} " +
                "(need [T, D] with D even)");
        return UseFused && !cos.RequiresGrad && !sin.RequiresGrad ? Fused.Rotary(x, cos, sin) : ApplyRotaryReference(x, cos, sin);
    }

    public static Tensor ApplyRotaryReference(Tensor x, Tensor cos, Tensor sin)
    {
        int D = x.Shape[^1];
        var halves = x.Split(D / 2, -1);
        var rotated = Tensor.Concat([-halves[1], halves[0]], -1);
        return x * cos + rotated * sin;
    }

    /// <summary>Mask [Tq, Tk] with 1 where a query may NOT attend. Queries align to the end of the keys (query i sits
    /// at key position i + Tk − Tq). Causal: keys after the query are hidden; SlidingWindow(W): also keys W or more behind.</summary>
    public static Tensor AttentionBlockMask(int tq, int tk, AttentionMask kind, int window, DType dtype)
    {
        var m = new double[tq * tk];
        for (int i = 0; i < tq; i++)
        {
            int pos = i + tk - tq;
            for (int j = 0; j < tk; j++)
            {
                bool hidden = kind switch
                {
                    AttentionMask.Causal => j > pos,
                    AttentionMask.SlidingWindow => j > pos || j <= pos - window,
                    _ => false,
                };
                m[i * tk + j] = hidden ? 1 : 0;
            }
        }
        return Tensor.FromArray(m, tq, tk).To(dtype);
    }

    /// <summary>Use fused kernels (attention tile by tile, RMSNorm, cross-entropy, SwiGLU) where they apply (default).
    /// Off: the references built from primitives (Functional.*Reference) — slower, used by tests and benchmarks as the baseline.
    /// A per-thread setting, like the no-grad scope.</summary>
    public static bool UseFused { get => !_referenceOnly; set => _referenceOnly = !value; }
    [ThreadStatic] static bool _referenceOnly;

    /// <summary>softmax(q·kᵀ·scale + mask)·v for q [..., Tq, d], k [..., Tk, d], v [..., Tk, dv]. Scale defaults to 1/√d.
    /// Float32 inputs with equal batch dimensions run the fused kernel (no Tq×Tk matrix); otherwise AttentionReference.</summary>
    public static Tensor ScaledDotProductAttention(Tensor q, Tensor k, Tensor v, AttentionMask mask = AttentionMask.None, int window = 0,
        double? scale = null)
    {
        if (q.Rank < 2 || k.Rank < 2 || v.Rank < 2)
            throw new ShapeMismatchException($"attention: q, k, v need [..., T, d], got {q.ShapeText}, {k.ShapeText}, {v.ShapeText}");
        if (q.Shape[^1] != k.Shape[^1])
            throw new ShapeMismatchException($"attention: q {q.ShapeText} and k {k.ShapeText} differ in head dimension");
        if (k.Shape[^2] != v.Shape[^2])
            throw new ShapeMismatchException($"attention: k {k.ShapeText} and v {v.ShapeText} differ in length");
        if (mask == AttentionMask.SlidingWindow && window <= 0)
            throw new ShapeMismatchException($"attention: sliding window needs window ≥ 1, got {window}");
        if (mask != AttentionMask.None && q.Shape[^2] > k.Shape[^2])
            throw new ShapeMismatchException($"attention: with a {mask} mask there must be at least as many keys as queries (q " +
                $"{q.ShapeText}, k {k.ShapeText}); queries before the first key would see nothing");
        double s = scale ?? 1.0 / Math.Sqrt(q.Shape[^1]);
        bool sameBatch = q.Shape[..^2].SequenceEqual(k.Shape[..^2]) && k.Shape[..^2].SequenceEqual(v.Shape[..^2]);
        if (UseFused && q.DType == DType.Float32 && k.DType == DType.Float32 && v.DType == DType.Float32 && sameBatch)
            return Tensor.FusedAttention(q, k, v, mask, window, s);
        return AttentionReference(q, k, v, mask, window, s);
    }

    /// <summary>The reference: softmax(q·kᵀ·scale + mask)·v from differentiable primitives (materialises Tq×Tk).</summary>
    public static Tensor AttentionReference(Tensor q, Tensor k, Tensor v, AttentionMask mask, int window, double scale)
        => Tensor.Matmul(AttentionProbabilities(q, k, mask, window, scale), v);

    internal static Tensor AttentionProbabilities(Tensor q, Tensor k, AttentionMask mask, int window, double scale)
    {
        var scores = Tensor.Matmul(q, k.MT) * scale;
        if (mask != AttentionMask.None)
            scores = scores.MaskedFill(AttentionBlockMask(q.Shape[^2], k.Shape[^2], mask, window, q.DType), double.NegativeInfinity);
        return scores.Softmax(-1);
    }

    /// <summary>SwiGLU gating: silu(gate) ⊙ up.</summary>
    public static Tensor SwiGlu(Tensor gate, Tensor up)
    {
        if (!Tensor.SameShapeAs(gate, up) || gate.DType != up.DType)
            throw new ShapeMismatchException($"SwiGlu: gate {gate.ShapeText} and up {up.ShapeText} must have the same shape and dtype");
        return UseFused ? Fused.SwiGlu(gate, up) : SwiGluReference(gate, up);
    }

    public static Tensor SwiGluReference(Tensor gate, Tensor up) => gate.Silu() * up;

    /// <summary>Inverted dropout: zeroes each element with probability p and scales the rest by 1/(1−p); identity when not
    /// training.</summary>
    public static Tensor Dropout(Tensor x, double p, bool training, Generator generator)
    {
        if (p < 0 || p >= 1) throw new EngramException($"Dropout: p must be in [0, 1), got {p}");
        if (!training || p == 0) return x;
        var keep = new double[x.Numel];
        for (int i = 0; i < keep.Length; i++) keep[i] = generator.NextDouble() >= p ? 1.0 / (1 - p) : 0;
        return x * Tensor.FromArray(keep, x.Shape.ToArray()).To(x.DType);
    }
}
