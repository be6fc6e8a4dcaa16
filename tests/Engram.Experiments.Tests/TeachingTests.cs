using System.Text;
using System.Text.Json;
using Engram.Experiments;
using Engram.Learning;
using Engram.Models;
using Engram.Tasks;

namespace Engram.Experiments.Tests;

public class TeachingTests
{
    static OnlineLearner Tiny(ulong seed = 1) => new(Presets.All["tiny"], LearnerConfig.ForPreset("tiny") with { Seed = seed });

    static byte[] Prose(int n)
    {
        var sb = new StringBuilder();
        new FillerText(3).Append(sb, n);
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    [Theory, InlineData("tiny"), InlineData("gru")]
    public void ScoringAnAnswerChangesNothingAndAgreesWithEvaluation(string preset)
    {
        var learner = new OnlineLearner(Presets.All[preset], LearnerConfig.ForPreset(preset));
        learner.Learn(Prose(3000));
        var before = Brain.Hash(learner);
        var text = Prose(200);
        var bits = learner.Bits([], text);
        Assert.Equal(before, Brain.Hash(learner));
        Assert.Equal(learner.Evaluate(text), bits.Average(), 3);
        // a prompt then its answer: the answer's bits are those of the same bytes read as one text
        var split = learner.Bits(text.AsSpan(0, 150), text.AsSpan(150));
        Assert.Equal(bits.Skip(150), split, (a, b) => Math.Abs(a - b) < 1e-3);
        Assert.Equal(before, Brain.Hash(learner));
    }

    [Fact]
    public void ALessonIsRecalledExactlyAfterItIsTaughtAndNotBefore()
    {
        var learner = Tiny();
        learner.Learn(Prose(5000));
        var lessons = Lessons.Make(8, 3);
        int before = 0, after = 0, efficacy = 0;
        foreach (var l in lessons)
        {
            var old = Teaching.OldAnswer(learner, l);
            if (Teaching.Measure(learner, l, old).Exact) before++;
            learner.Learn(Teaching.LessonText(l));
            var s = Teaching.Measure(learner, l, old);
            if (s.Exact) after++;
            if (s.Efficacy) efficacy++;
        }
        Assert.Equal(0, before);
        Assert.True(after >= 7, $"{after} of 8 recalled right after their lesson");
        Assert.True(efficacy >= 7, $"efficacy {efficacy} of 8");
    }

    [Fact]
    public void TheTeachingBenchReportsEveryFigureAsAShare()
    {
        var r = Teaching.Run("tiny", new Teaching.Options
        {
            Lessons = 6, Probe = 4, WarmUp = 2000, Gap = 200, Distances = [1_000, 3_000], MaxRounds = 2, Filler = null,
        });
        using var doc = JsonDocument.Parse(Teaching.Json(r));
        var o = doc.RootElement;
        Assert.Equal("tiny", o.GetProperty("brain").GetString());
        Assert.Equal(6, o.GetProperty("lessons").GetInt32());
        foreach (var key in new[] { "efficacy", "paraphrase", "paraphrase_control", "neighbourhood", "exact", "retention_1kb",
            "retention_3kb", "acc", "forgetting" })
            Assert.InRange(o.GetProperty(key).GetDouble(), 0, 1);
        Assert.InRange(o.GetProperty("bwt").GetDouble(), -1, 1);
        Assert.Equal(6, r.AccuracyCurve.Length);
        Assert.True(r.TeachOnErrorRounds is >= 1 and <= 2);
        // the same seed, the same figures
        var again = Teaching.Run("tiny", new Teaching.Options
        {
            Lessons = 6, Probe = 4, WarmUp = 2000, Gap = 200, Distances = [1_000, 3_000], MaxRounds = 2, Filler = null,
        });
        Assert.Equal(Teaching.Json(r with { Seconds = 0 }), Teaching.Json(again with { Seconds = 0 }));
    }

    [Fact]
    public void ThePoisoningBenchCountsCaughtAndFalselyRejectedLessons()
    {
        var r = Poisoning.Run("tiny", new Poisoning.Options { Lessons = 8, Canaries = 4, WarmUp = 3000, Filler = null });
        Assert.Equal(4, r.PoisoningLessons);
        Assert.Equal(4, r.BenignLessons);
        Assert.True(r.Caught > 0, "no poisoning lesson was caught");
        Assert.True(r.FalseRejections < 1, "every benign lesson was rejected");
        Assert.InRange(r.Canaries, 0, 4);
        using var doc = JsonDocument.Parse(Poisoning.Json(r));
        Assert.Equal(4, doc.RootElement.GetProperty("poisoning_lessons").GetInt32());
    }
}
