// Facts to plant in a stream and ask for later (the recall benchmark): several templates, each a prompt that names a
// key and a value that completes it. Keys are unique within a set; so are values. Invented words (countries, cities,
// names) are built from syllables, so the filler text cannot already know them.
using System.Text;
using Engram.Tensors;

namespace Engram.Tasks;

/// <summary>A fact: Prompt + Value + Ending is its statement; the prompt alone asks for it.</summary>
public sealed record PlantedFact(string Template, string Key, string Prompt, string Value, string Ending = ".")
{
    public string Statement => Prompt + Value + Ending;
    /// <summary>The same key with another value (an update restates the fact in the same words).</summary>
    public PlantedFact WithValue(string value) => this with { Value = value };
}

public static class FactTemplates
{
    /// <summary>code: "The code of the amber gate is 4817."; capital: "The capital of Velkarin is Dorsul."; locker:
    /// "Locker 318 holds the green umbrella."; name: "The keeper of the quiet lighthouse is named Talbeth."; room: keys
    /// that share a 66-byte prefix, "The code of the door in the north tower of the old castle, room 17, is 5023."</summary>
    public static readonly string[] Names = ["code", "capital", "locker", "name", "room"];

    static readonly string[] Materials = ["amber", "silver", "copper", "iron", "jade", "ivory", "marble", "cedar", "crystal", "bronze",
        "golden", "oaken", "granite", "velvet", "scarlet", "azure"];
    static readonly string[] Things = ["gate", "door", "vault", "chest", "tower", "bridge", "cellar", "locker", "hatch", "cabinet"];
    static readonly string[] Colours = ["green", "red", "blue", "yellow", "black", "white", "grey", "purple", "orange", "brown"];
    static readonly string[] Objects = ["umbrella", "lantern", "violin", "helmet", "teapot", "compass", "blanket", "ladder", "clock",
        "basket", "kettle", "mirror"];
    static readonly string[] Adjectives = ["quiet", "northern", "old", "broken", "hidden", "eastern", "tall", "sunken", "painted",
        "lonely", "windy", "narrow"];
    static readonly string[] Places = ["lighthouse", "orchard", "library", "harbour", "mill", "chapel", "bridge", "garden", "tower",
        "market", "well", "forge"];
    static readonly string[] Syllables = ["ka", "lo", "ven", "mar", "ti", "sul", "dor", "ra", "bel", "quin", "zo", "ther", "ni", "gal",
        "mo", "rin", "vel", "tas", "ur", "phe"];

    /// <summary>How many distinct facts a template can make (keys, or values where those are fewer).</summary>
    public static int KeysOf(string template) => template switch
    {
        "code" => Materials.Length * Things.Length,
        "capital" => 2000,
        "locker" => Colours.Length * Objects.Length, // bounded by its values (a colour and an object)
        "name" => Adjectives.Length * Places.Length,
        "room" => 90,
        _ => throw new EngramException($"unknown fact template '{template}' (expected one of: {string.Join(", ", Names)})"),
    };

    static string Word(Generator rng, int syllables)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < syllables; i++) sb.Append(Syllables[rng.NextInt(Syllables.Length)]);
        return char.ToUpperInvariant(sb[0]) + sb.ToString(1, sb.Length - 1);
    }

    /// <summary>A value of the template's kind (a code, a city, an object, a name).</summary>
    public static string NewValue(string template, Generator rng) => template switch
    {
        "code" or "room" => $"{1 + rng.NextInt(9)}{rng.NextInt(10)}{rng.NextInt(10)}{rng.NextInt(10)}",
        "capital" => Word(rng, 2 + rng.NextInt(2)),
        "locker" => $"{Colours[rng.NextInt(Colours.Length)]} {Objects[rng.NextInt(Objects.Length)]}",
        "name" => Word(rng, 2 + rng.NextInt(2)),
        _ => throw new EngramException($"unknown fact template '{template}' (expected one of: {string.Join(", ", Names)})"),
    };

    static (string Key, string Prompt) NewKey(string template, Generator rng) => template switch
    {
        "code" => Key($"{Materials[rng.NextInt(Materials.Length)]} {Things[rng.NextInt(Things.Length)]}", k => $"The code of the {k} is "),
        "capital" => Key(Word(rng, 3), k => $"The capital of {k} is "),
        "locker" => Key($"{100 + rng.NextInt(900)}", k => $"Locker {k} holds the "),
        "name" => Key($"{Adjectives[rng.NextInt(Adjectives.Length)]} {Places[rng.NextInt(Places.Length)]}",
            k => $"The keeper of the {k} is named "),
        "room" => Key($"{10 + rng.NextInt(90)}", k => $"The code of the door in the north tower of the old castle, room {k}, is "),
        _ => throw new EngramException($"unknown fact template '{template}' (expected one of: {string.Join(", ", Names)})"),
    };

    static (string, string) Key(string key, Func<string, string> prompt) => (key, prompt(key));

    /// <summary>`count` facts of a template with distinct keys and distinct values, from a seed.</summary>
    public static PlantedFact[] Make(string template, int count, ulong seed)
    {
        int keys = KeysOf(template);
        if (count < 1 || count > keys / 2)
            throw new EngramException($"recall: the {template} template holds 1..{keys / 2} facts, asked for {count}");
        var rng = new Generator(seed);
        var facts = new List<PlantedFact>();
        var (usedKeys, usedValues) = (new HashSet<string>(), new HashSet<string>());
        while (facts.Count < count)
        {
            var (key, prompt) = NewKey(template, rng);
            var value = NewValue(template, rng);
            if (usedKeys.Add(key) && usedValues.Add(value)) facts.Add(new PlantedFact(template, key, prompt, value));
        }
        return [.. facts];
    }

    /// <summary>A new value for each fact, different from its old one and from every other value in the set.</summary>
    public static PlantedFact[] Update(IReadOnlyList<PlantedFact> facts, ulong seed)
    {
        var rng = new Generator(seed);
        var used = facts.Select(f => f.Value).ToHashSet();
        return facts.Select(f =>
        {
            string v;
            do v = NewValue(f.Template, rng); while (!used.Add(v));
            return f.WithValue(v);
        }).ToArray();
    }
}
