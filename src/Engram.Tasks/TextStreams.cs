// Built-in text streams for the continual learner's measurements (no data files needed): an English-like filler
// generator with a few selectable "domains" (different vocabularies), and the long-range recall probe of
// docs/continual_learner.md — facts planted once or several times, asked for after N bytes of other text.
using System.Text;
using Engram.Tensors;

namespace Engram.Tasks;

/// <summary>Endless English-like sentences from a small grammar; a seed fixes the text, a domain its vocabulary.
/// No digits, so planted codes are the only digits in a stream.</summary>
public sealed class FillerText
{
    public enum Domain { Countryside, Sea, Kitchen }

    static readonly string[][] Nouns =
    [
        ["farmer", "horse", "meadow", "river", "mill", "barn", "shepherd", "hill", "orchard", "village", "cart", "fence", "lantern", "well",
            "goose"],
        ["sailor", "ship", "harbour", "wave", "mast", "anchor", "gull", "captain", "island", "storm", "net", "lighthouse", "rope", "deck",
            "whale"],
        ["cook", "oven", "bread", "spoon", "kettle", "onion", "butter", "pot", "table", "apron", "soup", "knife", "cellar", "honey", "pie"],
    ];
    static readonly string[][] Verbs =
    [
        ["watched", "crossed", "followed", "found", "left", "passed", "mended", "visited", "guarded", "remembered"],
        ["sighted", "boarded", "steered past", "hauled", "tied", "rowed to", "feared", "signalled", "circled", "abandoned"],
        ["stirred", "baked", "tasted", "sliced", "warmed", "carried", "cleaned", "filled", "covered", "served"],
    ];
    static readonly string[] Adjectives = ["old", "quiet", "small", "bright", "tired", "distant", "heavy", "gentle", "cold", "busy",
        "patient", "careful"];
    static readonly string[] Connectives = ["while", "because", "after", "before", "and then", "so", "although", "until"];
    static readonly string[] Times = ["at dawn", "in the evening", "every morning", "once again", "for a while", "without a word",
        "as usual", "before noon"];

    readonly Generator _rng;
    readonly int _domain;

    public FillerText(ulong seed, Domain domain = Domain.Countryside) { _rng = new Generator(seed); _domain = (int)domain; }

    string Pick(string[] xs) => xs[_rng.NextInt(xs.Length)];
    string NounPhrase() => $"the {Pick(Adjectives)} {Pick(Nouns[_domain])}";

    /// <summary>One sentence, ending in ". " (sometimes a newline).</summary>
    public string Sentence()
    {
        var s = $"{NounPhrase()} {Pick(Verbs[_domain])} {NounPhrase()}";
        if (_rng.NextInt(3) == 0) s += $" {Pick(Connectives)} {NounPhrase()} {Pick(Verbs[_domain])} {NounPhrase()}";
        if (_rng.NextInt(2) == 0) s += " " + Pick(Times);
        return char.ToUpperInvariant(s[0]) + s[1..] + (_rng.NextInt(6) == 0 ? ".\n" : ". ");
    }

    /// <summary>Appends whole sentences until at least `length` bytes were added.</summary>
    public void Append(StringBuilder sb, int length)
    {
        int target = sb.Length + length;
        while (sb.Length < target) sb.Append(Sentence());
    }

    public string Text(int length) { var sb = new StringBuilder(); Append(sb, length); return sb.ToString(); }
}

/// <summary>Filler from a user's text: consecutive pieces of it, wrapping around.</summary>
public sealed class FileFiller(string text)
{
    int _pos;
    public void Append(StringBuilder sb, int length)
    {
        if (text.Length == 0) throw new EngramException("filler text is empty");
        for (int left = length; left > 0;)
        {
            int n = Math.Min(left, text.Length - _pos);
            sb.Append(text, _pos, n); left -= n; _pos = (_pos + n) % text.Length;
        }
    }
}

/// <summary>One planted fact: "The code of the amber gate is 4817."</summary>
public sealed record Fact(string Key, string Code)
{
    public string Statement => $"The code of the {Key} is {Code}. ";
    public string Question => $"The code of the {Key} is ";
}

/// <summary>A recall stream: lead-in filler, then K facts planted one after another (each `repeats` times, 40 bytes
/// apart), each asked for (question, then its answer, as the stream goes on) once at least `distance` bytes of other
/// text followed its last planting. `AnswerOffsets`
/// gives, per fact, the stream offsets of the code's digits, where the learner's predictions are scored.</summary>
public sealed class RecallStream
{
    static readonly string[] Materials = ["amber", "silver", "copper", "iron", "jade", "ivory", "marble", "cedar", "crystal", "bronze",
        "golden", "oaken", "granite", "velvet", "scarlet", "azure"];
    static readonly string[] Things = ["gate", "door", "vault", "chest", "tower", "bridge", "cellar", "locker", "hatch", "cabinet"];

    public byte[] Bytes { get; }
    public IReadOnlyList<Fact> Facts { get; }
    public IReadOnlyList<int[]> AnswerOffsets { get; }
    /// <summary>Bytes from the end of each fact's last planting to its question.</summary>
    public IReadOnlyList<int> Distances { get; }

    public RecallStream(int facts, int distance, int repeats, int leadIn, ulong seed, Action<StringBuilder, int>? filler = null)
    {
        if (facts < 1 || facts > Materials.Length * Things.Length)
            throw new EngramException($"recall: facts must be in 1..{Materials.Length * Things.Length}, got {facts}");
        if (repeats < 1) throw new EngramException($"recall: repeats must be ≥ 1, got {repeats}");
        var rng = new Generator(seed);
        var text = new FillerText(seed ^ 0x5EED);
        filler ??= text.Append;
        var keys = Materials.SelectMany(m => Things.Select(t => $"{m} {t}")).OrderBy(_ => rng.NextUInt64()).Take(facts).ToArray();
        var list = keys.Select(k => new Fact(k, $"{1 + rng.NextInt(9)}{rng.NextInt(10)}{rng.NextInt(10)}{rng.NextInt(10)}")).ToArray();
        var sb = new StringBuilder();
        filler(sb, leadIn);
        var offsets = new int[facts][]; var distances = new int[facts];
        var due = new Queue<(int Fact, int PlantedEnd)>();
        void Ask(int i, int plantedEnd)
        {
            sb.Append(list[i].Question);
            distances[i] = sb.Length - plantedEnd;
            offsets[i] = Enumerable.Range(sb.Length, list[i].Code.Length).ToArray();
            sb.Append(list[i].Code).Append(". ");
        }
        // Plant fact by fact; each question comes as soon as `distance` bytes have passed since its last planting.
        for (int i = 0; i < facts; i++)
        {
            int end = 0;
            for (int r = 0; r < repeats; r++)
            {
                sb.Append(list[i].Statement);
                end = sb.Length;
                filler(sb, 40);
            }
            due.Enqueue((i, end));
            while (due.Count > 0 && sb.Length - due.Peek().PlantedEnd >= distance)
            {
                var (f, e) = due.Dequeue();
                Ask(f, e);
                filler(sb, 40);
            }
        }
        while (due.Count > 0)
        {
            var (f, e) = due.Dequeue();
            int gap = distance - (sb.Length - e);
            if (gap > 0) filler(sb, gap);
            Ask(f, e);
            filler(sb, 40);
        }
        Bytes = Encoding.ASCII.GetBytes(sb.ToString());
        Facts = list; AnswerOffsets = offsets; Distances = distances;
    }
}
