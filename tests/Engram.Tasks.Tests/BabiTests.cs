// The bAbI parser (errors name the file and line; fuzzed: anything either parses or is an EngramException), the
// transcript's exact bytes and the two reference answers on hand-made stories.
using System.Text;
using CsCheck;
using Engram.Tasks;
using Engram.Tensors;

namespace Engram.Tasks.Tests;

public class BabiTests
{
    const string TwoStories =
        "1 Mary moved to the bathroom.\n" +
        "2 John went to the hallway.\n" +
        "3 Where is Mary? \tbathroom\t1\n" +
        "4 Daniel went back to the hallway.\n" +
        "5 Where is Daniel? \thallway\t4\n" +
        "1 Sandra travelled to the office.\r\n" +
        "2 Where is Sandra?\toffice\t1\n";

    [Fact]
    public void ParsesStoriesStatementsAndQuestions()
    {
        var stories = BabiFile.Parse(TwoStories, "t.txt");
        Assert.Equal(2, stories.Count);
        Assert.Equal(5, stories[0].Lines.Count);
        var q = stories[0].Lines[2];
        Assert.True(q.IsQuestion);
        Assert.Equal((3, "Where is Mary?", "bathroom"), (q.Number, q.Text, q.Answer));
        Assert.Equal([1], q.Supporting);
        Assert.Equal("Sandra travelled to the office.", stories[1].Lines[0].Text); // the \r of a CRLF line is dropped
        Assert.False(stories[1].Lines[0].IsQuestion);
        Assert.Equal(stories.Count, BabiFile.Parse(TwoStories.TrimEnd('\n'), "t.txt").Count); // a final newline is optional
        Assert.Empty(BabiFile.Parse("1 A.\n2 Where? \tx\t\n", "t.txt")[0].Lines[1].Supporting);
    }

