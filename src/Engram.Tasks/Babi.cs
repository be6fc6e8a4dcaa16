// bAbI story files (Weston et al. 2015, "Towards AI-Complete Question Answering"): parsed with errors that name the file
// and line, and turned into the transcript an online learner reads, with the reference answers at every question.
using System.Text;
using Engram.Tensors;

namespace Engram.Tasks;

/// <summary>One line of a bAbI story: a statement, or a question with its answer and the numbers of the supporting
/// statements. Text is trimmed (a question keeps its question mark; the answer is not part of it).</summary>
public sealed record BabiLine(int Number, string Text, string? Answer, int[] Supporting)
{
    public bool IsQuestion => Answer is not null;
}

/// <summary>A story: lines numbered from 1; questions sit between its statements.</summary>
public sealed record BabiStory(IReadOnlyList<BabiLine> Lines);

/// <summary>The bAbI file format: each line is `NUMBER TEXT`, or `NUMBER QUESTION\tANSWER\tSUPPORTING NUMBERS` for a
/// question; number 1 starts a new story and the others count up by one. Files are UTF-8 (the real ones are ASCII).</summary>
public static class BabiFile
{
    /// <summary>Parses a whole file's text; `name` names the input in errors ("qa1_train.txt:12: ...").</summary>
    public static List<BabiStory> Parse(string text, string name)
    {
        var stories = new List<BabiStory>();
        List<BabiLine>? story = null;
        var lines = text.Split('\n');
        int count = lines.Length > 0 && lines[^1].Length == 0 ? lines.Length - 1 : lines.Length; // a final newline ends the last line
        for (int i = 0; i < count; i++)
        {
            var line = ParseLine(lines[i].EndsWith('\r') ? lines[i][..^1] : lines[i], $"{name}:{i + 1}");
            if (line.Number == 1) stories.Add(new BabiStory(story = []));
            else if (story is null)
                throw new InvalidFileException($"{name}:{i + 1}: the first line is number {line.Number}, expected 1 (a story starts at 1)");
            else if (line.Number != story[^1].Number + 1)
                throw new InvalidFileException($"{name}:{i + 1}: line number {line.Number} after {story[^1].Number}, expected " +
                    $"{story[^1].Number + 1} (or 1 to start a new story)");
            foreach (var s in line.Supporting)
                if (s >= line.Number || story[s - 1].IsQuestion)
                    throw new InvalidFileException($"{name}:{i + 1}: supporting line {s} is not a statement before this question");
            story.Add(line);
        }
        if (stories.Count == 0)
            throw new InvalidFileException($"{name}: no stories (expected lines such as '1 Mary moved to the bathroom.')");
        return stories;
    }

    static BabiLine ParseLine(string line, string where)
    {
        if (line.Length == 0) throw new InvalidFileException($"{where}: an empty line, expected 'NUMBER TEXT'");
        for (int i = 0; i < line.Length; i++)
            if (char.IsControl(line[i]) && line[i] != '\t')
                throw new InvalidFileException($"{where}: control character U+{(int)line[i]:X4} at column {i + 1}");
        int space = line.IndexOf(' ');
        int digits = 0;
        while (digits < line.Length && char.IsAsciiDigit(line[digits])) digits++;
        int number = digits == space && digits is > 0 and <= 9 ? int.Parse(line.AsSpan(0, digits)) : 0;
        if (number == 0)
            throw new InvalidFileException($"{where}: expected a line number from 1 (digits, then a space) at the start of " +
                $"'{Shown(line)}'");
        var fields = line[(space + 1)..].Split('\t');
        var text = fields[0].Trim();
        if (text.Length == 0) throw new InvalidFileException($"{where}: line {number} has no text");
        if (fields.Length == 1) return new BabiLine(number, text, null, []);
        if (fields.Length != 3)
            throw new InvalidFileException($"{where}: {fields.Length - 1} tabs; a question is 'NUMBER QUESTION<tab>ANSWER<tab>SUPPORTING " +
                "NUMBERS' (two tabs) and a statement has none");
        var answer = fields[1].Trim();
        if (answer.Length == 0) throw new InvalidFileException($"{where}: the question '{Shown(text)}' has an empty answer");
        var supporting = new List<int>();
        foreach (var s in fields[2].Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            int n = s.Length <= 9 && s.All(char.IsAsciiDigit) ? int.Parse(s) : 0;
            if (n == 0)
                throw new InvalidFileException($"{where}: supporting line '{Shown(s)}' is not a line number (expected numbers from 1, " +
                    "separated by spaces)");
            supporting.Add(n);
        }
        return new BabiLine(number, text, answer, [.. supporting]);
    }

    static string Shown(string s) => s.Length <= 40 ? s.Replace('\t', ' ') : s[..37].Replace('\t', ' ') + "...";

