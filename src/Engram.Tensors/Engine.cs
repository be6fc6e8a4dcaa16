// Process-wide engine settings.
namespace Engram.Tensors;

public static class Engine
{
    static int _maxThreads = Environment.ProcessorCount;

    /// <summary>Threads kernels may use (default: all cores). Results are identical for every value.</summary>
    public static int MaxThreads
    {
        get => _maxThreads;
        set => _maxThreads = value >= 1 ? value : throw new EngramException($"Engine.MaxThreads must be at least 1, got {value}");
    }
}
