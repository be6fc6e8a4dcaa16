// SGD (momentum, Nesterov, L2 weight decay), Adam (L2) / AdamW (decoupled), and Adam-atan2
// (update = a·atan2(m̂, b·√v̂): scale-invariant, no ε; Everett et al. 2024, used by HRM and TRM).
// Formulas follow PyTorch's single-tensor implementations so golden files match. Constants such as 1 − β are computed
// in double and rounded once to the parameter type, as PyTorch does with its Python-float hyperparameters (1f − 0.999f
// would be 1.3e-5 off in relative terms, because 0.999 is rounded before the subtraction).
using System.Numerics;
using System.Runtime.Intrinsics;

namespace Engram.Tensors.Optim;

public sealed class Sgd(IEnumerable<Tensor> parameters, double lr, double momentum = 0, double dampening = 0, bool nesterov = false,
    double weightDecay = 0)
    : Optimizer(parameters, lr, weightDecay)
{
    public double Momentum { get; } = momentum;
    protected override string[] Slots => ["momentum_buffer"];
    protected override void Update(int i, Span<float> p, ReadOnlySpan<float> g) => Apply(i, p, g);
    protected override void Update(int i, Span<double> p, ReadOnlySpan<double> g) => Apply(i, p, g);

    void Apply<T>(int i, Span<T> p, ReadOnlySpan<T> g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T lr = T.CreateTruncating(LearningRate), wd = T.CreateTruncating(WeightDecay), mu = T.CreateTruncating(Momentum);
        T damp = T.CreateTruncating(1 - dampening);
        bool fresh = !HasState(i, "momentum_buffer");
        var buf = Momentum != 0 ? State<T>(i, "momentum_buffer") : default;
        for (int k = 0; k < p.Length; k++)
        {
            T d = g[k] + wd * p[k];
            if (Momentum != 0)
            {
                buf[k] = fresh ? d : mu * buf[k] + damp * d;
                d = nesterov ? d + mu * buf[k] : buf[k];
            }
            p[k] -= lr * d;
        }
    }
}

public class Adam : Optimizer
{
    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Eps { get; }
    /// <summary>True: decoupled weight decay (AdamW); false: L2 added to the gradient (Adam).</summary>
    public bool Decoupled { get; }

    public Adam(IEnumerable<Tensor> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
        double weightDecay = 0, bool decoupled = false)
        : base(parameters, lr, weightDecay) { Beta1 = beta1; Beta2 = beta2; Eps = eps; Decoupled = decoupled; }

    protected override string[] Slots => ["exp_avg", "exp_avg_sq"];
    protected override void Update(int i, Span<float> p, ReadOnlySpan<float> g)
    {
        var c = Constants<float>();
        AdamKernel.Update(p, g, State<float>(i, "exp_avg"), State<float>(i, "exp_avg_sq"), c.OneMinusB1, c.B2, c.OneMinusB2, c.Wd,
            c.StepSize, c.Bc2Sqrt, c.Eps, c.Decay, Decoupled);
    }

    protected override void Update(int i, Span<double> p, ReadOnlySpan<double> g) => Apply(i, p, g);

    (T OneMinusB1, T B2, T OneMinusB2, T Wd, T StepSize, T Bc2Sqrt, T Eps, T Decay) Constants<T>()
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T lr = T.CreateTruncating(LearningRate), wd = T.CreateTruncating(WeightDecay);
        double bc1 = 1 - PortableMath.PowInt(Beta1, StepCount), bc2 = 1 - PortableMath.PowInt(Beta2, StepCount);
        return (T.CreateTruncating(1 - Beta1), T.CreateTruncating(Beta2), T.CreateTruncating(1 - Beta2), wd,
            T.CreateTruncating(LearningRate / bc1), T.CreateTruncating(Math.Sqrt(bc2)), T.CreateTruncating(Eps), T.One - lr * wd);
    }

    /// <summary>The scalar update, element by element (float64 parameters): AdamKernel.UpdateReference.</summary>
    void Apply<T>(int i, Span<T> p, ReadOnlySpan<T> g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var c = Constants<T>();
        AdamKernel.UpdateReference(p, g, State<T>(i, "exp_avg"), State<T>(i, "exp_avg_sq"), c.OneMinusB1, c.B2, c.OneMinusB2, c.Wd,
            c.StepSize, c.Bc2Sqrt, c.Eps, c.Decay, Decoupled);
    }
}