    /// <summary>Reads a file (strict UTF-8); errors name the file and line.</summary>
    public static List<BabiStory> Read(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidFileException($"{path}: cannot read ({e.Message})", e);
        }
        string text;
        try { text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes); }
        catch (DecoderFallbackException e) { throw new InvalidFileException($"{path}: not UTF-8 text ({e.Message})", e); }
        return Parse(text, path);
    }

    /// <summary>The file of task `task` (1–20) in a bAbI folder: `en/qa{task}_*_{split}.txt`, or `qa{task}_*_{split}.txt`
    /// in the folder itself; null when there is none.</summary>
    public static string? Find(string folder, int task, string split = "train")
    {
        foreach (var dir in new[] { Path.Combine(folder, "en"), folder })
        {
            if (!Directory.Exists(dir)) continue;
            var match = Directory.EnumerateFiles(dir, $"qa{task}_*_{split}.txt").Order(StringComparer.Ordinal).FirstOrDefault();
            if (match is not null) return match;
        }
        return null;
    }

    /// <summary>The task's name from its file name ("qa1_single-supporting-fact_train.txt" → "single-supporting-fact").</summary>
    public static string TaskName(string path)
    {
        var name = Path.GetFileNameWithoutExtension(path);
        int first = name.IndexOf('_'), last = name.LastIndexOf('_');
        return first >= 0 && last > first ? name[(first + 1)..last] : name;
    }
}

/// <summary>A question of the transcript. The learner has read every byte before PromptEnd (the question and the space
/// after it) when it is asked; Candidates are the answers of the earlier questions of the stream, in the order they first
/// appeared, then this answer if it is new. LastPlace and MostFrequent are the two reference answers (see
/// BabiTranscript).</summary>
public sealed record BabiQuestion(int Index, int PromptEnd, string Question, string Answer, string[] Candidates, string LastPlace,
    string MostFrequent);

/// <summary>A bAbI task as one text stream, in file order:
/// <code>
/// Mary moved to the bathroom.
/// John went to the hallway.
/// Where is Mary? bathroom
/// </code>
/// A statement is its text without the line number, then a newline; a question is its text, one space, the answer and
/// a newline (the supporting numbers are left out); an empty line comes before every story but the first. With a cap on
/// the questions the stream ends after the last asked question's answer line.
///
/// Reference answers, from what came before the question only:
/// LastPlace: the final word (without its full stop) of the latest statement of the current story whose final word is
/// an answer to an earlier question of the stream — in tasks 1–3 every answer is a place, so that is the latest place
/// anyone or anything went to; when no statement qualifies, the final word of the latest statement ("" before any).
/// MostFrequent: the answer given most often to the earlier questions of the stream (ties: the one that appeared first;
/// "" for the first question).</summary>
public sealed class BabiTranscript
{
    public byte[] Bytes { get; }
    public IReadOnlyList<BabiQuestion> Questions { get; }

    BabiTranscript(byte[] bytes, List<BabiQuestion> questions) { Bytes = bytes; Questions = questions; }

    public static BabiTranscript Build(IReadOnlyList<BabiStory> stories, int maxQuestions = int.MaxValue)
    {
        var text = new MemoryStream();
        void Append(string s, char end) { text.Write(Encoding.UTF8.GetBytes(s)); text.WriteByte((byte)end); }
        var questions = new List<BabiQuestion>();
        var seen = new List<string>();
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var story in stories)
        {
            if (questions.Count >= maxQuestions) break;
            if (text.Length > 0) text.WriteByte((byte)'\n');
            var finals = new List<string>();
            foreach (var line in story.Lines)
            {
                if (line.Answer is not string answer)
                {
                    Append(line.Text, '\n');
                    finals.Add(FinalWord(line.Text));
                    continue;
                }
                Append(line.Text, ' ');
                string lastPlace = finals.LastOrDefault(w => counts.ContainsKey(w)) ?? finals.LastOrDefault() ?? "";
                string mostFrequent = seen.Count == 0 ? "" : seen.MaxBy(a => counts[a])!; // MaxBy keeps the first of equals
                string[] candidates = counts.ContainsKey(answer) ? [.. seen] : [.. seen, answer];
                questions.Add(new BabiQuestion(questions.Count, (int)text.Length, line.Text, answer, candidates, lastPlace,
                    mostFrequent));
                Append(answer, '\n');
                if (counts.TryGetValue(answer, out int c)) counts[answer] = c + 1;
                else { counts[answer] = 1; seen.Add(answer); }
                if (questions.Count >= maxQuestions) break;
            }
        }
        return new BabiTranscript(text.ToArray(), questions);
    }

    /// <summary>The last word of a sentence without its closing punctuation ("Mary went to the office." → "office").</summary>
    public static string FinalWord(string sentence)
    {
        var s = sentence.TrimEnd().TrimEnd('.', '!', '?', ',', ';').TrimEnd();
        return s[(s.LastIndexOf(' ') + 1)..];
    }
}
