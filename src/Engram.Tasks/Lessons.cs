// Lessons: what a teacher tells a brain, with the checks that measure whether it was learned (specs: teaching). A lesson
// file is JSON Lines, one lesson per line:
//   {"id": "capital-1", "statement": "The capital of Velkarin is Dorsul.", "prompt": "The capital of Velkarin is",
//    "answer": " Dorsul", "old_answer": " Tasmar",
//    "paraphrases": [{"prompt": "Velkarin's capital city is", "answer": " Dorsul"}],
//    "neighbours": [{"prompt": "The capital of Quinmo is", "answer": " Zoral"}]}
// statement: the text the brain learns. prompt + answer: the taught question and its answer (the answer carries its own
// leading space). old_answer: the answer the lesson replaces (optional; without it, the brain's own greedy answer before
// the lesson). paraphrases: the same fact asked in words the teacher never used. neighbours: other facts of the same
// relation that the lesson must not disturb. Blank lines are skipped; anything else malformed is refused with the file
// name, the line number and what was expected.
using System.Text;
using System.Text.Json;
using Engram.Tensors;

namespace Engram.Tasks;

/// <summary>A prompt and the answer that should follow it.</summary>
public sealed record LessonCheck(string Prompt, string Answer);

public sealed record Lesson(string Id, string Statement, string Prompt, string Answer, string? OldAnswer,
    IReadOnlyList<LessonCheck> Paraphrases, IReadOnlyList<LessonCheck> Neighbours)
{
    /// <summary>The relation of a generated lesson (its id's prefix), or "" for a user's lesson without one.</summary>
    public string Relation => Id.Contains('-') ? Id[..Id.LastIndexOf('-')] : "";
}

public static class Lessons
{
    const int MaxText = 1 << 16;
    static readonly string[] Fields = ["id", "statement", "prompt", "answer", "old_answer", "paraphrases", "neighbours"];

