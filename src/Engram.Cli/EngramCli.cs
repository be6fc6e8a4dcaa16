// The `engram` command: one file per command under Commands/. Exit codes: 0 success, 1 a wrong answer (solve),
// 2 bad input or usage (one line on stderr, never a stack trace), 3 an internal error.
using System.CommandLine;
using System.CommandLine.Invocation;
using Engram.Cli.Commands;
using Engram.Tensors;

namespace Engram.Cli;

public static class EngramCli
{
    /// <summary>Every command, as the parser sees them (tests walk this tree to try every option).</summary>
    public static RootCommand Build() => new("Engram: neural models that never stop learning.")
    {
        LearnCommand.Create(), CompressCommand.Create(), DecompressCommand.Create(), GenerateCommand.Create(), DemoCommand.Create(),
        BrainCommand.Create(), TrainCommand.Create(), EvalCommand.Create(), SolveCommand.Create(), DataCommand.Create(),
        BenchCommand.Create(), TeachCommand.Create(), LessonsCommand.Create(), ChatCommand.Create(),
    };

    public static int Run(string[] args)
    {
        var root = Build();
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0 && parse.Action is ParseErrorAction)
        {
            foreach (var message in parse.Errors.Select(e => e.Message).Distinct()) Console.Error.WriteLine($"engram: {message}");
            Console.Error.WriteLine($"(see: engram {string.Join(' ', CommandPath(parse).Append("--help"))})");
            return ExitCode.BadInput;
        }
        try
        {
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (e is EngramException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"engram: {e.Message}");
            return ExitCode.BadInput;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"engram: internal error: {e.GetType().Name}: {e.Message}");
            if (Environment.GetEnvironmentVariable("ENGRAM_DEBUG") == "1") Console.Error.WriteLine(e);
            else Console.Error.WriteLine("(set ENGRAM_DEBUG=1 to see where; please report it)");
            return ExitCode.InternalError;
        }
    }

    static IEnumerable<string> CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (var r = parse.CommandResult; r?.Parent is not null; r = r.Parent as System.CommandLine.Parsing.CommandResult)
            names.Insert(0, r.Command.Name);
        return names;
    }
}
