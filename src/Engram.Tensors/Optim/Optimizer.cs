// Optimizers update parameters in place from their .Grad. Each keeps its per-parameter state as tensors
// (named "{index}.{slot}") so a checkpoint can save and restore it exactly.
namespace Engram.Tensors.Optim;

public abstract class Optimizer
{
    public IReadOnlyList<Tensor> Parameters { get; }
    public double LearningRate { get; set; }
    public double WeightDecay { get; set; }
    /// <summary>Number of Step() calls so far (Adam's bias correction uses it).</summary>
    public long StepCount { get; protected set; }
    /// <summary>Optional schedule; when set, each Step() first sets LearningRate = Schedule(StepCount).</summary>
    public ILearningRateSchedule? Schedule { get; set; }

    protected Optimizer(IEnumerable<Tensor> parameters, double lr, double weightDecay)
    {
        Parameters = parameters.ToList();
        foreach (var p in Parameters)
        {
            if (!p.IsLeaf) throw new EngramException($"optimizer: parameter {p.Name ?? p.ShapeText} is not a leaf tensor");
            if (!p.IsContiguous) throw new EngramException($"optimizer: parameter {p.Name ?? p.ShapeText} must be contiguous");
        }
        LearningRate = lr; WeightDecay = weightDecay;
    }

    /// <summary>Zeroes the gradients in place, keeping their buffers so the next backward allocates nothing (a parameter
    /// that then receives no gradient is stepped with a zero gradient). setToNone: drop them instead (such a parameter is
    /// skipped).</summary>
    public void ZeroGrad(bool setToNone = false) => Tensor.ZeroGradients(Parameters, setToNone);

    public void Step()
    {
        if (Schedule is not null) LearningRate = Schedule.At(StepCount);
        StepCount++;
        for (int i = 0; i < Parameters.Count; i++)
        {
            var p = Parameters[i];
            if (p.Grad is null) continue;
            var g = p.Grad.To(p.DType).Contiguous();
            if (p.DType == DType.Float32) Update(i, p.Span<float>(), g.Span<float>());
            else Update(i, p.Span<double>(), g.Span<double>());
        }
    }

    /// <summary>Updates parameter i in place from gradient g (same length).</summary>
    protected abstract void Update(int index, Span<float> p, ReadOnlySpan<float> g);
    protected abstract void Update(int index, Span<double> p, ReadOnlySpan<double> g);

    /// <summary>Per-parameter state slots (e.g. "exp_avg"); each slot is a tensor shaped like the parameter.</summary>
    protected abstract string[] Slots { get; }
    readonly Dictionary<(int, string), Tensor> _state = new();

    protected Span<T> State<T>(int index, string slot) where T : unmanaged
    {
        if (!_state.TryGetValue((index, slot), out var t))
            using (TensorScope.Suspend()) _state[(index, slot)] = t = Tensor.Zeros(Parameters[index].Shape, Parameters[index].DType);
        return t.Span<T>();
    }

    protected bool HasState(int index, string slot) => _state.ContainsKey((index, slot));

    /// <summary>State tensors keyed "{index}.{slot}" plus scalar hyperparameters.</summary>
    public Dictionary<string, Tensor> StateTensors()
    {
        var d = new Dictionary<string, Tensor>();
        foreach (var ((i, slot), t) in _state.OrderBy(kv => kv.Key.Item1).ThenBy(kv => kv.Key.Item2, StringComparer.Ordinal))
            d[$"{i}.{slot}"] = t;
        return d;
    }

    public Dictionary<string, string> Hyperparameters() => new()
    {
        ["type"] = GetType().Name,
        ["lr"] = LearningRate.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        ["weight_decay"] = WeightDecay.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        ["step"] = StepCount.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>Restores state saved by StateTensors()/Hyperparameters(); validates everything before changing anything.</summary>
    public void LoadState(IReadOnlyDictionary<string, Tensor> state, IReadOnlyDictionary<string, string> hyper)
    {
        if (!hyper.TryGetValue("type", out var type) || type != GetType().Name)
            throw new InvalidFileException($"optimizer state is for '{(hyper.TryGetValue("type", out var t) ? t : "?")}', not " +
                $"{GetType().Name}");
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        if (!hyper.TryGetValue("step", out var stepText)
            || !long.TryParse(stepText, System.Globalization.NumberStyles.Integer, inv, out var step) || step < 0)
            throw new InvalidFileException("optimizer state: missing or invalid step");
        var parsed = new Dictionary<(int, string), Tensor>();
        foreach (var (key, t) in state)
        {
            int dot = key.IndexOf('.');
            if (dot <= 0 || !int.TryParse(key.AsSpan(0, dot), System.Globalization.NumberStyles.None, inv, out int i)
                || i >= Parameters.Count)
                throw new InvalidFileException($"optimizer state: key '{key}' names no parameter (have {Parameters.Count})");
            string slot = key[(dot + 1)..];
            if (Array.IndexOf(Slots, slot) < 0)
                throw new InvalidFileException($"optimizer state: unknown slot '{slot}' for {GetType().Name}");
            if (!Tensor.SameShape(t, Parameters[i]))
                throw new InvalidFileException($"optimizer state: '{key}' has shape {t.ShapeText}, parameter {i} has " +
                    $"{Parameters[i].ShapeText}");
            parsed[(i, slot)] = t.To(Parameters[i].DType).CloneDetached();
        }
        _state.Clear();
        foreach (var kv in parsed) _state[kv.Key] = kv.Value;
        StepCount = step;
        if (hyper.TryGetValue("lr", out var lr) && double.TryParse(lr, System.Globalization.NumberStyles.Float, inv, out var lrv))
            LearningRate = lrv;
        if (hyper.TryGetValue("weight_decay", out var wd) && double.TryParse(wd, System.Globalization.NumberStyles.Float, inv, out var wdv))
            WeightDecay = wdv;
    }

    /// <summary>Scales all gradients so their global L2 norm is at most maxNorm; returns the norm before clipping.</summary>
    public static double ClipGradNorm(IEnumerable<Tensor> parameters, double maxNorm)
    {
        var ps = parameters as IReadOnlyList<Tensor> ?? parameters.ToList(); // indexed below: no enumerator boxed per step
        double sq = 0;
        for (int i = 0; i < ps.Count; i++)
        {
            if (ps[i].Grad is not { } grad) continue;
            var g = grad.Contiguous();
            if (g.DType == DType.Float32) foreach (var v in g.Span<float>()) sq += (double)v * v;
            else foreach (var v in g.Span<double>()) sq += v * v;
        }
        double norm = Math.Sqrt(sq);
        if (norm > maxNorm && double.IsFinite(norm))
        {
            double scale = maxNorm / (norm + 1e-6);
            using var persistent = TensorScope.Suspend();
            for (int i = 0; i < ps.Count; i++)
            {
                var p = ps[i];
                if (p.Grad is null) continue;
                if (p.Grad.IsContiguous && !p.Grad.RequiresGrad)
                {
                    if (p.Grad.DType == DType.Float32)
                        System.Numerics.Tensors.TensorPrimitives.Multiply(p.Grad.Span<float>(), (float)scale, p.Grad.Span<float>());
                    else
                        System.Numerics.Tensors.TensorPrimitives.Multiply(p.Grad.Span<double>(), scale, p.Grad.Span<double>());
                }
                else using (Autograd.NoGrad()) p.Grad = (p.Grad * scale).CloneDetached();
            }
        }
        return norm;
    }
}
