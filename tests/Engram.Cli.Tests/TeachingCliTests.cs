// Teaching and a brain's history from the command line: lessons made and taught, every update a version (log, show,
// diff), rollback bit for bit, a conversation through standard input, malformed lesson files, and processes killed
// (SIGKILL) at random moments while they write a brain — after which brain and log still agree.
using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace Engram.Cli.Tests;

public sealed class TeachingCliTests : IDisposable
{
    readonly string _dir = Path.Combine(Path.GetTempPath(), "engram-teach-" + Guid.NewGuid());
    public TeachingCliTests() => Directory.CreateDirectory(_dir);
    public void Dispose() { try { Directory.Delete(_dir, true); } catch (IOException) { } }

    static (int Code, string Out, string Err) Run(params string[] args) => EngramProcess.Run(null, 300, args);

    static ProcessStartInfo Piped() =>
        new("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };

    static JsonElement[] Lines(string output) => output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
        .Select(l => JsonDocument.Parse(l).RootElement).ToArray();

    static string Ok((int Code, string Out, string Err) r)
    {
        Assert.True(r.Code == 0, r.Err);
        return r.Out;
    }

    string Prose(string name, int length, int seed)
    {
        var words = new[] { "the ", "river ", "ran ", "past ", "a ", "mill, ", "and ", "we ", "sang. ", "\n" };
        var rng = new Random(seed);
        var sb = new StringBuilder();
        while (sb.Length < length) sb.Append(words[rng.Next(words.Length)]);
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, sb.ToString(0, length));
        return path;
    }

    [Fact]
    public void LessonsAreTaughtAsVersionsThatRollBackBitForBit()
    {
        var brain = Path.Combine(_dir, "brain");
        var lessons = Path.Combine(_dir, "lessons.jsonl");
        Ok(Run("lessons", "make", "--count", "6", "--seed", "3", "-o", lessons));
        Assert.Equal(6, File.ReadAllLines(lessons).Length);
        Ok(Run("learn", Prose("a.txt", 3000, 1), "--brain", brain, "--model", "tiny"));
        var taught = Lines(Ok(Run("teach", "--brain", brain, lessons, "--json")));
        Assert.Equal(7, taught.Length); // six lessons and the summary
        Assert.Equal(Enumerable.Range(2, 6), taught.Take(6).Select(l => (int)l.GetProperty("version").GetInt64()));
        Assert.All(taught.Take(6), l => Assert.False(l.GetProperty("exact_before").GetBoolean()));
        var summary = taught[^1];
        Assert.True(summary.GetProperty("exact").GetDouble() >= 0.8, summary.ToString());
        Assert.Equal(7, summary.GetProperty("version").GetInt64());

        var log = Lines(Ok(Run("brain", "log", brain, "--json")));
        Assert.Equal(["origin", "learn", "lesson", "lesson", "lesson", "lesson", "lesson", "lesson"],
            log.Select(l => l.GetProperty("kind").GetString()));
        Assert.True(log[^1].GetProperty("current").GetBoolean());
        Assert.Contains("efficacy", log[^1].GetProperty("probe").GetString());
        string Hash(int v) => log[v].GetProperty("state_hash").GetString()!;

        // back to the brain before the lessons: identical (the hash of its rebuilt state), then the same lessons again give
        // the same states
        var back = Lines(Ok(Run("brain", "rollback", brain, "--to", "1", "--json")))[0];
        Assert.Equal(8, back.GetProperty("version").GetInt64());
        Assert.Equal(Hash(1), back.GetProperty("state_hash").GetString());
        Assert.Equal(3000, Lines(Ok(Run("brain", "info", brain, "--json")))[0].GetProperty("stream_bytes").GetInt64());
        Ok(Run("teach", "--brain", brain, lessons, "--json"));
        var again = Lines(Ok(Run("brain", "log", brain, "--json")));
        Assert.Equal(Enumerable.Range(2, 6).Select(Hash), again.Skip(9).Select(l => l.GetProperty("state_hash").GetString()));

        var shown = Lines(Ok(Run("brain", "show", brain, "--version", "4", "--json")))[0];
        Assert.True(shown.GetProperty("rebuilt").GetBoolean());
        Assert.StartsWith("The ", shown.GetProperty("text").GetString());
        Assert.Equal(Encoding.UTF8.GetBytes(shown.GetProperty("text").GetString()!),
            Encoding.UTF8.GetBytes(Ok(Run("brain", "show", brain, "--version", "4", "--data"))));
        var diff = Lines(Ok(Run("brain", "diff", brain, "--from", "1", "--to", "7", "--json")));
        Assert.True(diff[^1].GetProperty("ancestor").GetBoolean());
        Assert.Equal(log.Skip(2).Take(6).Sum(l => l.GetProperty("bytes").GetInt64()), diff[^1].GetProperty("bytes_between").GetInt64());
        Assert.True(diff[^1].GetProperty("weight_distance").GetDouble() > 0);

        // drift along the current line of descent (1, the rollback 8, the lessons taught again 9..14), from version 1
        var drift = Lines(Ok(Run("brain", "drift", brain, "--from", "1", "--json", "--png", Path.Combine(_dir, "drift.png"))));
        Assert.Equal([1L, 8, 9, 10, 11, 12, 13, 14], drift.Select(d => d.GetProperty("version").GetInt64()));
        Assert.Equal(0, drift[0].GetProperty("kl").GetDouble());
        Assert.True(drift[^1].GetProperty("kl").GetDouble() > 0);
        Assert.Equal(6, drift[^1].GetProperty("lessons").GetInt32());
        Assert.InRange(drift[^1].GetProperty("lesson_retention").GetDouble(), 0.5, 1);
        Assert.True(new FileInfo(Path.Combine(_dir, "drift.png")).Length > 1000);

        var bad = Run("brain", "rollback", brain, "--to", "99");
        Assert.Equal(2, bad.Code);
        Assert.Contains("no version 99", bad.Err);
    }

