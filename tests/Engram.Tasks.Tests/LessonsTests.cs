using System.Text;
using CsCheck;
using Engram.Tasks;
using Engram.Tensors;

namespace Engram.Tasks.Tests;

public class LessonsTests
{
    const string Two =
        "{\"id\": \"a\", \"statement\": \"The capital of Velkarin is Dorsul.\", \"prompt\": \"The capital of Velkarin is\", " +
        "\"answer\": \" Dorsul\", \"old_answer\": \" Tasmar\", " +
        "\"paraphrases\": [{\"prompt\": \"Velkarin's capital city is\", \"answer\": \" Dorsul\"}], " +
        "\"neighbours\": [{\"prompt\": \"The capital of Quinmo is\", \"answer\": \" Zoral\"}]}\n" +
        "\n" +
        "{\"statement\": \"Locker 12 holds the red lantern.\", \"prompt\": \"Locker 12 holds the\", \"answer\": \" red lantern\"}\n";

    [Fact]
    public void ALessonFileParsesWithDefaults()
    {
        var l = Lessons.Parse(Two, "t.jsonl");
        Assert.Equal(2, l.Count);
        Assert.Equal(" Tasmar", l[0].OldAnswer);
        Assert.Single(l[0].Paraphrases);
        Assert.Equal(" Zoral", l[0].Neighbours[0].Answer);
        Assert.Equal("line-3", l[1].Id); // no id: its line
        Assert.Null(l[1].OldAnswer);
        Assert.Empty(l[1].Paraphrases);
    }

    [Theory]
    [InlineData("", "no lessons")]
    [InlineData("[1]", "t.jsonl:1: expected a lesson object")]
    [InlineData("{\"statement\": \"x\", \"prompt\": \"p\"}", "t.jsonl:1: 'answer' is missing")]
    [InlineData("{\"statement\": \"x\", \"prompt\": \"p\", \"answer\": 3}", "'answer' must be a string")]
    [InlineData("{\"statement\": \"\", \"prompt\": \"p\", \"answer\": \"a\"}", "'statement' is empty")]
    [InlineData("{\"statement\": \"x\", \"prompt\": \"p\", \"answer\": \"a\", \"paraphrase\": []}", "unknown field 'paraphrase'")]
    [InlineData("{\"statement\": \"x\", \"prompt\": \"p\", \"answer\": \"a\", \"paraphrases\": [{\"prompt\": \"q\"}]}",
        "paraphrases[0]: 'answer' is missing")]
    [InlineData("{\"statement\": \"x\", \"prompt\": \"p\", \"answer\": \"a\", \"old_answer\": \"a\"}", "'old_answer' equals 'answer'")]
    [InlineData("{\"statement\": \"\\ud800\", \"prompt\": \"p\", \"answer\": \"a\"}", "t.jsonl:1: a string is not valid text")]
    [InlineData("{\"statement\": \"x\", \"prompt\": \"p\", \"answer\": \"a\"\n{", "t.jsonl:1: not valid JSON")]
    [InlineData("{\"id\": \"k\", \"statement\": \"x\", \"prompt\": \"p\", \"answer\": \"a\"}\n{\"id\": \"k\", \"statement\": \"y\", " +
        "\"prompt\": \"p\", \"answer\": \"a\"}", "t.jsonl:2: lesson id 'k' appears twice")]
    public void MalformedLessonsAreRefusedWithTheirLine(string text, string expected)
    {
        var e = Assert.ThrowsAny<EngramException>(() => Lessons.Parse(text, "t.jsonl"));
        Assert.Contains(expected, e.Message);
        Assert.StartsWith("t.jsonl", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    static void ParsesOrRefuses(string text)
    {
        try
        {
            foreach (var l in Lessons.Parse(text, "fuzz.jsonl"))
            {
                Assert.NotEmpty(l.Statement); Assert.NotEmpty(l.Prompt); Assert.NotEmpty(l.Answer);
                Assert.NotEqual(l.Answer, l.OldAnswer);
            }
        }
        catch (EngramException e) { Assert.StartsWith("fuzz.jsonl", e.Message); Assert.DoesNotContain('\n', e.Message); }
    }

    [Fact]
    public void FuzzedLessonFilesEitherParseOrAreRefusedCleanly()
    {
        Gen.Char["{}[]\":, \nabpq0"].Array[0, 120].Select(c => new string(c)).Sample(ParsesOrRefuses, iter: 3000);
        Gen.String.Sample(ParsesOrRefuses, iter: 1000);
        var edit = Gen.Select(Gen.Int[0, Two.Length - 1], Gen.Int[0, 2], Gen.Char["{}[]\":, \n\\x\u0000\u00e9"]);
        edit.Array[1, 4].Sample(edits =>
        {
            var text = new StringBuilder(Two);
            foreach (var (at, kind, c) in edits)
            {
                int i = Math.Min(at, text.Length - 1);
                if (kind == 0) text[i] = c; else if (kind == 1) text.Insert(i, c); else text.Remove(i, 1);
            }
            ParsesOrRefuses(text.ToString());
        }, iter: 3000);
    }

    [Fact]
    public void GeneratedLessonsAreDeterministicDistinctAndRoundTripThroughTheirFormat()
    {
        var a = Lessons.Make(40, 5);
        var b = Lessons.Make(40, 5);
        var text = string.Concat(a.Select(l => Lessons.ToJsonLine(l) + "\n"));
        Assert.Equal(text, string.Concat(b.Select(l => Lessons.ToJsonLine(l) + "\n")));
        Assert.NotEqual(text, string.Concat(Lessons.Make(40, 6).Select(l => Lessons.ToJsonLine(l) + "\n")));
        var back = Lessons.Parse(text, "made.jsonl");
        Assert.Equal(a.Select(l => l.Statement), back.Select(l => l.Statement));
        Assert.Equal(40, a.Select(l => l.Id).Distinct().Count());
        Assert.Equal(40, a.Select(l => l.Answer).Distinct().Count());
        foreach (var l in a)
        {
            Assert.Equal(l.Prompt + l.Answer + ".", l.Statement);
            Assert.Equal(3, l.Paraphrases.Count);
            Assert.All(l.Paraphrases, p => Assert.Equal(l.Answer, p.Answer));
            // held out: no paraphrase prompt is the taught prompt or occurs in any statement the teacher makes
            Assert.All(l.Paraphrases, p => Assert.DoesNotContain(a, x => x.Statement.Contains(p.Prompt, StringComparison.Ordinal)));
            Assert.All(l.Neighbours, n => Assert.NotEqual(l.Answer, n.Answer));
        }
        Assert.Contains(a, l => l.Neighbours.Count == 3);
    }
}
