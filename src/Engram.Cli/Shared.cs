// What every command shares: exit codes, the options that mean the same thing everywhere (--json, --threads,
// --model, --set), typed parsers for sizes and lists, JSON output through System.Text.Json, progress lines, and the
// checks on input and output paths made before any work starts.
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Engram.Learning;
using Engram.Models;
using Engram.Tensors;

namespace Engram.Cli;

/// <summary>The exit codes of every command (README, "Exit codes").</summary>
static class ExitCode
{
    public const int Success = 0;
    /// <summary>A command that checks an answer (solve) found it wrong.</summary>
    public const int WrongAnswer = 1;
    /// <summary>Bad input or usage: a malformed option, a missing or corrupt file, an unwritable output.</summary>
    public const int BadInput = 2;
    /// <summary>A bug in Engram: the message says what failed; ENGRAM_DEBUG=1 prints the stack trace.</summary>
    public const int InternalError = 3;
}

static class Shared
{
    public static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>One naming policy for all machine-readable output (Engram.Experiments.JsonLines): snake_case fields, one
    /// object per line.</summary>
    public static JsonSerializerOptions JsonOptions => Engram.Experiments.JsonLines.Options;

    public static void WriteJson<T>(T record) => Console.WriteLine(JsonSerializer.Serialize(record, JsonOptions));

    public static readonly Option<bool> Json = new("--json") { Description = "Machine-readable output: one JSON object per line." };

    /// <summary>--threads: kernel threads. Results never depend on it. Default: each command's own (1 for the stream
    /// learner, whose context counts use the second core; all cores for training and the engine benchmarks).</summary>
    public static readonly Option<int?> Threads = new("--threads")
    {
        Description = "Threads for kernels (default: 1 for learn/compress/decompress/generate/demo, all cores otherwise); " +
            "results do not depend on it.",
        CustomParser = r => ParseInt(r, 1, 1024),
    };

    /// <summary>Says on standard error how a versioned brain was repaired on open, if it was, and anything it warns of
    /// later (a snapshot that could not be written).</summary>
    public static void Tell(Engram.Safety.VersionedBrain brain, string dir)
    {
        if (brain.Repair is { } repair) Console.Error.WriteLine($"{dir}: {repair}");
        brain.Warning = m => Console.Error.WriteLine($"{dir}: {m}");
    }

    public static void ApplyThreads(ParseResult parse, int defaultThreads) =>
        Engine.MaxThreads = parse.GetValue(Threads) ?? Math.Clamp(defaultThreads, 1, 1024);

    public static readonly Option<string> Model = ChoiceOption("--model", "Model preset", Presets.Default, [.. Presets.All.Keys]);

    public static readonly Option<string[]> Set = new("--set")
    {
        Description = "Override a setting, e.g. --set Dim=96 --set Chunk=32 --set FastWeight.Inner=Mlp (model or learner field names; " +
            "repeat --set for each).",
    };

    /// <summary>An integer option with bounds; a malformed value is a one-line parse error naming the option.</summary>
    public static Option<int> IntOption(string name, string description, int defaultValue, int min = 0, int max = int.MaxValue) =>
        new(name)
        {
            Description = description, DefaultValueFactory = _ => defaultValue,
            CustomParser = r => ParseInt(r, min, max) ?? defaultValue
        };

    public static Option<int?> OptionalInt(string name, string description, int min = 0, int max = int.MaxValue) =>
        new(name) { Description = description, CustomParser = r => ParseInt(r, min, max) };

    public static Option<double?> OptionalDouble(string name, string description, double min, double max) =>
        new(name) { Description = description, CustomParser = r => ParseDouble(r, min, max) };

    /// <summary>--seed: every command that draws random numbers takes one, and the same seed gives the same result.</summary>
    public static Option<ulong> Seed(string description) =>
        new("--seed")
        {
            Description = description, DefaultValueFactory = _ => 1, CustomParser = r =>
        {
            var text = r.Tokens[^1].Value;
            if (ulong.TryParse(text, NumberStyles.Integer, Inv, out var v)) return v;
            r.AddError($"--seed '{text}': expected a whole number from 0 to {ulong.MaxValue}");
            return 1;
        }
        };

