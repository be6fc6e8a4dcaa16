// `engram teach --brain DIR LESSONS.jsonl`: teaches a brain lesson by lesson. Each lesson's statement is learned as one
// update of kind "lesson" (audit log, snapshot); before and after it the lesson is measured as a knowledge edit
// (efficacy, paraphrase, neighbourhood, exact), and the figures after it are kept in the update's record.
// `engram lessons make`: lesson sets from a seed, with paraphrase templates the teacher never uses.
using System.CommandLine;
using System.Text.Json.Nodes;
using Engram.Experiments;
using Engram.Learning;
using Engram.Safety;
using Engram.Tasks;
using Engram.Tensors;

namespace Engram.Cli.Commands;

static class TeachCommand
{
    public sealed record LessonLine(string Lesson, long Version, bool Accepted, string? Reason, bool EfficacyBefore, bool ExactBefore,
        bool Efficacy, double Margin, double? Paraphrase, double? Neighbourhood, bool Exact, string Answer, string Greedy);

    /// <summary>Scores are over the accepted lessons; Rejected counts those the brain's gates refused.</summary>
    public sealed record SummaryLine(int Lessons, int Rejected, double? Efficacy, double? Paraphrase, double? Neighbourhood, double? Exact,
        long Version, long StreamBytes);

    public static Command Create()
    {
        var file = new Argument<string>("lessons") { Description = "Lesson file (JSON Lines; see README, \"Teaching\")." };
        var brain = new Option<string>("--brain")
        {
            Description = "Brain folder (created with --model when it holds no brain).", Required = true,
        };
        var command = new Command("teach", "Teach a brain lessons from a file, measuring each as a knowledge edit before and after.")
            { file, brain, Shared.Model, Shared.Set, Shared.Threads, Shared.Json };
        command.SetAction(parse =>
        {
            Shared.ApplyThreads(parse, 1);
            var path = parse.GetValue(file)!;
            var lessons = Lessons.Load(path); // a malformed file fails before the brain is touched
            var dir = parse.GetValue(brain)!;
            bool json = parse.GetValue(Shared.Json);
            var (m, l) = Brain.Exists(dir) ? (null!, null!) : Shared.Configure(parse);
            using var vb = VersionedBrain.Open(dir, () => new OnlineLearner(m, l));
            Shared.Tell(vb, dir);
            var after = new List<LessonScores>();
            int rejected = 0;
            foreach (var lesson in lessons)
            {
                var learner = vb.Learner;
                var old = Teaching.OldAnswer(learner, lesson);
                var before = Teaching.Measure(learner, lesson, old);
                LessonScores? now = null;
                var r = vb.Apply(Teaching.LessonText(lesson), UpdateKind.Lesson, $"lesson {lesson.Id} ({Path.GetFileName(path)})",
                    probe: x =>
                    {
                        now = Teaching.Measure(x, lesson, old);
                        return new JsonObject
                        {
                            ["efficacy"] = now.Efficacy, ["exact"] = now.Exact, ["paraphrase"] = now.Paraphrase,
                            ["neighbourhood"] = now.Neighbourhood, ["margin"] = JsonLines.Round(now.Margin, 4),
                            ["lesson"] = JsonNode.Parse(Lessons.ToJsonLine(lesson)), // kept for brain drift's retention checks
                        }.ToJsonString();
                    });
                if (r.Accepted) after.Add(now!);
                else rejected++;
                if (json)
                    Shared.WriteJson(new LessonLine(lesson.Id, r.Version, r.Accepted, r.Reason, before.Efficacy, before.Exact,
                        now!.Efficacy,
                        Math.Round(now.Margin, 4), now.Paraphrase, now.Neighbourhood, now.Exact, lesson.Answer, now.Greedy));
                else if (!r.Accepted)
                    Console.WriteLine($"v{r.Version} {lesson.Id}: REJECTED by the brain's gates ({r.Reason}); not learned");
                else
                    Console.WriteLine($"v{r.Version} {lesson.Id}: exact {Mark(before.Exact)} → {Mark(now!.Exact)}, efficacy " +
                        $"{Mark(before.Efficacy)} → {Mark(now.Efficacy)}" +
                        (now.Paraphrase is double p ? $", paraphrase {p:P0}" : "") +
                        (now.Neighbourhood is double n ? $", neighbourhood {n:P0}" : "") +
                        $"   \"{Show(lesson.Prompt)}\" →{Show(now.Greedy)}");
            }
            double? Mean(Func<LessonScores, double?> f) => after.Select(f).Where(x => x is not null).Select(x => x!.Value)
                .DefaultIfEmpty(double.NaN).Average() is var v && double.IsNaN(v) ? null : Math.Round(v, 4);
            var summary = new SummaryLine(after.Count, rejected, Mean(s => s.Efficacy ? 1 : 0), Mean(s => s.Paraphrase),
                Mean(s => s.Neighbourhood), Mean(s => s.Exact ? 1 : 0), vb.Version, vb.Learner.Position);
            if (json) Shared.WriteJson(summary);
            else Console.WriteLine($"taught {summary.Lessons} lessons ({rejected} rejected): efficacy {summary.Efficacy:P0}, " +
                $"exact {summary.Exact:P0}" +
                (summary.Paraphrase is double pp ? $", paraphrase {pp:P0}" : "") +
                (summary.Neighbourhood is double nn ? $", neighbourhood {nn:P0}" : "") + $"; {dir} is at version {summary.Version}");
            return ExitCode.Success;
        });
        return command;
    }

    static string Mark(bool ok) => ok ? "yes" : "no";

    static string Show(string s) => s.Replace("\n", "⏎");
}

static class LessonsCommand
{
    public static Command Create()
    {
        var count = Shared.IntOption("--count", "Lessons to make.", 50, 1, 10_000);
        var seed = Shared.Seed("Seed: the same seed makes the same lessons.");
        var output = new Option<string>("--output", "-o")
        {
            Description = "File to write (default: standard output).", DefaultValueFactory = _ => "-",
        };
        var make = new Command("make", "Make a lesson set from a seed: invented subjects and values in four relations (capital, keeper, " +
            "code, pet), each lesson with the answer it replaces, three paraphrases the teacher never uses, and neighbours.")
            { count, seed, output };
        make.SetAction(parse =>
        {
            var o = Shared.CheckOutput(parse.GetValue(output)!, null);
            var text = string.Concat(Lessons.Make(parse.GetValue(count), parse.GetValue(seed)).Select(l => Lessons.ToJsonLine(l) + "\n"));
            if (o == "-") Console.Out.Write(text);
            else Engram.Tensors.IO.AtomicFile.WriteAllBytes(o, System.Text.Encoding.UTF8.GetBytes(text));
            return ExitCode.Success;
        });
        return new Command("lessons", "Lesson sets for engram teach.") { make };
    }
}
