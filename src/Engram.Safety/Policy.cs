// Gates: a brain's policy (policy.json in its folder) says what an update may do. Every update made through
// VersionedBrain.Apply (chat turns, lessons, the IChatClient) is tried, measured against the version before it on the
// brain's probe set (probes.json in its folder, else the built-in set) and the lessons taught so far, and accepted only
// when it stays within every threshold set; a rejected update is rolled back (the brain stays at its version) and logged
// with its bytes and the reason. In quarantine, `learn` streams are gated too, one saved stretch at a time.
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Engram.Tensors;
using Engram.Tensors.IO;

namespace Engram.Safety;

public sealed record Policy
{
    public const string FileName = "policy.json";
    public const string ProbesName = "probes.json";

    /// <summary>Most KL(p_before ‖ p_after) on the probe texts, bits per byte.</summary>
    public double? MaxKl { get; init; }
    /// <summary>Most increase of bits per byte on the probe texts.</summary>
    public double? MaxDeltaBitsPerByte { get; init; }
    /// <summary>Most share of canaries right before and wrong after.</summary>
    public double? MaxFlipRate { get; init; }
    /// <summary>Most rise of any right canary answer's bits per byte (a canary pushed toward another answer, flipped or not).</summary>
    public double? MaxCanaryRise { get; init; }
    /// <summary>Least share of the lessons recalled before that are still recalled after.</summary>
    public double? MinRetention { get; init; }
    /// <summary>Gate `learn` streams too (each saved stretch).</summary>
    public bool Quarantine { get; init; }

    [JsonIgnore]
    public bool Gates => MaxKl is not null || MaxDeltaBitsPerByte is not null || MaxFlipRate is not null || MinRetention is not null
        || MaxCanaryRise is not null;

    static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>The brain's policy (none: no gates).</summary>
    public static Policy Load(string dir)
    {
        var path = Path.Combine(dir, FileName);
        if (!File.Exists(path)) return new Policy();
        try
        {
            var p = JsonSerializer.Deserialize<Policy>(File.ReadAllBytes(path), Json)
                ?? throw new InvalidFileException($"{path}: empty policy");
            p.Validate(path);
            return p;
        }
        catch (JsonException e)
        {
            throw new InvalidFileException($"{path}: not a valid policy ({e.Message.Split(". ")[0].ReplaceLineEndings(" ")})");
        }
    }

    public void Validate(string where)
    {
        void Check(double? v, string name, double max)
        {
            if (v is double x && !(x >= 0 && x <= max))
                throw new InvalidFileException($"{where}: {name} {x.ToString(CultureInfo.InvariantCulture)} is outside 0..{max}");
        }
        Check(MaxKl, "max_kl", 64);
        Check(MaxDeltaBitsPerByte, "max_delta_bits_per_byte", 64);
        Check(MaxFlipRate, "max_flip_rate", 1);
        Check(MinRetention, "min_retention", 1);
        Check(MaxCanaryRise, "max_canary_rise", 64);
    }

    public void Save(string dir) => AtomicFile.WriteAllBytes(Path.Combine(dir, FileName), System.Text.Encoding.UTF8.GetBytes(ToJson()));

    /// <summary>The probes the gates measure with: the brain's probes.json, else the built-in set.</summary>
    public static ProbeSet Probes(string dir) =>
        File.Exists(Path.Combine(dir, ProbesName)) ? ProbeSet.Load(Path.Combine(dir, ProbesName)) : ProbeSet.Default;

    /// <summary>Why an update fails the policy, or null when it passes.</summary>
    public string? Violation(DriftPoint d, double? retention)
    {
        var why = new List<string>();
        string F(double x) => x.ToString("0.####", CultureInfo.InvariantCulture);
        if (MaxKl is double k && d.Kl > k) why.Add($"probe KL {F(d.Kl)} > {F(k)}");
        if (MaxDeltaBitsPerByte is double b && d.DeltaBitsPerByte > b) why.Add($"probe Δ bits per byte {F(d.DeltaBitsPerByte)} > {F(b)}");
        if (MaxFlipRate is double f && d.NegativeFlipRate > f) why.Add($"negative flip rate {F(d.NegativeFlipRate)} > {F(f)}");
        if (MinRetention is double r && retention is double got && got < r) why.Add($"lesson retention {F(got)} < {F(r)}");
        if (MaxCanaryRise is double c && d.CanaryDeltaBits > c) why.Add($"canary answer rise {F(d.CanaryDeltaBits)} > {F(c)} bits/byte");
        return why.Count == 0 ? null : string.Join("; ", why);
    }
}