    static double? ParseDouble(ArgumentResult r, double min, double max)
    {
        if (r.Tokens.Count == 0) return null;
        var text = r.Tokens[^1].Value;
        if (!double.TryParse(text, NumberStyles.Float, Inv, out double v) || !(v >= min && v <= max))
        {
            r.AddError($"{OptionName(r)} '{text}': expected a number from {min.ToString(Inv)} to {max.ToString(Inv)}");
            return null;
        }
        return v;
    }

    public static Option<long> SizeOption(string name, string description, long defaultValue, long min = 0) =>
        new(name)
        {
            Description = description + " (bytes; suffixes KB, MB, GB)", DefaultValueFactory = _ => defaultValue,
            CustomParser = r => ParseSizes(r, min) is { Length: > 0 } s ? s[0] : defaultValue
        };

    public static Option<long[]> SizesOption(string name, string description, long[] defaultValue, long min = 0) =>
        new(name)
        {
            Description = description + " (comma-separated sizes with KB, MB, GB)", DefaultValueFactory = _ => defaultValue,
            CustomParser = r => ParseSizes(r, min)
        };

    public static Option<int[]> IntsOption(string name, string description, int[] defaultValue, int min = 0, int max = int.MaxValue) =>
        new(name)
        {
            Description = description + " (comma-separated)", DefaultValueFactory = _ => defaultValue,
            CustomParser = r => ParseInts(r, min, max)
        };

    /// <summary>One value from a fixed list; anything else is a one-line parse error listing the choices.</summary>
    public static Option<string> ChoiceOption(string name, string description, string defaultValue, IReadOnlyCollection<string> allowed) =>
        new(name)
        {
            Description = description + $": {string.Join(", ", allowed)} (default {defaultValue}).",
            DefaultValueFactory = _ => defaultValue,
            CustomParser = r => ParseChoices(r, allowed) is [var one] ? one : Single(r, defaultValue)
        };

    static string Single(ArgumentResult r, string fallback)
    {
        if (r.Tokens.Count > 0 && !r.Tokens[^1].Value.Contains(',')) return fallback; // ParseChoices reported it
        r.AddError($"{OptionName(r)}: expected one value");
        return fallback;
    }

    /// <summary>Checks a folder to be written (created if missing) before any work.</summary>
    public static string CheckFolder(string folder)
    {
        if (File.Exists(folder)) throw new EngramException($"{folder}: is a file, expected a folder");
        var full = Path.GetFullPath(folder);
        var existing = full;
        while (!Directory.Exists(existing))
        {
            if (File.Exists(existing)) throw new EngramException($"{folder}: {existing} is a file");
            existing = Path.GetDirectoryName(existing) ?? throw new EngramException($"{folder}: no such place");
        }
        ProbeWritable(existing, folder);
        return full;
    }

    public static Option<string[]> ChoicesOption(string name, string description, string[] defaultValue,
        IReadOnlyCollection<string> allowed) =>
        new(name)
        {
            Description = description + $" (comma-separated: {string.Join(", ", allowed)})",
            DefaultValueFactory = _ => defaultValue, CustomParser = r => ParseChoices(r, allowed)
        };

    static string OptionName(ArgumentResult r) => r.Parent is OptionResult o ? o.Option.Name : r.Argument.Name;