/// <summary>The Adam/AdamW element update. The float32 version runs on vectors with exactly the scalar sequence of
/// IEEE operations per element (no fused multiply-adds), so it gives the same bits on every SIMD width. It takes 1 − β₁
/// and 1 − β₂ ready made (computed in double by the caller and rounded once) besides β₂.</summary>
public static class AdamKernel
{
    /// <summary>The reference: the update element by element, any float type. Update (float32) must give its bits; it
    /// also serves float64 parameters and the vector kernel's tail.</summary>
    public static void UpdateReference<T>(Span<T> p, ReadOnlySpan<T> g, Span<T> m, Span<T> v, T oneMinusB1, T b2, T oneMinusB2, T wd,
        T stepSize, T bc2Sqrt, T eps, T decay, bool decoupled)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T omb1 = oneMinusB1, omb2 = oneMinusB2;
        for (int k = 0; k < p.Length; k++)
        {
            T grad = g[k];
            if (decoupled) p[k] *= decay; else grad += wd * p[k];
            m[k] += (grad - m[k]) * omb1;
            v[k] = v[k] * b2 + omb2 * grad * grad;
            p[k] -= stepSize * (m[k] / (T.Sqrt(v[k]) / bc2Sqrt + eps));
        }
    }

    public static unsafe void Update(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v, float oneMinusB1, float b2,
        float oneMinusB2, float wd, float stepSize, float bc2Sqrt, float eps, float decay, bool decoupled)
    {
        int n = p.Length, k = 0;
        float omb1 = oneMinusB1, omb2 = oneMinusB2;
        fixed (float* pp = p, pg = g, pm = m, pv = v)
        {
            if (Vector512.IsHardwareAccelerated)
                for (; k + 16 <= n; k += 16)
                {
                    var grad = Vector512.Load(pg + k); var x = Vector512.Load(pp + k);
                    if (decoupled) x *= decay; else grad += Vector512.Create(wd) * x;
                    var mm = Vector512.Load(pm + k); mm += (grad - mm) * omb1;
                    var vv = Vector512.Load(pv + k); vv = vv * b2 + Vector512.Create(omb2) * grad * grad;
                    x -= Vector512.Create(stepSize) * (mm / (Vector512.Sqrt(vv) / bc2Sqrt + Vector512.Create(eps)));
                    mm.Store(pm + k); vv.Store(pv + k); x.Store(pp + k);
                }
            if (Vector256.IsHardwareAccelerated)
                for (; k + 8 <= n; k += 8)
                {
                    var grad = Vector256.Load(pg + k); var x = Vector256.Load(pp + k);
                    if (decoupled) x *= decay; else grad += Vector256.Create(wd) * x;
                    var mm = Vector256.Load(pm + k); mm += (grad - mm) * omb1;
                    var vv = Vector256.Load(pv + k); vv = vv * b2 + Vector256.Create(omb2) * grad * grad;
                    x -= Vector256.Create(stepSize) * (mm / (Vector256.Sqrt(vv) / bc2Sqrt + Vector256.Create(eps)));
                    mm.Store(pm + k); vv.Store(pv + k); x.Store(pp + k);
                }
            if (Vector128.IsHardwareAccelerated)
                for (; k + 4 <= n; k += 4)
                {
                    var grad = Vector128.Load(pg + k); var x = Vector128.Load(pp + k);
                    if (decoupled) x *= decay; else grad += Vector128.Create(wd) * x;
                    var mm = Vector128.Load(pm + k); mm += (grad - mm) * omb1;
                    var vv = Vector128.Load(pv + k); vv = vv * b2 + Vector128.Create(omb2) * grad * grad;
                    x -= Vector128.Create(stepSize) * (mm / (Vector128.Sqrt(vv) / bc2Sqrt + Vector128.Create(eps)));
                    mm.Store(pm + k); vv.Store(pv + k); x.Store(pp + k);
                }
        }
        UpdateReference(p[k..], g[k..], m[k..], v[k..], oneMinusB1, b2, oneMinusB2, wd, stepSize, bc2Sqrt, eps, decay, decoupled);
    }
}

