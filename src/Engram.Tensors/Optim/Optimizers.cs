// SGD (momentum, Nesterov, L2 weight decay), Adam (L2) / AdamW (decoupled), and Adam-atan2
// (update = a·atan2(m̂, b·√v̂): scale-invariant, no ε; Everett et al. 2024, used by HRM and TRM).
// Formulas follow PyTorch's single-tensor implementations so golden files match.
using System.Numerics;

namespace Engram.Tensors.Optim;

public sealed class Sgd(IEnumerable<Tensor> parameters, double lr, double momentum = 0, double dampening = 0, bool nesterov = false, double weightDecay = 0)
    : Optimizer(parameters, lr, weightDecay)
{
    public double Momentum { get; } = momentum;
    protected override string[] Slots => ["momentum_buffer"];
    protected override void Update(int i, Span<float> p, ReadOnlySpan<float> g) => Apply(i, p, g);
    protected override void Update(int i, Span<double> p, ReadOnlySpan<double> g) => Apply(i, p, g);

    void Apply<T>(int i, Span<T> p, ReadOnlySpan<T> g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T lr = T.CreateTruncating(LearningRate), wd = T.CreateTruncating(WeightDecay), mu = T.CreateTruncating(Momentum), damp = T.One - T.CreateTruncating(dampening);
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

    public Adam(IEnumerable<Tensor> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0, bool decoupled = false)
        : base(parameters, lr, weightDecay) { Beta1 = beta1; Beta2 = beta2; Eps = eps; Decoupled = decoupled; }

    protected override string[] Slots => ["exp_avg", "exp_avg_sq"];
    protected override void Update(int i, Span<float> p, ReadOnlySpan<float> g) => Apply(i, p, g);
    protected override void Update(int i, Span<double> p, ReadOnlySpan<double> g) => Apply(i, p, g);

    void Apply<T>(int i, Span<T> p, ReadOnlySpan<T> g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var m = State<T>(i, "exp_avg"); var v = State<T>(i, "exp_avg_sq");
        T b1 = T.CreateTruncating(Beta1), b2 = T.CreateTruncating(Beta2), lr = T.CreateTruncating(LearningRate), wd = T.CreateTruncating(WeightDecay);
        double bc1 = 1 - PortableMath.PowInt(Beta1, StepCount), bc2 = 1 - PortableMath.PowInt(Beta2, StepCount);
        T stepSize = T.CreateTruncating(LearningRate / bc1), bc2Sqrt = T.CreateTruncating(Math.Sqrt(bc2)), eps = T.CreateTruncating(Eps);
        T decay = T.One - lr * wd;
        for (int k = 0; k < p.Length; k++)
        {
            T grad = g[k];
            if (Decoupled) p[k] *= decay; else grad += wd * p[k];
            m[k] += (grad - m[k]) * (T.One - b1);
            v[k] = v[k] * b2 + (T.One - b2) * grad * grad;
            p[k] -= stepSize * (m[k] / (T.Sqrt(v[k]) / bc2Sqrt + eps));
        }
    }
}

public sealed class AdamW(IEnumerable<Tensor> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0.01)
    : Adam(parameters, lr, beta1, beta2, eps, weightDecay, decoupled: true);

/// <summary>Adam-atan2: p ← p·(1 − lr·wd) − lr·a·atan2(m̂, b·√v̂). Defaults a = b = 1.</summary>
public sealed class AdamAtan2(IEnumerable<Tensor> parameters, double lr = 1e-4, double beta1 = 0.9, double beta2 = 0.95, double weightDecay = 0.1, double a = 1, double b = 1)
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
        T b1 = T.CreateTruncating(Beta1), b2 = T.CreateTruncating(Beta2), lr = T.CreateTruncating(LearningRate);
        T decay = T.One - lr * T.CreateTruncating(WeightDecay);
        T bc1 = T.CreateTruncating(1 - PortableMath.PowInt(Beta1, StepCount)), bc2 = T.CreateTruncating(1 - PortableMath.PowInt(Beta2, StepCount));
        T sa = T.CreateTruncating(a), sb = T.CreateTruncating(b);
        for (int k = 0; k < p.Length; k++)
        {
            p[k] *= decay;
            m[k] += (g[k] - m[k]) * (T.One - b1);
            v[k] = v[k] * b2 + (T.One - b2) * g[k] * g[k];
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