    static IEnumerable<string> Items(ArgumentResult r) =>
        r.Tokens.SelectMany(t => t.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    static int? ParseInt(ArgumentResult r, int min, int max)
    {
        if (r.Tokens.Count == 0) return null;
        var text = r.Tokens[^1].Value;
        if (!int.TryParse(text, NumberStyles.Integer, Inv, out int v) || v < min || v > max)
        {
            r.AddError($"{OptionName(r)} '{text}': expected a whole number from {min} to {max}");
            return null;
        }
        return v;
    }

    static int[] ParseInts(ArgumentResult r, int min, int max)
    {
        var values = new List<int>();
        foreach (var item in Items(r))
        {
            if (!int.TryParse(item, NumberStyles.Integer, Inv, out int v) || v < min || v > max)
            {
                r.AddError($"{OptionName(r)} '{item}': expected whole numbers from {min} to {max}, separated by commas");
                return [];
            }
            values.Add(v);
        }
        if (values.Count == 0) r.AddError($"{OptionName(r)}: expected at least one value");
        return [.. values];
    }

    static string[] ParseChoices(ArgumentResult r, IReadOnlyCollection<string> allowed)
    {
        var values = Items(r).ToArray();
        foreach (var v in values)
            if (!allowed.Contains(v)) { r.AddError($"{OptionName(r)} '{v}': expected one of {string.Join(", ", allowed)}"); return []; }
        if (values.Length == 0) r.AddError($"{OptionName(r)}: expected at least one value");
        return values;
    }

    /// <summary>Parses a size such as 1000, 10KB, 1.5MB or 2GB (decimal units); null when it is not one.</summary>
    public static long? ParseSize(string text)
    {
        var u = text.Trim().ToUpperInvariant();
        double scale = 1;
        foreach (var (suffix, s) in new[] { ("GB", 1e9), ("MB", 1e6), ("KB", 1e3), ("B", 1.0) })
            if (u.EndsWith(suffix, StringComparison.Ordinal)) { scale = s; u = u[..^suffix.Length].TrimEnd(); break; }
        if (!double.TryParse(u, NumberStyles.Float, Inv, out var v) || !double.IsFinite(v) || v < 0 || v * scale > long.MaxValue / 2)
            return null;
        return (long)Math.Round(v * scale);
    }

    static long[] ParseSizes(ArgumentResult r, long min)
    {
        var values = new List<long>();
        foreach (var item in Items(r))
        {
            if (ParseSize(item) is not long v || v < min)
            {
                r.AddError($"{OptionName(r)} '{item}': expected a size of at least {min} bytes, e.g. 1000, 10KB or 1MB");
                return [];
            }
            values.Add(v);
        }
        if (values.Count == 0) r.AddError($"{OptionName(r)}: expected at least one size");
        return [.. values];
    }

    /// <summary>The model and learner configuration from --model and --set (`NAME=VALUE`, NAME a field of either).</summary>
    public static (LmConfig Model, LearnerConfig Learner) Configure(ParseResult parse)
    {
        var preset = parse.GetValue(Model)!;
        var model = Presets.Get(preset);
        var learner = LearnerConfig.ForPreset(preset);
        var sets = parse.GetValue(Set) ?? [];
        if (sets.Length == 0) return (model, learner);
        var m = JsonNode.Parse(model.ToJson())!.AsObject();
        var l = JsonNode.Parse(learner.ToJson())!.AsObject();
        foreach (var s in sets)
        {
            int eq = s.IndexOf('=');
            if (eq <= 0) throw new EngramException($"--set '{s}': expected NAME=VALUE");
            var path = s[..eq].Split('.');
            var value = s[(eq + 1)..];
            JsonObject target = m.ContainsKey(path[0]) ? m : l.ContainsKey(path[0]) ? l
                : throw new EngramException($"--set '{s}': no setting named '{path[0]}' " +
                    $"(model: {string.Join(", ", m.Select(kv => kv.Key))}; learner: {string.Join(", ", l.Select(kv => kv.Key))})");
            Type type = ReferenceEquals(target, m) ? typeof(LmConfig) : typeof(LearnerConfig);
            for (int i = 0; i + 1 < path.Length; i++)
            {
                target = target[path[i]] as JsonObject ?? throw new EngramException($"--set '{s}': '{path[i]}' has no fields");
                type = type.GetProperty(path[i])?.PropertyType ?? typeof(object);
            }
            var old = target[path[^1]] ?? throw new EngramException($"--set '{s}': no setting named '{path[^1]}'");
            target[path[^1]] = SetValue(s, old, value, type.GetProperty(path[^1])?.PropertyType);
        }
        LmConfig newModel;
        LearnerConfig newLearner;
        try
        {
            newModel = LmConfig.FromJson(m.ToJsonString()) with { Preset = model.Preset + "+" };
            newLearner = LearnerConfig.FromJson(l.ToJsonString());
        }
        catch (Exception e) when (e is JsonException or FormatException or ArgumentException or InvalidOperationException)
        {
            throw new EngramException($"--set: a value has the wrong type for its setting ({FirstLine(e.Message)})");
        }
        newModel.Validate();
        newLearner.Validate();
        return (newModel, newLearner);
    }

    /// <summary>The new value of a setting, parsed as the setting's C# type says (whole numbers, numbers, booleans,
    /// enumerations by name, lists of whole numbers).</summary>
    static JsonNode SetValue(string set, JsonNode old, string value, Type? type)
    {
        var plain = type is null ? null : Nullable.GetUnderlyingType(type) ?? type;
        bool isInteger = plain == typeof(int) || plain == typeof(long);
        if (type is { IsEnum: true })
        {
            var name = Enum.GetNames(type).FirstOrDefault(n => string.Equals(n, value, StringComparison.OrdinalIgnoreCase))
                ?? throw new EngramException($"--set '{set}': expected one of {string.Join(", ", Enum.GetNames(type))}, got '{value}'");
            return JsonValue.Create(name);
        }
        JsonNode Number(string v)
        {
            if (isInteger)
                return long.TryParse(v, NumberStyles.Integer, Inv, out var n) ? JsonValue.Create(n)
                    : throw new EngramException($"--set '{set}': expected a whole number, got '{v}'");
            return double.TryParse(v, NumberStyles.Float, Inv, out var d) && double.IsFinite(d) ? JsonValue.Create(d)
                : throw new EngramException($"--set '{set}': expected a number, got '{v}'");
        }
        return old.GetValueKind() switch
        {
            JsonValueKind.Number => Number(value),
            JsonValueKind.True or JsonValueKind.False => bool.TryParse(value, out var b) ? JsonValue.Create(b)
                : throw new EngramException($"--set '{set}': expected true or false, got '{value}'"),
            JsonValueKind.Array => new JsonArray(value.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(v =>
                (JsonNode)(int.TryParse(v, NumberStyles.Integer, Inv, out var n) ? JsonValue.Create(n)
                    : throw new EngramException($"--set '{set}': expected whole numbers separated by commas, got '{v}'"))).ToArray()),
            _ => JsonValue.Create(value),
        };
    }

    static string FirstLine(string message) => message.Split('\n')[0].Split(" Path:")[0];

    /// <summary>An input file, or - for standard input; a missing file fails before any work.</summary>
    /// <summary>--filler: a text file, "generated" (null: the built-in prose), or by default the real corpora of shared/data
    /// when found (else the built-in prose).</summary>
    public static (string Name, string Text)? Filler(string? file) => file switch
    {
        null => Experiments.FillerSource.FindRealText(),
        "generated" => null,
        _ => File.Exists(file) ? (Path.GetFileName(file), File.ReadAllText(file))
            : throw new EngramException($"--filler {file}: no such file (expected a text file or 'generated')"),
    };

    public static Stream OpenInput(string file, out long? length)
    {
        if (file == "-") { length = null; return Console.OpenStandardInput(); }
        if (Directory.Exists(file)) throw new EngramException($"{file}: is a folder, expected a file");
        if (!File.Exists(file)) throw new EngramException($"{file}: no such file");
        var s = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16);
        length = s.CanSeek ? s.Length : null;
        return s;
    }

