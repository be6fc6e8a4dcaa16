// `engram chat --brain DIR`: a conversation with a brain, which is part of the brain's stream. Transcript format (the bytes
// the brain learns): every user turn is learned as a line "U: <text>\n" (predicted, then learned, like `learn`); the
// brain answers by continuing "B:" greedily up to the end of the line, and its answer is NOT learned — a wrong answer is
// never learned as truth. The user then confirms it (/right: "B:<answer>\n" is learned) or corrects it (/correct TEXT:
// "B: TEXT\n" is learned, as a lesson), or simply goes on. /teach TEXT learns "TEXT\n" as a lesson. Every learned turn is
// a version in the brain's audit log and the brain is saved (atomically) after each; /undo returns to the version
// before the newest lesson.
using System.CommandLine;
using System.Text;
using Engram.Learning;
using Engram.Safety;
using Engram.Tasks;

namespace Engram.Cli.Commands;

static class ChatCommand
{
    const string Help = """
        commands:  /right            the brain's last answer was right: learn it
                   /correct TEXT     the right answer is TEXT: learn it (a lesson)
                   /teach TEXT       learn TEXT as a lesson
                   /undo             return to the version before the newest lesson (later turns are undone too)
                   /status           bytes read, version, last probe
                   /probe            the brain's probe set now: bits per byte on its texts, canaries right (nothing is learned)
                   /help             this list
                   /quit             leave (the brain is already saved after every learned turn)
        anything else is your turn: it is learned, then the brain answers.
        """;

    public static Command Create()
    {
        var brain = new Option<string>("--brain")
        {
            Description = "Brain folder (created with --model when it holds no brain).", Required = true,
        };
        var maxReply = Shared.IntOption("--max-reply", "Longest answer in bytes.", 200, 1, 100_000);
        var command = new Command("chat", "Talk to a brain: your turns are learned as you type them; its answers are not, unless you " +
            "confirm or correct them (transcript lines \"U: ...\" and \"B: ...\").")
            { brain, maxReply, Shared.Model, Shared.Set, Shared.Threads };
        command.SetAction(parse =>
        {
            Shared.ApplyThreads(parse, 1);
            var dir = parse.GetValue(brain)!;
            var (m, l) = Brain.Exists(dir) ? (null!, null!) : Shared.Configure(parse);
            using var vb = VersionedBrain.Open(dir, () => new OnlineLearner(m, l));
            Shared.Tell(vb, dir);
            bool interactive = !Console.IsInputRedirected;
            Console.Error.WriteLine($"chatting with {dir} (model {vb.Learner.ModelConfig.Preset}, version {vb.Version}, " +
                $"{vb.Learner.Position:N0} bytes read); /help lists the commands");
            string? answer = null, lastProbe = null;
            while (true)
            {
                if (interactive) Console.Error.Write("you> ");
                var line = Console.In.ReadLine();
                if (line is null) break;
                line = line.TrimEnd('\r');
                var (command, rest) = line.StartsWith('/') ? Split(line) : ("", line);
                switch (command)
                {
                    case "":
                        if (line.Length == 0) continue;
                        var turn = Learn(vb, $"U: {line}\n", UpdateKind.Chat, "chat: user turn");
                        // a turn the gates rejected is still read (not learned) before the brain answers it
                        var reply = vb.Learner.Continue(Encoding.UTF8.GetBytes(turn.Accepted ? "B:" : $"U: {line}\nB:"),
                            parse.GetValue(maxReply));
                        int end = Array.IndexOf(reply, (byte)'\n');
                        answer = Encoding.UTF8.GetString(reply, 0, end < 0 ? reply.Length : end);
                        Console.WriteLine($"brain>{answer}");
                        break;
                    case "/right":
                        if (answer is null) { Console.Error.WriteLine("no answer to confirm yet"); break; }
                        Learn(vb, $"B:{answer}\n", UpdateKind.Chat, "chat: answer confirmed");
                        answer = null;
                        break;
                    case "/correct" or "/teach":
                        if (rest.Length == 0) { Console.Error.WriteLine($"{command} needs a text: {command} TEXT"); break; }
                        var r = Learn(vb, command == "/correct" ? $"B: {rest}\n" : $"{rest}\n", UpdateKind.Lesson,
                            command == "/correct" ? "chat: correction" : "chat: lesson");
                        if (r.Accepted) Console.Error.WriteLine($"learned as lesson v{r.Version}");
                        answer = null;
                        break;
                    case "/undo":
                        var lesson = vb.Log.Ancestry(vb.Version).FirstOrDefault(x => x.Kind == UpdateKind.Lesson);
                        if (lesson is null) { Console.Error.WriteLine("no lesson to undo"); break; }
                        var back = vb.Rollback(lesson.Parent!.Value, $"chat: undo lesson v{lesson.Version}");
                        Console.Error.WriteLine(
                            $"undone: now v{back.Version}, identical to v{lesson.Parent} (before lesson v{lesson.Version})");
                        answer = null;
                        break;
                    case "/status":
                        Console.Error.WriteLine($"version {vb.Version}, {vb.Learner.Position:N0} bytes read, " +
                            FormattableString.Invariant($"{vb.Learner.BitsPerByte:F4} bits per byte so far; ") +
                            $"last probe: {lastProbe ?? "none"}");
                        break;
                    case "/probe":
                        lastProbe = Probe(vb);
                        Console.Error.WriteLine(lastProbe);
                        break;
                    case "/help":
                        Console.Error.WriteLine(Help);
                        break;
                    case "/quit" or "/exit":
                        return ExitCode.Success;
                    default:
                        Console.Error.WriteLine($"unknown command {command} (/help lists them)");
                        break;
                }
            }
            return ExitCode.Success;
        });
        return command;
    }

    static (string Name, string Text) Split(string line)
    {
        int space = line.IndexOf(' ');
        return space < 0 ? (line, "") : (line[..space], line[(space + 1)..].Trim());
    }

    static AuditRecord Learn(VersionedBrain vb, string text, string kind, string source)
    {
        var r = vb.Apply(Encoding.UTF8.GetBytes(text), kind, source);
        if (!r.Accepted) Console.Error.WriteLine($"(not learned: the brain's gates rejected it: {r.Reason})");
        return r;
    }

    /// <summary>The brain's probe set (probes.json, else the built-in one) read now, nothing learned: bits per byte on its
    /// texts and the canaries answered right, naming the wrong ones.</summary>
    static string Probe(VersionedBrain vb)
    {
        var probes = Policy.Probes(vb.Directory);
        var now = new Drift(vb.Learner, probes);
        var wrong = now.ReferenceWrong.Select(c => $"\"{c.Prompt}\"").ToList();
        return FormattableString.Invariant($"{now.ReferenceBitsPerByte:F4} bits per byte on the probe texts, ") +
            $"{probes.Canaries.Count - wrong.Count} of {probes.Canaries.Count} canaries right" +
            (wrong.Count > 0 ? $" (wrong: {string.Join(", ", wrong.Take(4))}{(wrong.Count > 4 ? ", …" : "")})" : "") +
            $" at version {vb.Version}";
    }
}
