// `engram generate --brain DIR`: continues a prompt with a learned brain (the brain on disk is not changed): the model
// reads the prompt (its fast weights and counts move as it reads), then samples one byte at a time.
using System.CommandLine;
using System.Text;
using Engram.Learning;
using Engram.Tensors;

namespace Engram.Cli.Commands;

static class GenerateCommand
{
    public static Command Create()
    {
        var brain = new Option<string>("--brain") { Description = "Brain folder written by `engram learn --brain`.", Required = true };
        var prompt = new Option<string?>("--prompt") { Description = "Text the model reads first." };
        var length = Shared.IntOption("--length", "Bytes to generate.", 200, 0, 100_000_000);
        var temperature = new Option<double>("--temperature")
        {
            Description = "Sampling temperature (0: greedy).", DefaultValueFactory = _ => 0.8,
            CustomParser = r => double.TryParse(r.Tokens[^1].Value, System.Globalization.NumberStyles.Float, Shared.Inv, out var t)
                && t >= 0 && t <= 100
                ? t : Fail(r, "--temperature", "a number from 0 to 100"),
        };
        var topK = Shared.IntOption("--top-k", "Sample among the k most likely bytes (0: all).", 0, 0, 256);
        var seed = Shared.Seed("Seed of the sampler.");
        var command = new Command("generate", "Continue a prompt with a learned brain (the brain on disk is not changed).")
            { brain, prompt, length, temperature, topK, seed, Shared.Threads };
        command.SetAction(parse =>
        {
            Shared.ApplyThreads(parse, 1);
            var learner = Brain.Load(parse.GetValue(brain)!);
            var rng = new Generator(parse.GetValue(seed));
            var promptBytes = Encoding.UTF8.GetBytes(parse.GetValue(prompt) ?? "");
            var logits = promptBytes.Length > 0 ? learner.Read(promptBytes) : learner.PeekNext();
            var output = new List<byte>(promptBytes);
            var sampled = new byte[1];
            double t = parse.GetValue(temperature);
            int k = parse.GetValue(topK), n = parse.GetValue(length);
            for (int i = 0; i < n; i++)
            {
                sampled[0] = Sample(logits, t, k, rng);
                output.Add(sampled[0]);
                if (i + 1 < n) logits = learner.Read(sampled);
            }
            Console.WriteLine(Encoding.UTF8.GetString(output.ToArray()));
            return ExitCode.Success;
        });
        return command;
    }

    static double Fail(System.CommandLine.Parsing.ArgumentResult r, string name, string expected)
    {
        r.AddError($"{name} '{r.Tokens[^1].Value}': expected {expected}");
        return 0;
    }

    /// <summary>Samples a byte from logits: temperature 0 is greedy; top-k keeps the k most likely.</summary>
    public static byte Sample(float[] logits, double temperature, int topK, Generator rng)
    {
        int n = logits.Length;
        var order = Enumerable.Range(0, n).OrderByDescending(i => logits[i]).ThenBy(i => i).ToArray();
        if (temperature == 0) return (byte)order[0];
        int k = topK <= 0 ? n : Math.Min(topK, n);
        var p = new double[k];
        double max = logits[order[0]], sum = 0;
        for (int i = 0; i < k; i++) sum += p[i] = PortableMath.Exp((logits[order[i]] - max) / temperature);
        double u = rng.NextDouble() * sum;
        for (int i = 0; i < k; i++) { u -= p[i]; if (u <= 0) return (byte)order[i]; }
        return (byte)order[k - 1];
    }
}
