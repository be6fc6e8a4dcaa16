// Every option of every command, given malformed values: each run must end with exit code 2 and a short error on
// stderr naming the problem — never a stack trace, never an internal error, and never after doing the work.
using System.CommandLine;

namespace Engram.Cli.Tests;

public class MalformedInputTests
{
    /// <summary>Bad values for options that take free text: each must be refused before any work starts.</summary>
    static readonly Dictionary<string, string[]> TextValues = new()
    {
        ["--brain"] = ["/etc/passwd", "/proc/nonexistent-engram/brain"],
        ["--model"] = ["nosuch"],
        ["--set"] = ["x", "Chunk=1.5", "Nope=1", "Dim=abc", "Layers=100000", "StepsPerChunk=1000000", "ContextOrders=1,x"],
        ["--prompt"] = ["hello"],
        ["--filler"] = ["/proc/nonexistent-engram/filler.txt"],
        ["--png"] = ["/etc/passwd/chart.png", "/dev/null"],
        ["--a"] = ["/proc/nonexistent-engram/a.txt"],
        ["--b"] = ["/proc/nonexistent-engram/b.txt"],
        ["--task"] = ["nonsense"],
        ["--models"] = ["nosuch", ""],
        ["--templates"] = ["nosuch", ""],
        ["--layers"] = ["nosuch", "attention,nosuch", ""],
        ["--preset"] = ["nosuch"],
        ["--difficulty"] = ["nonsense", "-3"],
        ["--out"] = ["/etc/passwd/out"],
        ["--text"] = ["/proc/nonexistent-engram/t.txt"],
        ["--checkpoint"] = ["/proc/nonexistent-engram/run"],
        ["--puzzles"] = ["/proc/nonexistent-engram/p.txt"],
        ["--data"] = ["/proc/nonexistent-engram/babi", "/etc/passwd"],
        ["--output"] = ["/etc/passwd/out.jsonl", "/proc/nonexistent-engram/out.jsonl"],
        ["--probes"] = ["/proc/nonexistent-engram/probes.json", "/etc/passwd"],
    };

    static readonly string[] NumberValues = ["x", "-1", "1.5e999", "", "99999999999999999999999", "1,,x"];

    /// <summary>Positional arguments that make the command fail fast whatever the options say.</summary>
    static string BadArgument(Argument a) => a.Name switch
    {
        "task" => "nonsense",
        "puzzle" => "123",
        "brain" => "/proc/nonexistent-engram/brain",
        _ => "/proc/nonexistent-engram/input",
    };

    static IEnumerable<(string[] Path, Command Command)> Leaves(Command c, string[] path)
    {
        if (c.Subcommands.Count == 0) yield return (path, c);
        foreach (var s in c.Subcommands)
            foreach (var leaf in Leaves(s, [.. path, s.Name])) yield return leaf;
    }

    public static TheoryData<string> Commands()
    {
        var data = new TheoryData<string>();
        foreach (var (path, _) in Leaves(EngramCli.Build(), [])) data.Add(string.Join(' ', path));
        return data;
    }

    [Theory, MemberData(nameof(Commands))]
    public void EveryOptionRefusesMalformedValuesCleanly(string commandPath)
    {
        var path = commandPath.Split(' ');
        var command = Leaves(EngramCli.Build(), []).Single(l => string.Join(' ', l.Path) == commandPath).Command;
        var arguments = command.Arguments.Select(BadArgument).ToArray();
        var runs = new List<string[]>();
        foreach (var option in command.Options)
        {
            if (option.Name is "--help" or "-h" or "-?" or "/?" or "/h" || option.Hidden) continue;
            var type = option.ValueType;
            if (type == typeof(bool)) { runs.Add([.. path, .. arguments, option.Name, "notabool"]); continue; }
            string[] values = type == typeof(string) || type == typeof(string[])
                ? TextValues.TryGetValue(option.Name, out var v) ? v
                    : throw new Xunit.Sdk.XunitException($"{commandPath} {option.Name}: add bad values for this text option to TextValues")
                : NumberValues;
            foreach (var value in values) runs.Add([.. path, .. arguments, option.Name, value]);
        }
        if (command.Arguments.Count > 0)
        {
            runs.Add([.. path, .. arguments]); // the bad arguments alone
            runs.Add([.. path]); // arguments missing
        }
        foreach (var args in runs)
        {
            var r = EngramProcess.Run(null, 60, args);
            string shown = string.Join(' ', args.Select(a => a.Length == 0 ? "''" : a));
            Assert.True(r.Code == 2, $"engram {shown}: exit code {r.Code}, expected 2\n{r.Err}");
            Assert.DoesNotContain("   at ", r.Err);
            Assert.DoesNotContain("internal error", r.Err);
            Assert.DoesNotContain("Exception", r.Err);
            Assert.True(r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length <= 4, $"engram {shown}: a long error\n{r.Err}");
            Assert.StartsWith("engram: ", r.Err);
        }
    }
}
