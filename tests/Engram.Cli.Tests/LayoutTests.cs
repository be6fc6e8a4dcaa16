// The repository's own conventions, checked: every C# line within 140 characters (.editorconfig's max_line_length,
// which no formatter enforces by itself).
namespace Engram.Cli.Tests;

public class LayoutTests
{
    [Fact]
    public void EveryCSharpLineIsWithin140Characters()
    {
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Engram.slnx")))
            root = Path.GetDirectoryName(root) ?? throw new Xunit.Sdk.XunitException("no repository");
        var sep = Path.DirectorySeparatorChar;
        var files = new[] { "src", "tests", "bench" }.Where(d => Directory.Exists(Path.Combine(root, d)))
            .SelectMany(d => Directory.EnumerateFiles(Path.Combine(root, d), "*.cs", SearchOption.AllDirectories))
            .Where(f => !f.Contains($"{sep}obj{sep}") && !f.Contains($"{sep}bin{sep}")).ToList();
        Assert.NotEmpty(files);
        var tooLong = files.SelectMany(f => File.ReadLines(f).Select((line, i) => (f, i, line.Length)))
            .Where(x => x.Length > 140).Select(x => $"{Path.GetRelativePath(root, x.f)}:{x.i + 1} ({x.Length})").ToList();
        Assert.True(tooLong.Count == 0, $"{tooLong.Count} lines over 140 characters:\n{string.Join("\n", tooLong.Take(30))}");
    }
}