public sealed class AdamW(IEnumerable<Tensor> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
    double weightDecay = 0.01)
    : Adam(parameters, lr, beta1, beta2, eps, weightDecay, decoupled: true);

/// <summary>Adam-atan2: p ← p·(1 − lr·wd) − lr·a·atan2(m̂, b·√v̂). Defaults a = b = 1.</summary>
public sealed class AdamAtan2(IEnumerable<Tensor> parameters, double lr = 1e-4, double beta1 = 0.9, double beta2 = 0.95,
    double weightDecay = 0.1, double a = 1, double b = 1)
    : Optimizer(parameters, lr, weightDecay)
{
    public double Beta1 { get; } = beta1;
    public double Beta2 { get; } = beta2;
    protected override string[] Slots => ["exp_avg", "exp_avg_sq"];
    protected override void Update(int i, Span<float> p, ReadOnlySpan<float> g) => Apply(i, p, g);
    protected override void Update(int i, Span<double> p, ReadOnlySpan<double> g) => Apply(i, p, g);

    void Apply<T>(int i, Span<T> p, ReadOnlySpan<T> g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var m = State<T>(i, "exp_avg"); var v = State<T>(i, "exp_avg_sq");
        T omb1 = T.CreateTruncating(1 - Beta1), b2 = T.CreateTruncating(Beta2), omb2 = T.CreateTruncating(1 - Beta2);
        T lr = T.CreateTruncating(LearningRate);
        T decay = T.One - lr * T.CreateTruncating(WeightDecay);
        T bc1 = T.CreateTruncating(1 - PortableMath.PowInt(Beta1, StepCount)),
            bc2 = T.CreateTruncating(1 - PortableMath.PowInt(Beta2, StepCount));
        T sa = T.CreateTruncating(a), sb = T.CreateTruncating(b);
        for (int k = 0; k < p.Length; k++)
        {
            p[k] *= decay;
            m[k] += (g[k] - m[k]) * omb1;
            v[k] = v[k] * b2 + omb2 * g[k] * g[k];
            p[k] -= lr * sa * T.Atan2(m[k] / bc1, sb * T.Sqrt(v[k] / bc2));
        }
    }
}

/// <summary>Learning rate as a function of the number of completed steps.</summary>
public interface ILearningRateSchedule { double At(long step); }

/// <summary>Linear warm-up from 0 to baseLr over warmupSteps, then constant.</summary>
public sealed record WarmupConstant(double BaseLr, long WarmupSteps) : ILearningRateSchedule
{
    public double At(long step) => WarmupSteps > 0 && step < WarmupSteps ? BaseLr * (step + 1) / WarmupSteps : BaseLr;
}

/// <summary>Linear warm-up, then cosine decay from baseLr to minLr at totalSteps (minLr after).</summary>
public sealed record WarmupCosine(double BaseLr, long WarmupSteps, long TotalSteps, double MinLr = 0) : ILearningRateSchedule
{
    public double At(long step)
    {
        if (WarmupSteps > 0 && step < WarmupSteps) return BaseLr * (step + 1) / WarmupSteps;
        if (step >= TotalSteps) return MinLr;
        double progress = (double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps);
        return MinLr + (BaseLr - MinLr) * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }
}
