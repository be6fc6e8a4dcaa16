// Process-wide engine settings, and the team of worker threads the threaded kernels share.
using System.Runtime.ExceptionServices;

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

/// <summary>Work split into independent indices 0..count−1 (each writes its own part of the output), run by WorkerTeam.
/// Kernels keep one instance per calling thread and refill its fields, so starting a parallel loop allocates nothing.</summary>
internal abstract class ParallelWork
{
    public abstract void Run(int index);
}

/// <summary>A persistent team of worker threads for the kernels' parallel loops: the caller takes part, indices are
/// claimed one at a time from a shared counter, and nothing is allocated per loop (Parallel.For allocates closures,
/// tasks and loop state on every call). One loop runs on the team at a time; a loop started while the team is busy —
/// from another thread, or nested inside a worker — runs on its calling thread alone. Since every index computes its
/// own outputs in a fixed order, results never depend on which thread ran what.</summary>
internal static class WorkerTeam
{
    static readonly object Gate = new();
    static readonly SemaphoreSlim Wake = new(0);
    // Semaphores, not a ManualResetEventSlim: that one creates its lock object the first time a wait blocks, an
    // allocation on the caller's thread at an unpredictable step. A semaphore makes its lock in its constructor.
    static readonly SemaphoreSlim Done = new(0);
    static int _busy, _workers;
    static ParallelWork? _work;
    static int _count, _next, _remaining;
    static Exception? _error;

    // One worker per further core starts with the team (on its first use, threaded or not), so switching
    // Engine.MaxThreads up to the core count later starts no thread in the middle of a step.
    static WorkerTeam() => EnsureWorkers(Environment.ProcessorCount - 1);

    /// <summary>A kernel's per-thread work object, made (and the team started) on the kernel's first use whichever path
    /// it takes, so a later change of Engine.MaxThreads allocates nothing in the middle of a step.</summary>
    public static T Prepare<T>(ref T? slot) where T : ParallelWork, new() => slot ??= new T();

    /// <summary>Runs work.Run(i) for i in [0, count) on up to `threads` threads (the caller included).</summary>
    public static void For(int count, int threads, ParallelWork work)
    {
        threads = Math.Min(threads, count);
        if (threads <= 1 || Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            for (int i = 0; i < count; i++) work.Run(i);
            return;
        }
        try
        {
            int helpers = threads - 1;
            EnsureWorkers(helpers);
            _work = work; _count = count; _next = 0; _error = null;
            Volatile.Write(ref _remaining, helpers);
            Wake.Release(helpers);
            Claim(work, count);
            Done.Wait();
            _work = null;
            if (_error is { } e) ExceptionDispatchInfo.Capture(e).Throw();
        }
        finally { Volatile.Write(ref _busy, 0); }
    }

    static void Claim(ParallelWork work, int count)
    {
        int i;
        while ((i = Interlocked.Increment(ref _next) - 1) < count)
        {
            try { work.Run(i); }
            catch (Exception e) { Interlocked.CompareExchange(ref _error, e, null); }
        }
    }

    static void EnsureWorkers(int n)
    {
        if (Volatile.Read(ref _workers) >= n) return;
        lock (Gate)
        {
            while (_workers < n)
            {
                var t = new Thread(WorkerLoop) { IsBackground = true, Name = $"Engram worker {_workers + 1}" };
                t.Start();
                _workers++;
            }
        }
    }

    static void WorkerLoop()
    {
        while (true)
        {
            Wake.Wait();
            var work = Volatile.Read(ref _work)!;
            Claim(work, _count);
            if (Interlocked.Decrement(ref _remaining) == 0) Done.Release();
        }
    }
}