    /// <summary>Checks an output path before any work: - is standard output; an existing output must be a regular file
    /// (it is replaced) and not the input; its folder must exist and be writable. Returns the path to write (a symbolic
    /// link is followed to its target, so the link itself is kept).</summary>
    public static string CheckOutput(string output, string? input)
    {
        if (output == "-") return output;
        if (Directory.Exists(output)) throw new EngramException($"{output}: is a folder, expected a file to write");
        var full = ResolveLinks(output);
        if (full is null) throw new EngramException($"{output}: a link to something that is not a file");
        if (IsSpecial(full))
            throw new EngramException($"{output}: not a regular file (a device, pipe or socket); write to - for standard output");
        if (input is not null && input != "-" && File.Exists(input) && ResolveLinks(input) == full)
            throw new EngramException($"{output}: is the input file; choose another output");
        var dir = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(dir)) throw new EngramException($"{output}: the folder {dir} does not exist");
        ProbeWritable(dir, output);
        return full;
    }

    /// <summary>The full path a file path names once symbolic links are followed (itself when it is no link or does not
    /// exist yet); null for a link whose target is missing or not a file.</summary>
    static string? ResolveLinks(string path)
    {
        var info = new FileInfo(Path.GetFullPath(path));
        if (!info.Exists || info.LinkTarget is null) return info.FullName;
        return info.ResolveLinkTarget(returnFinalTarget: true) is FileInfo { Exists: true } target ? target.FullName : null;
    }

    /// <summary>Fails with a clear error, before any work, when nothing can be written in `dir`.</summary>
    static void ProbeWritable(string dir, string shown)
    {
        var probe = Path.Combine(dir, $".engram-probe-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try { using (File.Create(probe)) { } File.Delete(probe); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new EngramException($"{shown}: cannot write in {dir} ({e.Message})");
        }
    }

    /// <summary>Whether an existing path is something other than a regular file or folder (a FIFO, socket or device),
    /// asked of the runtime's own stat (FileInfo reports those as ordinary files).</summary>
    static bool IsSpecial(string path)
    {
        if (!File.Exists(path)) return false;
        if (OperatingSystem.IsWindows()) return (File.GetAttributes(path) & FileAttributes.Device) != 0;
        try
        {
            Span<byte> status = stackalloc byte[512];
            if (UnixStat.Stat(path, ref status[0]) != 0) return false;
            int mode = BitConverter.ToInt32(status[4..8]);
            return (mode & 0xF000) != 0x8000 && (mode & 0xF000) != 0x4000; // neither S_IFREG nor S_IFDIR
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return path.StartsWith("/dev/", StringComparison.Ordinal);
        }
    }

    /// <summary>Writes through `write` to `path` atomically (temp, flush, rename, only if `write` returns), or straight to
    /// standard output for -.</summary>
    public static void WriteOutput(string path, Action<Stream> write)
    {
        if (path == "-")
        {
            using var stdout = Console.OpenStandardOutput();
            using var buffered = new BufferedStream(stdout, 1 << 16);
            write(buffered);
            return;
        }
        Engram.Tensors.IO.AtomicFile.Write(path, write);
    }
}

