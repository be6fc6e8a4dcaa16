// Runs the built `engram` program as a user would, with extra environment variables.
using System.Diagnostics;

namespace Engram.Cli.Tests;

static class EngramProcess
{
    public static (int Code, string Out, string Err) Run(IReadOnlyDictionary<string, string>? env, int timeoutSeconds, params string[] args)
        => RunIn(null, env, timeoutSeconds, args);

    /// <summary>Run, in `folder` as the current folder (null: this process's).</summary>
    public static (int Code, string Out, string Err) RunIn(string? folder, IReadOnlyDictionary<string, string>? env, int timeoutSeconds,
        params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        if (folder is not null) psi.WorkingDirectory = folder;
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "engram.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync(); var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutSeconds * 1000))
        {
            p.Kill(entireProcessTree: true); // never leave a runaway process behind
            Assert.Fail($"engram {string.Join(' ', args)} did not finish within {timeoutSeconds} s");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
