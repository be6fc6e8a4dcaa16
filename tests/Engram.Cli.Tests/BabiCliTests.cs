// `bench babi` end to end on a generated mini story set (no shared data needed): the bench itself with the tiny preset,
// the command's JSON lines and charts, and its one-line errors for missing data and malformed files.
using System.Text;
using System.Text.Json;
using Engram.Experiments;
using Engram.Tasks;

namespace Engram.Cli.Tests;

public sealed class BabiCliTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("engram-babi-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A bAbI-format file in the manner of task 1: people move between places and are asked where they are.</summary>
    static string MiniStories(int seed, int stories)
    {
        string[] people = ["Mary", "John", "Sandra", "Daniel"], places = ["kitchen", "garden", "office", "hallway"];
        string[] verbs = ["moved to", "went to", "journeyed to"];
        var random = new Random(seed);
        var text = new StringBuilder();
        for (int s = 0; s < stories; s++)
        {
            var at = new Dictionary<string, (string Place, int Line)>();
            int line = 0;
            for (int k = 0; k < 5; k++)
            {
                for (int m = 0; m < 2; m++)
                {
                    string who = people[random.Next(people.Length)], where = places[random.Next(places.Length)];
                    text.Append($"{++line} {who} {verbs[random.Next(verbs.Length)]} the {where}.\n");
                    at[who] = (where, line);
                }
                var asked = at.Keys.ElementAt(random.Next(at.Count));
                text.Append($"{++line} Where is {asked}? \t{at[asked].Place}\t{at[asked].Line}\n");
            }
        }
        return text.ToString();
    }

    string WriteTask(int task, string text)
    {
        Directory.CreateDirectory(Path.Combine(_dir, "en"));
        var path = Path.Combine(_dir, "en", $"qa{task}_mini_train.txt");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void TheTinyLearnerAnswersEveryQuestionOfTheStream()
    {
        WriteTask(1, MiniStories(1, 8));
        var task = BabiBench.Load(_dir, 1, 30);
        Assert.Equal("mini", task.Name);
        Assert.Equal(30, task.Transcript.Questions.Count);
        var r = BabiBench.RunOne("tiny", task);
        Assert.Equal(30, r.Questions);
        Assert.Equal(task.Transcript.Bytes.Length, r.Bytes);
        Assert.True(r.BitsPerByte is > 0 and < 8, $"{r.BitsPerByte} bits per byte");
        Assert.True(r.Answers[0].ChoiceRight); // the first question's only candidate is its own answer
        foreach (var (a, q) in r.Answers.Zip(task.Transcript.Questions))
        {
            Assert.Equal(q.Answer, a.Expected);
            Assert.Contains(a.Chosen, q.Candidates);
            Assert.Equal(a.GreedyRight, a.Greedy == q.Answer);
            Assert.Equal(q.LastPlace == q.Answer, a.LastPlaceRight);
        }
        foreach (var share in new[] { r.Greedy, r.GreedySecondHalf, r.Choice, r.ChoiceSecondHalf, r.LastPlace, r.MostFrequent })
            Assert.InRange(share, 0, 1);
        Assert.Equal(r.Answers.Skip(15).Count(a => a.ChoiceRight) / 15.0, r.ChoiceSecondHalf);
        var again = BabiBench.RunOne("tiny", task); // deterministic
        Assert.Equal(r.Answers, again.Answers);
        Assert.Equal(r.Bits, again.Bits);
    }

    [Fact]
    public void TeachingByInteractionCorrectsOnlyWrongAnswers()
    {
        WriteTask(1, MiniStories(1, 4));
        var png = Path.Combine(_dir, "t.png");
        var r = EngramProcess.Run(null, 120, "bench", "babi", "--teach", "--data", _dir, "--models", "tiny", "--tasks", "1",
            "--questions", "12", "--json", "--png", png);
        Assert.True(r.Code == 0, r.Err);
        var json = JsonDocument.Parse(r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Single()).RootElement;
        Assert.Equal("teach", json.GetProperty("mode").GetString());
        Assert.Equal(12, json.GetProperty("questions").GetInt32());
        double accuracy = json.GetProperty("accuracy").GetDouble();
        Assert.InRange(accuracy, 0, 1);
        Assert.Equal(12 - (int)Math.Round(accuracy * 12), json.GetProperty("corrections").GetInt32()); // one per wrong answer
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(png)[..4]);
    }

    [Fact]
    public void TheCommandPrintsOneJsonLinePerTaskAndDrawsACharEach()
    {
        WriteTask(1, MiniStories(1, 4));
        WriteTask(2, MiniStories(2, 4));
        var png = Path.Combine(_dir, "c.png");
        var r = EngramProcess.Run(null, 120, "bench", "babi", "--data", _dir, "--models", "tiny", "--tasks", "1,2", "--questions", "12",
            "--json", "--png", png);
        Assert.True(r.Code == 0, r.Err);
        var lines = r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        for (int i = 0; i < 2; i++)
        {
            var json = JsonDocument.Parse(lines[i]).RootElement;
            Assert.Equal("tiny", json.GetProperty("model").GetString());
            Assert.Equal(i + 1, json.GetProperty("task").GetInt32());
            Assert.Equal(12, json.GetProperty("questions").GetInt32());
            foreach (var field in new[] { "accuracy", "accuracy_second_half", "greedy", "choice", "baseline_last_location",
                "baseline_most_frequent" })
                Assert.InRange(json.GetProperty(field).GetDouble(), 0, 1);
            Assert.Equal(json.GetProperty("greedy").GetDouble(), json.GetProperty("accuracy").GetDouble());
            var chart = File.ReadAllBytes(Path.Combine(_dir, $"c-tiny-qa{i + 1}.png"));
            Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], chart[..4]);
        }
        Assert.False(File.Exists(png)); // several charts: each named after its model and task
    }

    [Fact]
    public void MissingDataAndMalformedFilesAreOneLineErrors()
    {
        static void OneLineError((int Code, string Out, string Err) r, params string[] expected)
        {
            Assert.True(r.Code == 2, $"exit code {r.Code}\n{r.Err}");
            Assert.StartsWith("engram: ", r.Err);
            Assert.Single(r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            foreach (var e in expected) Assert.Contains(e, r.Err);
        }
        OneLineError(EngramProcess.Run(null, 60, "bench", "babi", "--data", "/nonexistent-engram/babi"),
            "/nonexistent-engram/babi: no such folder", "en/qa1_single-supporting-fact_train.txt");
        // without --data the folder is looked for from the current one upwards (a temporary folder has none above it)
        OneLineError(EngramProcess.RunIn(_dir, null, 60, "bench", "babi"), "shared/data/babi", _dir);
        WriteTask(1, MiniStories(1, 2));
        OneLineError(EngramProcess.Run(null, 60, "bench", "babi", "--data", _dir, "--tasks", "1,5"), "no file en/qa5_*_train.txt");
        var bad = WriteTask(2, "1 Mary moved to the office.\n2 Where is Mary?\toffice\n");
        OneLineError(EngramProcess.Run(null, 60, "bench", "babi", "--data", _dir, "--tasks", "2"), $"{bad}:2:", "1 tabs");
        var statements = WriteTask(3, "1 Mary moved to the office.\n");
        OneLineError(EngramProcess.Run(null, 60, "bench", "babi", "--data", _dir, "--tasks", "3"), $"{statements}: no questions");
    }
}