static partial class UnixStat
{
    // .NET's own native shim (libSystem.Native), whose FileStatus struct it defines the same on every Unix: Mode at byte 4.
    [System.Runtime.InteropServices.LibraryImport("libSystem.Native", EntryPoint = "SystemNative_Stat",
        StringMarshalling = System.Runtime.InteropServices.StringMarshalling.Utf8)]
    internal static partial int Stat(string path, ref byte status);
}

/// <summary>Progress lines on stderr (bytes, bits per byte, rate, ETA), or JSON lines on stdout every 10 s.</summary>
sealed class ConsoleProgress(bool json, bool quiet = false) : IProgress<LearnProgress>
{
    double _lastJson = -10;

    public sealed record Line(long ProgressBytes, double BitsPerByte, double BytesPerSecond, double? EtaSeconds);

    public void Report(LearnProgress p)
    {
        if (quiet || p.Final) return;
        if (json)
        {
            if (p.Seconds - _lastJson < 10) return;
            _lastJson = p.Seconds;
            Shared.WriteJson(new Line(p.Bytes, Math.Round(p.BitsPerByte, 6), Math.Round(p.BytesPerSecond, 1),
                p.EtaSeconds is double e ? Math.Round(e) : null));
            return;
        }
        string total = p.ExpectedBytes is long t ? $" / {t:N0}" : "";
        string eta = p.EtaSeconds is double s ? $"  ETA {s:F0} s" : "";
        Console.Error.WriteLine($"{p.Bytes,12:N0}{total} bytes  {p.BitsPerByte:F4} bits/byte  {p.BytesPerSecond / 1000:F1} KB/s{eta}");
    }
}
