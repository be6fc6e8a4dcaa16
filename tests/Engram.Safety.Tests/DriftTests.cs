using System.Text;
using CsCheck;
using Engram.Learning;
using Engram.Tasks;
using Engram.Tensors;

namespace Engram.Safety.Tests;

public class DriftTests
{
    [Fact]
    public void TheDefaultCanariesAreBalanced()
    {
        var c = ProbeSet.Default.Canaries;
        Assert.Equal(16, c.Count);
        foreach (var answer in c.Select(x => x.Right).Distinct())
            Assert.Equal(c.Count(x => x.Right == answer), c.Count(x => x.Wrong == answer));
        Assert.All(c, x => Assert.NotEqual(x.Right, x.Wrong));
    }

    [Fact]
    public void AVersionHasNoDriftFromItselfAndTheWalkReplaysTheLog()
    {
        using var tmp = new TempBrain();
        var lessons = Lessons.Make(3, 2);
        using (var vb = VersionedBrain.Open(tmp.Dir, Small.New))
        {
            vb.Apply(Small.Text(400, 1), UpdateKind.Learn, "text");
            var same = new Drift(vb.Learner, ProbeSet.Default).Measure(vb.Learner, vb.Version, "learn");
            Assert.Equal(0, same.Kl, 9);
            Assert.Equal(0, same.WeightDrift);
            Assert.Equal(0, same.NegativeFlipRate);
            Assert.Equal(0, same.DeltaBitsPerByte, 9);
            Assert.Equal(1, same.Cka, 9);
            foreach (var l in lessons)
                vb.Apply(Encoding.UTF8.GetBytes(l.Statement + "\n"), UpdateKind.Lesson, l.Id,
                    probe: _ => "{\"lesson\": " + Lessons.ToJsonLine(l) + "}");
            vb.Apply(Small.Text(300, 2), UpdateKind.Learn, "more");
        }
        var points = Drift.Walk(tmp.Dir, 1, ProbeSet.Default).ToList();
        Assert.Equal([1L, 2, 3, 4, 5], points.Select(p => p.Version));
        Assert.Equal(0, points[0].Kl, 9);
        Assert.True(points[^1].Kl > 0 && points[^1].WeightDrift > 0);
        Assert.Equal(1, points[0].Cka, 9);
        Assert.InRange(points[^1].Cka, 0, 1 - 1e-9); // learning moved the representation of the probe texts
        Assert.Equal([0, 1, 2, 3, 3], points.Select(p => p.Lessons));
        Assert.All(points.Skip(1), p => Assert.InRange(p.LessonRetention!.Value, 0, 1));
        Assert.Equal(2, Drift.Walk(tmp.Dir, 0, ProbeSet.Default, maxPoints: 2).Count());
        Assert.Throws<InvalidFileException>(() => Drift.Walk(tmp.Dir, 99, ProbeSet.Default).ToList());
    }

    [Fact]
    public void LinearCkaSeesRotationsAndScalesAsTheSameAndUnrelatedRowsAsDifferent()
    {
        const int n = 400, d = 6;
        var g = new Random(3);
        double[] Random() => Enumerable.Range(0, n * d).Select(_ => g.NextDouble() * 2 - 1).ToArray();
        double[] Centre(double[] x)
        {
            var y = (double[])x.Clone();
            for (int j = 0; j < d; j++)
            {
                double m = Enumerable.Range(0, n).Average(i => x[i * d + j]);
                for (int i = 0; i < n; i++) y[i * d + j] -= m;
            }
            return y;
        }
        var x = Centre(Random());
        // y = 3 · x · R with R a rotation in the plane of the first two columns
        var y = (double[])x.Clone();
        double c = Math.Cos(0.7), s = Math.Sin(0.7);
        for (int i = 0; i < n; i++)
        {
            (double a, double b) = (x[i * d], x[i * d + 1]);
            y[i * d] = 3 * (c * a - s * b); y[i * d + 1] = 3 * (s * a + c * b);
            for (int j = 2; j < d; j++) y[i * d + j] *= 3;
        }
        Assert.Equal(1, Drift.LinearCka(x, x, d), 12);
        Assert.Equal(1, Drift.LinearCka(x, y, d), 9);
        Assert.InRange(Drift.LinearCka(x, Centre(Random()), d), 0, 0.1);
        var z = (double[])x.Clone(); // one column replaced by noise: in between
        for (int i = 0; i < n; i++) z[i * d] = g.NextDouble() * 2 - 1;
        Assert.InRange(Drift.LinearCka(x, Centre(z), d), 0.5, 0.95);
    }

    [Theory]
    [InlineData("[]", "expected an object")]
    [InlineData("{\"texts\": 3, \"canaries\": []}", "'texts' must be an array")]
    [InlineData("{\"texts\": [], \"canaries\": []}", "no texts and no canaries")]
    [InlineData("{\"texts\": [\"a\"], \"canaries\": [{\"prompt\": \"p\", \"right\": \"r\", \"wrong\": 3}]}", "canaries[0].wrong must be")]
    [InlineData("{\"texts\": [\"a\"], \"canaries\": [{\"prompt\": \"p\"}]}", "canaries[0].right must be")]
    [InlineData("{\"texts\": [\"a\"", "not valid JSON")]
    public void MalformedProbeFilesAreRefused(string text, string expected)
    {
        var path = Path.Combine(Path.GetTempPath(), "engram-probes-" + Guid.NewGuid() + ".json");
        File.WriteAllText(path, text);
        try
        {
            var e = Assert.ThrowsAny<EngramException>(() => ProbeSet.Load(path));
            Assert.Contains(expected, e.Message);
            Assert.StartsWith(path, e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void FuzzedProbeFilesLoadOrAreRefusedCleanly()
    {
        // samples run on several threads: each writes its own file
        Gen.Char["{}[]\":, texcanrigwop\\"].Array[0, 80].Select(c => new string(c)).Sample(text =>
        {
            var path = Path.Combine(Path.GetTempPath(), "engram-probes-" + Guid.NewGuid() + ".json");
            File.WriteAllText(path, text);
            try { ProbeSet.Load(path); }
            catch (EngramException e) { Assert.StartsWith(path, e.Message); Assert.DoesNotContain('\n', e.Message); }
            finally { File.Delete(path); }
        }, iter: 1500);
    }
}