    [Theory]
    [InlineData("", 0, "no stories")]
    [InlineData("2 Mary moved to the bathroom.\n", 1, "expected 1")]
    [InlineData("1 Mary moved.\n3 John moved.\n", 2, "expected 2")]
    [InlineData("1 Mary moved.\n\n2 John moved.\n", 2, "empty line")]
    [InlineData("Mary moved.\n", 1, "line number")]
    [InlineData("1Mary moved.\n", 1, "line number")]
    [InlineData("-1 Mary moved.\n", 1, "line number")]
    [InlineData("0 Mary moved.\n", 1, "line number")]
    [InlineData("99999999999 Mary moved.\n", 1, "line number")]
    [InlineData("1 \n", 1, "no text")]
    [InlineData("1 Mary moved.\n2 Where is Mary?\tbathroom\n", 2, "1 tabs")]
    [InlineData("1 Mary moved.\n2 Where is Mary?\tbathroom\t1\t1\n", 2, "3 tabs")]
    [InlineData("1 Mary moved.\n2 Where is Mary?\t \t1\n", 2, "empty answer")]
    [InlineData("1 Mary moved.\n2 Where is Mary?\tbathroom\tone\n", 2, "'one' is not a line number")]
    [InlineData("1 Mary moved.\n2 Where is Mary?\tbathroom\t2\n", 2, "supporting line 2")]
    [InlineData("1 Where is Mary?\tbathroom\t\n2 Where is John?\thall\t1\n", 2, "supporting line 1")]
    [InlineData("1 Mary moved.\n2 Mary\u0001 moved.\n", 2, "control character U+0001")]
    public void AMalformedLineIsAnErrorNamingFileAndLine(string text, int line, string what)
    {
        var e = Assert.Throws<InvalidFileException>(() => BabiFile.Parse(text, "qa9_bad_train.txt"));
        Assert.StartsWith(line == 0 ? "qa9_bad_train.txt:" : $"qa9_bad_train.txt:{line}:", e.Message);
        Assert.Contains(what, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void ReadRefusesBytesThatAreNotUtf8()
    {
        var path = Path.Combine(Path.GetTempPath(), $"engram-babi-{Guid.NewGuid():N}.txt");
        File.WriteAllBytes(path, [.. "1 Mary moved to the "u8, 0xFF, .. "bathroom.\n"u8]);
        try { Assert.Contains("not UTF-8", Assert.Throws<InvalidFileException>(() => BabiFile.Read(path)).Message); }
        finally { File.Delete(path); }
    }

    static void ParsesOrRefuses(string text)
    {
        List<BabiStory> stories;
        try { stories = BabiFile.Parse(text, "fuzz.txt"); }
        catch (EngramException e) { Assert.StartsWith("fuzz.txt:", e.Message); return; }
        var t = BabiTranscript.Build(stories);
        foreach (var q in t.Questions)
        {
            Assert.InRange(q.PromptEnd, 1, t.Bytes.Length);
            Assert.Equal((byte)' ', t.Bytes[q.PromptEnd - 1]);
            Assert.Contains(q.Answer, q.Candidates);
        }
    }

    [Fact]
    public void FuzzedTextEitherParsesOrIsAnEngramException()
    {
        // text drawn from the format's own characters, so that many inputs get past the first line
        Gen.Char["0123456789 \t\n\r.?abAB"].Array[0, 120].Select(c => new string(c)).Sample(ParsesOrRefuses, iter: 3000);
        Gen.String.Sample(ParsesOrRefuses, iter: 1000);
        // a valid file with a few characters replaced, inserted or deleted
        var edit = Gen.Select(Gen.Int[0, TwoStories.Length - 1], Gen.Int[0, 2], Gen.Char["0123456789 \t\n\r.?x\u0000\u00e9"]);
        edit.Array[1, 4].Sample(edits =>
        {
            var text = new StringBuilder(TwoStories);
            foreach (var (at, kind, c) in edits)
            {
                int i = Math.Min(at, text.Length - 1);
                if (kind == 0) text[i] = c; else if (kind == 1) text.Insert(i, c); else text.Remove(i, 1);
            }
            ParsesOrRefuses(text.ToString());
        }, iter: 3000);
    }

    [Fact]
    public void TheTranscriptIsTheStoriesWithoutNumbersAndEachQuestionFollowedByItsAnswer()
    {
        var t = BabiTranscript.Build(BabiFile.Parse(TwoStories, "t.txt"));
        const string expected =
            "Mary moved to the bathroom.\n" +
            "John went to the hallway.\n" +
            "Where is Mary? bathroom\n" +
            "Daniel went back to the hallway.\n" +
            "Where is Daniel? hallway\n" +
            "\n" +
            "Sandra travelled to the office.\n" +
            "Where is Sandra? office\n";
        Assert.Equal(expected, Encoding.UTF8.GetString(t.Bytes));
        Assert.Equal(3, t.Questions.Count);
        Assert.Equal("Where is Mary? ", Encoding.UTF8.GetString(t.Bytes, 0, t.Questions[0].PromptEnd)[^15..]);
        Assert.Equal("office\n", Encoding.UTF8.GetString(t.Bytes[t.Questions[2].PromptEnd..]));
        // a cap ends the stream after the last asked question's answer line
        var capped = BabiTranscript.Build(BabiFile.Parse(TwoStories, "t.txt"), 2);
        Assert.Equal(2, capped.Questions.Count);
        Assert.Equal(expected[..(expected.IndexOf("hallway\n\n", StringComparison.Ordinal) + 8)], Encoding.UTF8.GetString(capped.Bytes));
    }

    [Fact]
    public void ReferenceAnswersUseOnlyWhatCameBefore()
    {
        const string story =
            "1 Mary went to the kitchen.\n" +
            "2 Where is Mary? \tkitchen\t1\n" + // no answer known yet: the latest statement's final word
            "3 John went to the garden.\n" +
            "4 John took the milk.\n" +
            "5 Where is John? \tgarden\t3\n" + // "milk" is no known answer: kitchen, from line 1
            "6 Mary got the football there.\n" +
            "7 Where is Mary? \tkitchen\t1\n" + // "garden" (line 3) is now a known answer
            "8 Where is John? \tgarden\t3\n" +
            "1 Sandra took the apple.\n" +
            "2 Where is Sandra? \toffice\t1\n" + // a new story: nothing qualifies, so "apple"
            "1 Where is Daniel? \tgarden\t\n"; // no statement yet
        var q = BabiTranscript.Build(BabiFile.Parse(story, "t.txt")).Questions;
        Assert.Equal(["kitchen", "kitchen", "garden", "garden", "apple", ""], q.Select(x => x.LastPlace));
        // most frequent so far; ties go to the answer that appeared first
        Assert.Equal(["", "kitchen", "kitchen", "kitchen", "kitchen", "kitchen"], q.Select(x => x.MostFrequent));
        Assert.Equal(["kitchen"], q[0].Candidates);
        Assert.Equal(["kitchen", "garden"], q[1].Candidates);
        Assert.Equal(["kitchen", "garden"], q[3].Candidates);
        Assert.Equal(["kitchen", "garden", "office"], q[4].Candidates);
        Assert.Equal(["kitchen", "garden", "office"], q[5].Candidates);
        Assert.Equal("office", BabiTranscript.FinalWord("Mary went to the office. "));
    }

    [Fact]
    public void FindsTaskFilesAndNamesTasks()
    {
        var dir = Directory.CreateTempSubdirectory("engram-babi-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(dir, "en"));
            File.WriteAllText(Path.Combine(dir, "en", "qa2_two-supporting-facts_train.txt"), TwoStories);
            File.WriteAllText(Path.Combine(dir, "en", "qa12_conjunction_train.txt"), TwoStories);
            var found = BabiFile.Find(dir, 2);
            Assert.Equal(Path.Combine(dir, "en", "qa2_two-supporting-facts_train.txt"), found);
            Assert.Equal("two-supporting-facts", BabiFile.TaskName(found!));
            Assert.Null(BabiFile.Find(dir, 1));
            Assert.Null(BabiFile.Find(dir, 2, "test"));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void ReadsTheRealTasksWhenPresent()
    {
        var folder = Path.Combine(SudokuTests.FindShared(), "data", "babi");
        if (!Directory.Exists(folder)) return; // the shared data is optional
        for (int task = 1; task <= 20; task++)
        {
            var t = BabiTranscript.Build(BabiFile.Read(BabiFile.Find(folder, task)!));
            Assert.Equal(1000, t.Questions.Count);
        }
    }
}