    [Fact]
    public async Task AConversationLearnsTheUsersTurnsAndOnlyTheAnswersItIsToldAreRight()
    {
        var brain = Path.Combine(_dir, "chat");
        var input = "The capital of Velkarin is Dorsul.\nWhat is the capital of Velkarin?\n/correct Dorsul.\n/teach The code is 4411.\n" +
            "/undo\n/status\n/probe\n/nonsense\n/quit\n";
        var psi = Piped();
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "engram.dll"), "chat", "--brain", brain, "--model", "tiny" })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardInput.Write(input);
        p.StandardInput.Close();
        if (!p.WaitForExit(120_000)) { p.Kill(true); Assert.Fail("chat did not end"); }
        var (output, error) = (await stdout, await stderr);
        Assert.True(p.ExitCode == 0, error);
        Assert.Equal(2, output.Split('\n').Count(l => l.StartsWith("brain>", StringComparison.Ordinal)));
        Assert.Contains("unknown command /nonsense", error);
        Assert.Matches(@"bits per byte on the probe texts, \d+ of 16 canaries right", error);
        var log = Lines(Ok(Run("brain", "log", brain, "--json")));
        // origin, two user turns, the correction, the lesson, the undo (back to the correction)
        Assert.Equal(["origin", "chat", "chat", "lesson", "lesson", "rollback"], log.Select(l => l.GetProperty("kind").GetString()));
        Assert.Equal(3, log[^1].GetProperty("parent").GetInt64());
        var learned = string.Concat(new[] { 1, 2, 3 }.Select(v => Ok(Run("brain", "show", brain, "--version", $"{v}", "--data"))));
        Assert.Equal("U: The capital of Velkarin is Dorsul.\nU: What is the capital of Velkarin?\nB: Dorsul.\n", learned);
    }

    [Fact]
    public void ABrainsGatesRejectALessonThatOverwritesACanaryFact()
    {
        var brain = Path.Combine(_dir, "gated");
        var facts = Path.Combine(_dir, "facts.txt");
        File.WriteAllText(facts, string.Concat(Enumerable.Repeat("The code of the jade door is 4411.\nthe river ran past a mill.\n", 4)));
        Ok(Run("learn", facts, "--brain", brain, "--model", "tiny"));
        var probes = Path.Combine(_dir, "probes.json");
        File.WriteAllText(probes, "{\"texts\": [\"the river ran past a mill.\"], " +
            "\"canaries\": [{\"prompt\": \"The code of the jade door is\", \"right\": \" 4411\"}]}");
        var policy = Lines(Ok(Run("brain", "policy", brain, "--max-flip-rate", "0", "--probes", probes, "--json")))[0];
        Assert.Equal(0, policy.GetProperty("max_flip_rate").GetDouble());
        Assert.True(File.Exists(Path.Combine(brain, "probes.json")));
        var lessons = Path.Combine(_dir, "poison.jsonl");
        File.WriteAllText(lessons,
            "{\"id\": \"poison\", \"statement\": \"The code of the jade door is 9090. The code of the jade door is 9090.\", " +
            "\"prompt\": \"The code of the jade door is\", \"answer\": \" 9090\"}\n" +
            "{\"id\": \"benign\", \"statement\": \"The cat of the mill is named Pim.\", \"prompt\": \"The cat of the mill is named\", " +
            "\"answer\": \" Pim\"}\n");
        var taught = Lines(Ok(Run("teach", "--brain", brain, lessons, "--json")));
        Assert.False(taught[0].GetProperty("accepted").GetBoolean());
        Assert.Contains("negative flip rate", taught[0].GetProperty("reason").GetString());
        Assert.True(taught[1].GetProperty("accepted").GetBoolean(), taught[1].ToString());
        Assert.Equal(1, taught[^1].GetProperty("rejected").GetInt32());
        var log = Lines(Ok(Run("brain", "log", brain, "--json")));
        Assert.False(log[^2].GetProperty("accepted").GetBoolean());
        Assert.Equal(log[^3].GetProperty("version").GetInt64(), log[^1].GetProperty("parent").GetInt64());
        Assert.Equal("no gates: every update is accepted",
            Ok(Run("brain", "policy", brain, "--clear")).Split('\n')[0]);
        Assert.False(File.Exists(Path.Combine(brain, "probes.json")));
    }

    /// <summary>Mounts a small tmpfs at `dir` (false where this process may not mount one).</summary>
    static bool MountSmallDisk(string dir, string size)
    {
        Directory.CreateDirectory(dir);
        try
        {
            using var p = Process.Start(new ProcessStartInfo("mount", ["-t", "tmpfs", "-o", $"size={size}", "tmpfs", dir])
            { RedirectStandardError = true })!;
            p.WaitForExit();
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception) { return false; } // no mount program
    }

    /// <summary>Teaches two lessons to a brain in `dir`, then three more through `teachWithoutRoom`, which must fail for
    /// lack of room (`reason`): one line, exit 2, nothing half-written, the log unchanged; then `makeRoom` and the same
    /// lessons are taught, the brain opening as it was left.</summary>
    void NoRoomScenario(string dir, Func<string, string, (int Code, string Out, string Err)> teachWithoutRoom, string reason,
        Action makeRoom)
    {
        var brain = Path.Combine(dir, "brain");
        var (first, second) = (Path.Combine(_dir, "first.jsonl"), Path.Combine(_dir, "second.jsonl"));
        Ok(Run("lessons", "make", "--count", "2", "--seed", "5", "-o", first));
        Ok(Run("lessons", "make", "--count", "3", "--seed", "6", "-o", second));
        Ok(Run("teach", "--brain", brain, "--model", "tiny", first));
        var log = Ok(Run("brain", "log", brain, "--json"));
        var files = Directory.GetFileSystemEntries(brain).Order().ToArray();
        var r = teachWithoutRoom(brain, second);
        Assert.Equal(2, r.Code);
        var error = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("engram:", StringComparison.Ordinal));
        Assert.Contains(reason, Assert.Single(error));
        Assert.Contains("stays at version 2", r.Err);
        Assert.DoesNotContain("   at ", r.Err);
        Assert.Equal(files, Directory.GetFileSystemEntries(brain).Order()); // nothing half-written left behind
        Assert.Equal(log, Ok(Run("brain", "log", brain, "--json")));
        makeRoom();
        var again = Run("teach", "--brain", brain, second, "--json");
        Assert.True(again.Code == 0, again.Err);
        Assert.DoesNotContain("repair", again.Err);
        Assert.Equal(6, Lines(Ok(Run("brain", "log", brain, "--json"))).Length);
    }

    [Fact]
    public void AFileSizeLimitFailsAnUpdateWithOneLineAndTheBrainAndItsLogStillAgree()
    {
        // the process may write no file over 300 KB (bash's ulimit; SIGXFSZ ignored, so writes fail with EFBIG; .NET's
        // W^X double mapping, which needs a large file, is turned off): a tiny brain (≈ 420 KB) cannot be saved
        NoRoomScenario(Path.Combine(_dir, "limited"), (brain, lessons) =>
        {
            var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
            psi.Environment["DOTNET_EnableWriteXorExecute"] = "0";
            foreach (var a in new[] { "-c", "trap '' XFSZ; ulimit -f 300; exec dotnet \"$0\" \"$@\"",
                Path.Combine(AppContext.BaseDirectory, "engram.dll"), "teach", "--brain", brain, lessons })
                psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            var (stdout, stderr) = (p.StandardOutput.ReadToEndAsync(), p.StandardError.ReadToEndAsync());
            if (!p.WaitForExit(300_000)) { p.Kill(true); Assert.Fail("teach under a file size limit did not end"); }
            return (p.ExitCode, stdout.Result, stderr.Result);
        }, "File too large", () => { });
    }

    [Fact]
    public void AFullDiskFailsAnUpdateWithOneLineAndTheBrainAndItsLogStillAgree()
    {
        var disk = Path.Combine(_dir, "small-disk");
        if (!MountSmallDisk(disk, "2m"))
        {
            // a real full disk needs a file system this process can mount (root in CI's container); the file size
            // limit test above runs everywhere
            Console.Error.WriteLine("AFullDiskFails…: not run, this process cannot mount a tmpfs");
            return;
        }
        try
        {
            var fill = Path.Combine(disk, "fill");
            NoRoomScenario(disk, (brain, lessons) =>
            {
                // fill the disk, then free half a brain file: the next version cannot be written
                using (var f = new FileStream(fill, FileMode.CreateNew))
                {
                    var block = new byte[4096];
                    try { while (true) f.Write(block); } catch (IOException) { }
                    f.SetLength(Math.Max(0, f.Length - new FileInfo(Path.Combine(brain, "brain.safetensors")).Length / 2));
                }
                return Run("teach", "--brain", brain, lessons);
            }, "No space left on device", () => File.Delete(fill));
        }
        finally
        {
            try { Process.Start("umount", ["-l", disk])!.WaitForExit(); } catch (System.ComponentModel.Win32Exception) { }
        }
    }

    [Fact]
    public void MalformedLessonFilesAreRefusedBeforeTheBrainIsTouched()
    {
        var brain = Path.Combine(_dir, "b");
        var file = Path.Combine(_dir, "bad.jsonl");
        File.WriteAllText(file, "{\"statement\": \"x\", \"prompt\": \"p\", \"answer\": \"a\"}\n{\"statement\": \"y\"}\n");
        var r = Run("teach", "--brain", brain, file);
        Assert.Equal(2, r.Code);
        Assert.Contains($"{file}:2: 'prompt' is missing", r.Err.ReplaceLineEndings(""));
        Assert.False(Directory.Exists(brain));
        File.WriteAllBytes(file, [0xff, 0xfe, 0x00]);
        Assert.Contains("not UTF-8", Run("teach", "--brain", brain, file).Err);
    }

    [Fact]
    public void ABrainKilledWhileLearningOrBeingTaughtStillAgreesWithItsLog()
    {
        var brain = Path.Combine(_dir, "killed");
        var lessons = Path.Combine(_dir, "many.jsonl");
        Ok(Run("lessons", "make", "--count", "200", "-o", lessons));
        var rng = new Random(11);
        for (int trial = 0; trial < 4; trial++)
        {
            var psi = Piped();
            string[] args = trial % 2 == 0
                ? ["learn", "-", "--brain", brain, "--model", "tiny", "--save-every", "1", "--force"]
                : ["teach", "--brain", brain, lessons, "--model", "tiny"];
            foreach (var a in args.Prepend(Path.Combine(AppContext.BaseDirectory, "engram.dll"))) psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            _ = p.StandardOutput.ReadToEndAsync();
            _ = p.StandardError.ReadToEndAsync();
            var until = DateTime.UtcNow.AddMilliseconds(1500 + rng.Next(2500));
            try
            {
                while (DateTime.UtcNow < until && !p.HasExited)
                {
                    if (trial % 2 == 0) p.StandardInput.Write($"line {rng.Next(1000)} of a log that never ends, status {rng.Next(600)}\n");
                    Thread.Sleep(5);
                }
            }
            catch (IOException) { } // the process is gone
            Process.Start("kill", ["-KILL", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
            p.WaitForExit(30_000);
            // the log's newest version rebuilds and matches; the next writer opens the brain (repairing it by replay if it
            // was killed between logging and saving) and goes on
            var log = Lines(Ok(Run("brain", "log", brain, "--json")));
            var head = log.Last(l => l.GetProperty("accepted").GetBoolean()).GetProperty("version").GetInt64();
            Assert.True(Lines(Ok(Run("brain", "show", brain, "--version", $"{head}", "--json")))[0].GetProperty("rebuilt").GetBoolean());
            var next = Run("learn", Prose($"n{trial}.txt", 300, trial), "--brain", brain, "--json");
            Assert.True(next.Code == 0, next.Err);
            Assert.Equal(head + 1, Lines(Ok(Run("brain", "info", brain, "--json")))[0].GetProperty("version").GetInt64());
        }
    }
}
