// `engram bench mqar` end to end: JSON lines with the figures, a table, charts, and settings that cannot fit refused.
using System.Text.Json;

namespace Engram.Cli.Tests;

public sealed class MqarCliTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("engram-mqar-cli").FullName;
    public void Dispose() { try { Directory.Delete(_dir, true); } catch (IOException) { } }

    static (int Code, string Out, string Err) Engram(params string[] args) => EngramProcess.Run(null, 120, args);

    static readonly string[] Small = ["bench", "mqar", "--layers", "attention,gru", "--widths", "16", "--pairs", "2,8", "--steps", "2",
        "--batch", "2", "--test", "2", "--vocab", "32"];

    [Fact]
    public void JsonLinesCarryEverySettingAndChartsAreWritten()
    {
        var png = Path.Combine(_dir, "m.png");
        var r = Engram([.. Small, "--lengths", "16,32", "--json", "--png", png]);
        Assert.True(r.Code == 0, r.Err);
        var lines = r.Out.Trim().Split('\n').Select(l => JsonDocument.Parse(l).RootElement).ToList();
        // (16, 2), (32, 2), (32, 8) fit 4 × pairs ≤ length; (16, 8) does not
        Assert.Equal(6, lines.Count);
        Assert.Equal(new[] { "attention", "gru", "attention", "gru", "attention", "gru" },
            lines.Select(l => l.GetProperty("layer").GetString()));
        Assert.Equal(new[] { 16, 16, 32, 32, 32, 32 }, lines.Select(l => l.GetProperty("length").GetInt32()));
        Assert.Equal(new[] { 2, 2, 2, 2, 8, 8 }, lines.Select(l => l.GetProperty("pairs").GetInt32()));
        Assert.All(lines, l =>
        {
            Assert.Equal(16, l.GetProperty("width").GetInt32());
            Assert.InRange(l.GetProperty("accuracy").GetDouble(), 0, 1);
            Assert.Equal(2, l.GetProperty("steps").GetInt32());
            Assert.True(l.GetProperty("parameters").GetInt64() > 0);
        });
        Assert.Contains("grid ETA", r.Err);
        Assert.True(new FileInfo(Path.Combine(_dir, "m-w16-l16.png")).Length > 1000);
        Assert.True(new FileInfo(Path.Combine(_dir, "m-w16-l32.png")).Length > 1000);
    }

    [Fact]
    public void TableHasARowPerSettingAndAColumnPerLayer()
    {
        var png = Path.Combine(_dir, "t.png");
        var r = Engram([.. Small, "--lengths", "16", "--png", png, "--threads", "1"]);
        Assert.True(r.Code == 0, r.Err);
        var rows = r.Out.Split('\n');
        Assert.Contains("attention", rows[0]);
        Assert.Contains("gru", rows[0]);
        Assert.Matches(@"^\s+16\s+16\s+2\s+\d+\.\d%[* ]\s+\d+\.\d%[* ]$", rows[1]);
        Assert.Contains($"chart written to {png}", r.Out);
        Assert.True(File.Exists(png));
    }

    [Fact]
    public void SettingsWithoutRoomForTheirQueriesAreRefused()
    {
        var r = Engram("bench", "mqar", "--lengths", "16", "--pairs", "8", "--png", Path.Combine(_dir, "x.png"));
        Assert.Equal(2, r.Code);
        Assert.Contains("length ≥ 4 × pairs", r.Err);
        Assert.False(File.Exists(Path.Combine(_dir, "x.png")));
        var heads = Engram("bench", "mqar", "--widths", "30", "--heads", "4", "--png", Path.Combine(_dir, "x.png"));
        Assert.Equal(2, heads.Code);
        Assert.Contains("multiple of 4 heads", heads.Err);
    }
}