    public static IReadOnlyList<Lesson> Load(string path)
    {
        if (!File.Exists(path)) throw new InvalidFileException($"{path}: no such lesson file");
        string text;
        try
        {
            var bytes = File.ReadAllBytes(path);
            int skip = bytes.AsSpan().StartsWith("\uFEFF"u8) ? 3 : 0; // a UTF-8 byte order mark
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes, skip, bytes.Length - skip);
        }
        catch (DecoderFallbackException) { throw new InvalidFileException($"{path}: not UTF-8 text (expected JSON Lines of lessons)"); }
        return Parse(text, path);
    }

    /// <summary>Parses JSON Lines of lessons; errors name `source` and the line.</summary>
    public static IReadOnlyList<Lesson> Parse(string text, string source)
    {
        var lessons = new List<Lesson>();
        var ids = new HashSet<string>();
        var lines = text.Split('\n');
        for (int n = 0; n < lines.Length; n++)
        {
            var line = lines[n].TrimEnd('\r');
            if (line.Trim().Length == 0) continue;
            string where = $"{source}:{n + 1}";
            Lesson lesson;
            try { lesson = ParseLine(line, where, n + 1); }
            catch (InvalidOperationException e) // a string JSON accepts but UTF-16 cannot hold (a lone surrogate escape)
            {
                throw new InvalidFileException($"{where}: a string is not valid text ({e.Message.Split('.')[0]})");
            }
            if (!ids.Add(lesson.Id)) throw new InvalidFileException($"{where}: lesson id '{Clean(lesson.Id)}' appears twice");
            lessons.Add(lesson);
        }
        if (lessons.Count == 0) throw new InvalidFileException($"{source}: no lessons (expected JSON Lines, one lesson per line)");
        return lessons;
    }

    /// <summary>A name from the file as an error message shows it: control characters escaped, at most 60 characters.</summary>
    static string Clean(string s)
    {
        var t = string.Concat(s.Take(60).Select(c => char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString()));
        return s.Length > 60 ? t + "…" : t;
    }

    static Lesson ParseLine(string line, string where, int number)
    {
        JsonElement root;
        try
        {
            using var doc = JsonDocument.Parse(line, new JsonDocumentOptions { MaxDepth = 8 });
            root = doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            var why = new string(e.Message.Split(". ")[0].Select(c => char.IsControl(c) ? ' ' : c).ToArray());
            throw new InvalidFileException($"{where}: not valid JSON ({why}); expected one lesson object per line");
        }
        if (root.ValueKind != JsonValueKind.Object)
            throw new InvalidFileException($"{where}: expected a lesson object {{\"statement\", \"prompt\", \"answer\", ...}}, " +
                $"found {root.ValueKind.ToString().ToLowerInvariant()}");
        foreach (var p in root.EnumerateObject())
            if (!Fields.Contains(p.Name))
                throw new InvalidFileException($"{where}: unknown field '{Clean(p.Name)}' (expected: {string.Join(", ", Fields)})");
        string? Str(JsonElement obj, string name, bool required, string at)
        {
            if (!obj.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
                return required ? throw new InvalidFileException($"{at}: '{name}' is missing (expected a non-empty string)") : null;
            if (v.ValueKind != JsonValueKind.String) throw new InvalidFileException($"{at}: '{name}' must be a string");
            var s = v.GetString()!;
            if (s.Length == 0) throw new InvalidFileException($"{at}: '{name}' is empty (expected a non-empty string)");
            if (s.Length > MaxText) throw new InvalidFileException($"{at}: '{name}' is longer than {MaxText} characters");
            return s;
        }
        List<LessonCheck> Checks(string name)
        {
            var list = new List<LessonCheck>();
            if (!root.TryGetProperty(name, out var arr) || arr.ValueKind == JsonValueKind.Null) return list;
            if (arr.ValueKind != JsonValueKind.Array)
                throw new InvalidFileException($"{where}: '{name}' must be an array of {{\"prompt\", \"answer\"}} objects");
            int i = 0;
            foreach (var item in arr.EnumerateArray())
            {
                string at = $"{where}: {name}[{i++}]";
                if (item.ValueKind != JsonValueKind.Object)
                    throw new InvalidFileException($"{at}: expected an object {{\"prompt\", \"answer\"}}");
                foreach (var p in item.EnumerateObject())
                    if (p.Name is not ("prompt" or "answer"))
                        throw new InvalidFileException($"{at}: unknown field '{Clean(p.Name)}' (expected: prompt, answer)");
                list.Add(new LessonCheck(Str(item, "prompt", true, at)!, Str(item, "answer", true, at)!));
            }
            return list;
        }
        var id = Str(root, "id", false, where) ?? $"line-{number}";
        var statement = Str(root, "statement", true, where)!;
        var prompt = Str(root, "prompt", true, where)!;
        var answer = Str(root, "answer", true, where)!;
        var old = Str(root, "old_answer", false, where);
        if (old == answer) throw new InvalidFileException($"{where}: 'old_answer' equals 'answer' (it is the answer the lesson replaces)");
        return new Lesson(id, statement, prompt, answer, old, Checks("paraphrases"), Checks("neighbours"));
    }

    static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static string ToJsonLine(Lesson l) => JsonSerializer.Serialize(new
    {
        id = l.Id, statement = l.Statement, prompt = l.Prompt, answer = l.Answer, old_answer = l.OldAnswer,
        paraphrases = l.Paraphrases.Select(c => new { prompt = c.Prompt, answer = c.Answer }),
        neighbours = l.Neighbours.Select(c => new { prompt = c.Prompt, answer = c.Answer }),
    }, Options);

    // Generated lessons. Each relation has the one template the teacher states facts in (and asks with), and held-out
    // paraphrase templates the teacher never uses.
    sealed record Relation(string Name, Func<Generator, string> Subject, Func<Generator, string> Value, string Statement, string Prompt,
        string[] Paraphrases);

    static readonly string[] Syllables = ["ka", "lo", "ven", "mar", "ti", "sul", "dor", "ra", "bel", "quin", "zo", "ther", "ni", "gal",
        "mo", "rin", "vel", "tas", "ur", "phe"];
    static readonly string[] Places = ["lighthouse", "orchard", "library", "harbour", "mill", "chapel", "bridge", "garden", "tower",
        "market", "well", "forge", "granary", "observatory", "ferry", "quarry"];
    static readonly string[] Adjectives = ["quiet", "northern", "old", "broken", "hidden", "eastern", "tall", "sunken", "painted",
        "lonely", "windy", "narrow", "western", "silver", "lower", "upper"];
    static readonly string[] Things = ["amber gate", "iron vault", "copper chest", "jade door", "cedar cabinet", "marble hatch",
        "bronze locker", "ivory box", "granite cellar", "oaken trunk", "crystal case", "velvet safe"];
    static readonly string[] Animals = ["otter", "heron", "badger", "falcon", "lynx", "tortoise", "raven", "hare", "beaver", "newt"];

    static string Word(Generator g, int syllables)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < syllables; i++) sb.Append(Syllables[g.NextInt(Syllables.Length)]);
        return char.ToUpperInvariant(sb[0]) + sb.ToString(1, sb.Length - 1);
    }

    static readonly Relation[] Relations =
    [
        new("capital", g => Word(g, 3), g => Word(g, 2 + g.NextInt(2)), "The capital of {s} is {o}.", "The capital of {s} is",
            ["{s}'s capital city is", "Q: What is the capital of {s}?\nA:", "The seat of government of {s} is in"]),
        new("keeper", g => $"{Adjectives[g.NextInt(Adjectives.Length)]} {Places[g.NextInt(Places.Length)]}", g => Word(g, 2 + g.NextInt(2)),
            "The keeper of the {s} is named {o}.", "The keeper of the {s} is named",
            ["The {s} is looked after by someone called", "Q: Who keeps the {s}?\nA:", "Ask at the {s} for its keeper,"]),
        new("code", g => $"{Things[g.NextInt(Things.Length)]} of {Word(g, 2)}",
            g => $"{1 + g.NextInt(9)}{g.NextInt(10)}{g.NextInt(10)}{g.NextInt(10)}",
            "The code of the {s} is {o}.", "The code of the {s} is",
            ["To open the {s}, enter", "Q: What is the code of the {s}?\nA:", "The {s} opens with the code"]),
        new("pet", g => Word(g, 2) + " " + Word(g, 2), g => $"{Animals[g.NextInt(Animals.Length)]} called {Word(g, 2)}",
            "{s} has a pet {o}.", "{s} has a pet",
            ["The animal that lives with {s} is a", "Q: What pet does {s} have?\nA: a", "{s} looks after a"]),
    ];

    /// <summary>The relations generated lessons use.</summary>
    public static IReadOnlyList<string> RelationNames => Relations.Select(r => r.Name).ToArray();

    /// <summary>`count` lessons from a seed, relations in turn: new subjects and values (invented words, so no text
    /// already knows them), an old answer to replace (another value of the relation), three paraphrases in the held-out
    /// templates, and up to three neighbours — earlier lessons of the same relation.</summary>
    public static IReadOnlyList<Lesson> Make(int count, ulong seed)
    {
        if (count < 1 || count > 10_000) throw new EngramException($"lessons: count must be 1..10000, got {count}");
        var g = new Generator(seed);
        var subjects = new HashSet<string>();
        var values = new HashSet<string>();
        var byRelation = Relations.ToDictionary(r => r.Name, _ => new List<Lesson>());
        var lessons = new List<Lesson>();
        for (int i = 0; i < count; i++)
        {
            var r = Relations[i % Relations.Length];
            string s, o, old;
            int tries = 0;
            do s = r.Subject(g); while (!subjects.Add(s) && ++tries < 1000);
            do o = r.Value(g); while (!values.Add(o) && ++tries < 2000);
            do old = r.Value(g); while (!values.Add(old) && ++tries < 3000);
            if (tries >= 3000) throw new EngramException($"lessons: cannot make {count} distinct lessons");
            string Fill(string t) => t.Replace("{s}", s).Replace("{o}", o);
            var earlier = byRelation[r.Name];
            var lesson = new Lesson($"{r.Name}-{earlier.Count + 1}", Fill(r.Statement), Fill(r.Prompt), " " + o, " " + old,
                r.Paraphrases.Select(p => new LessonCheck(Fill(p), " " + o)).ToArray(),
                earlier.Skip(Math.Max(0, earlier.Count - 3)).Select(e => new LessonCheck(e.Prompt, e.Answer)).ToArray());
            earlier.Add(lesson);
            lessons.Add(lesson);
        }
        return lessons;
    }
}
