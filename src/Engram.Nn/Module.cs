// Module: a named tree of parameters and submodules. State-dict names follow PyTorch's convention
// ("layers.0.attn.q_proj.weight"), so weights move between Engram and PyTorch through safetensors.
using Engram.Tensors;

namespace Engram.Nn;

public abstract class Module
{
    readonly List<(string Name, Tensor Param)> _params = new();
    readonly List<(string Name, Module Child)> _children = new();

    /// <summary>Training mode (dropout active, etc.); set recursively by Train()/Eval().</summary>
    public bool Training { get; private set; } = true;

    protected Tensor RegisterParameter(string name, Tensor value)
    {
        CheckName(name);
        value.RequiresGrad = true;
        value.Name ??= name;
        _params.Add((name, value));
        return value;
    }

    protected T RegisterModule<T>(string name, T module) where T : Module
    {
        CheckName(name);
        _children.Add((name, module));
        return module;
    }

    void CheckName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('.'))
            throw new EngramException($"module: invalid name '{name}' (non-empty, no dots)");
        if (_params.Any(p => p.Name == name) || _children.Any(c => c.Name == name))
            throw new EngramException($"module: name '{name}' registered twice in {GetType().Name}");
    }

    /// <summary>All parameters with dotted names, in registration order (depth first).</summary>
    public IEnumerable<(string Name, Tensor Param)> NamedParameters(string prefix = "")
    {
        foreach (var (n, p) in _params) yield return (prefix + n, p);
        foreach (var (n, c) in _children)
            foreach (var x in c.NamedParameters(prefix + n + ".")) yield return x;
    }

    public IEnumerable<Tensor> Parameters() => NamedParameters().Select(x => x.Param);
    public IEnumerable<(string Name, Module Child)> Children() => _children;
    public long ParameterCount() => Parameters().Sum(p => (long)p.Numel);

    public Dictionary<string, Tensor> StateDict()
    {
        var d = new Dictionary<string, Tensor>();
        foreach (var (n, p) in NamedParameters()) d[n] = p;
        return d;
    }

    /// <summary>Copies values from a state dict. Every name and shape is checked before anything is written, so a
    /// mismatch leaves the module untouched. strict: names must match exactly (no missing, no unexpected).</summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state, bool strict = true)
    {
        var mine = NamedParameters().ToList();
        var missing = mine.Where(p => !state.ContainsKey(p.Name)).Select(p => p.Name).ToList();
        var known = mine.Select(p => p.Name).ToHashSet();
        var unexpected = state.Keys.Where(k => !known.Contains(k)).ToList();
        if (strict && (missing.Count > 0 || unexpected.Count > 0))
            throw new EngramException($"LoadStateDict into {GetType().Name}: missing [{string.Join(", ", missing)}], unexpected " +
                $"[{string.Join(", ", unexpected)}]");
        foreach (var (n, p) in mine)
            if (state.TryGetValue(n, out var v) && !Tensor.SameShapeAs(v, p))
                throw new ShapeMismatchException($"LoadStateDict: '{n}' has shape {v.ShapeText} in the state dict but " +
                    $"{p.ShapeText} in the module");
        foreach (var (n, p) in mine)
            if (state.TryGetValue(n, out var v)) p.CopyFrom(v);
    }

    /// <summary>Zeroes every parameter's gradient in place (see Optimizer.ZeroGrad); setToNone drops them instead.</summary>
    public void ZeroGrad(bool setToNone = false) => Tensor.ZeroGradients(Parameters(), setToNone);

    public Module Train(bool on = true)
    {
        Training = on;
        foreach (var (_, c) in _children) c.Train(on);
        return this;
    }

    public Module Eval() => Train(false);
}

/// <summary>An indexed list of modules, named "0", "1", ... in the state dict.</summary>
public sealed class ModuleList<T> : Module where T : Module
{
    readonly List<T> _items = new();
    public ModuleList(IEnumerable<T> items) { foreach (var m in items) Add(m); }
    public void Add(T m) { RegisterModule(_items.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), m); _items.Add(m); }
    public T this[int i] => _items[i];
    public int Count => _items.Count;
    public List<T>.Enumerator GetEnumerator() => _items.GetEnumerator(); // a struct enumerator: a foreach over the blocks allocates nothing
}
