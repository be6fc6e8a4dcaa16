// The learner's memory end to end, with its own greedy decoding: the newest value of a restated fact is the one it
// answers, and facts read before the count tables filled are still recalled after they have evicted many times over.
using System.Text;
using Engram.Models;

namespace Engram.Learning.Tests;

public class MemoryTests
{
    /// <summary>Random lowercase words: almost every high-order context is new, so count tables fill fast.</summary>
    static string Noise(int length, int seed)
    {
        var rng = new Random(seed);
        var sb = new StringBuilder();
        while (sb.Length < length)
        {
            for (int i = 2 + rng.Next(7); i > 0; i--) sb.Append((char)('a' + rng.Next(26)));
            sb.Append(rng.Next(12) == 0 ? ".\n" : " ");
        }
        return sb.Append('\n').ToString();
    }

    static void Read(OnlineLearner learner, string text) => learner.Learn(Encoding.ASCII.GetBytes(text));

    static string Ask(OnlineLearner learner, string prompt, int length)
        => Encoding.ASCII.GetString(learner.Continue(Encoding.ASCII.GetBytes(prompt), length));

    [Fact]
    public void TheNewestValueOfARestatedFactIsTheAnswer()
    {
        var learner = new OnlineLearner(TestModels.Continual, TestModels.Learner);
        Read(learner, Encoding.ASCII.GetString(TestModels.Text(3000)) + "\n");
        Read(learner, "The code of the amber gate is 4817.\nThe code of the silver door is 2290.\n" + Noise(800, 1));
        Assert.Equal("4817", Ask(learner, "The code of the amber gate is ", 4));
        Read(learner, "The code of the amber gate is 5521.\n" + Noise(800, 2));
        Assert.Equal("5521", Ask(learner, "The code of the amber gate is ", 4));
        Assert.Equal("2290", Ask(learner, "The code of the silver door is ", 4));
    }

    [Fact]
    public void RecallHoldsWhileTheCountTablesEvictManyTimesOver()
    {
        // 512 contexts per order; 40 KB of noise makes about 40,000 new order-4 contexts, 80 times the limit.
        var config = TestModels.Continual with { MatchWindowBits = 18 }; // its index must hold many more positions than the distance
        var learner = new OnlineLearner(config, TestModels.Learner);
        var facts = new[] { ("amber gate", "4817"), ("silver door", "2290"), ("copper vault", "7306"), ("jade chest", "1954") };
        Read(learner, Noise(3000, 5));
        foreach (var (key, code) in facts) Read(learner, $"The code of the {key} is {code}.\n");
        Read(learner, Noise(1000, 3));
        var before = facts.Select(f => Ask(learner, $"The code of the {f.Item1} is ", 4)).ToArray();
        Read(learner, Noise(40_000, 4));
        Assert.All(learner.State.Counts!.Footprint(), f => Assert.True(f.Contexts <= 512));
        var after = facts.Select(f => Ask(learner, $"The code of the {f.Item1} is ", 4)).ToArray();
        Assert.Equal(facts.Select(f => f.Item2), before);
        Assert.Equal(before, after);
    }
}
