using Engram.Learning;
using Engram.Models;

namespace Engram.Learning.Tests;

/// <summary>Very small configurations so the tests run in seconds.</summary>
static class TestModels
{
    public static LmConfig Continual => new()
    {
        Preset = "test", Dim = 16, Layers = 1, Heads = 2, Window = 8, MlpWidth = 32,
        FastWeight = Engram.Nn.FastWeightOptions.TttLinear with { MiniBatch = 4 }, ContextOrders = [1, 2, 4],
        MatchMinLength = 5, MatchWindowBits = 12, MatchRule = 2, MaxContextsPerOrder = 512, // a 4 KB ring and evictions within a few KB
    };
    public static LmConfig Titans
        => Continual with { Mixer = MixerKind.Conv, FastWeight = Engram.Nn.FastWeightOptions.Titans with { MiniBatch = 4 } };
    /// <summary>The presets' shape (a convolution and TTT-Linear): predicts through the stepper.</summary>
    public static LmConfig Stepped => Continual with { Mixer = MixerKind.Conv };
    public static LmConfig Transformer => Continual with { Kind = LmKind.Transformer };
    public static LmConfig Gru => Continual with { Kind = LmKind.Gru };
    public static LearnerConfig Learner => new() { Chunk = 8, LearningRate = 3e-3, WarmupSteps = 2 };

    public static IEnumerable<object[]> All()
        => new[] { ("continual", Continual), ("stepped", Stepped), ("titans", Titans), ("transformer", Transformer), ("gru", Gru) }
            .Select(x => new object[] { x.Item1 });
    public static LmConfig Get(string name)
        => name switch { "continual" => Continual, "stepped" => Stepped, "titans" => Titans, "transformer" => Transformer, _ => Gru };

    public static byte[] Text(int length, int seed = 1)
    {
        var words = new[] { "the ", "cat ", "sat ", "on ", "a ", "mat. ", "and ", "then ", "it ", "slept.\n" };
        var rng = new Random(seed);
        var s = new System.Text.StringBuilder();
        while (s.Length < length) s.Append(words[rng.Next(words.Length)]);
        return System.Text.Encoding.ASCII.GetBytes(s.ToString(0, length));
    }
}
