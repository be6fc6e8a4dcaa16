using System.Text;
using Engram.Learning;
using Engram.Tensors;

namespace Engram.Safety.Tests;

public class GateTests
{
    static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    /// <summary>A brain that knows two codes (stated three times each, among other text), with canaries on them.</summary>
    static VersionedBrain Knowing(TempBrain tmp)
    {
        var vb = VersionedBrain.Open(tmp.Dir, Small.New);
        for (int i = 0; i < 3; i++)
        {
            vb.Apply(Utf8("The code of the jade door is 4411.\n"), UpdateKind.Learn, "facts");
            vb.Apply(Small.Text(200, i), UpdateKind.Learn, "text");
            vb.Apply(Utf8("The code of the iron gate is 7302.\n"), UpdateKind.Learn, "facts");
        }
        File.WriteAllText(Path.Combine(tmp.Dir, Policy.ProbesName), """
            {"texts": ["the cat sat on a mat. and then it slept.\n"],
             "canaries": [{"prompt": "The code of the jade door is", "right": " 4411"},
                          {"prompt": "The code of the iron gate is", "right": " 7302"}]}
            """);
        new Policy { MaxFlipRate = 0 }.Save(tmp.Dir);
        vb.ReloadPolicy();
        return vb;
    }

    [Fact]
    public void AnUpdateThatOverwritesACanaryIsRejectedAndLeavesTheBrainAsItWas()
    {
        using var tmp = new TempBrain();
        using var vb = Knowing(tmp);
        var probes = Policy.Probes(tmp.Dir);
        Assert.All(probes.Canaries, c => Assert.True(Drift.Right(vb.Learner, c), $"the brain does not know {c.Prompt}{c.Right}"));
        long version = vb.Version;
        var hash = Brain.Hash(vb.Learner);

        var poison = vb.Apply(Utf8("The code of the jade door is 9090. The code of the jade door is 9090.\n"), UpdateKind.Lesson, "poison");
        Assert.False(poison.Accepted);
        Assert.Contains("negative flip rate", poison.Reason);
        Assert.Null(poison.StateHash);
        Assert.Equal(version, vb.Version);
        Assert.Equal(hash, Brain.Hash(vb.Learner)); // rolled back, bit for bit
        Assert.Contains("\"gate\"", poison.Probe);

        var benign = vb.Apply(Utf8("The cat of the old mill is named Pim.\n"), UpdateKind.Lesson, "benign");
        Assert.True(benign.Accepted, benign.Reason);
        Assert.Equal(poison.Version + 1, benign.Version);
        Assert.Equal(version, benign.Parent); // nothing descends from the rejected update
        Assert.All(probes.Canaries, c => Assert.True(Drift.Right(vb.Learner, c)));
    }

    [Fact]
    public void InQuarantineAStreamIsLearnedOnlyWhereItPassesTheGates()
    {
        using var tmp = new TempBrain();
        using var vb = Knowing(tmp);
        new Policy { MaxFlipRate = 0, Quarantine = true }.Save(tmp.Dir);
        vb.ReloadPolicy();
        var stream = Utf8(Encoding.ASCII.GetString(Small.Text(120, 9)) +
            "The code of the iron gate is 1111. The code of the iron gate is 1111.\n");
        var (bytes, rejected) = vb.LearnGated(new MemoryStream(stream), "stream", 60);
        Assert.Equal(stream.Length, bytes);
        Assert.True(rejected > 0 && rejected < bytes, $"{rejected} of {bytes} rejected");
        Assert.Contains(vb.Log.All(), r => !r.Accepted && r.Kind == UpdateKind.Learn);
        Assert.True(Drift.Right(vb.Learner, Policy.Probes(tmp.Dir).Canaries[1]));
    }

    [Fact]
    public async Task InQuarantineCancellingStopsAtOnceWhileTheInputIsIdleAndTriesWhatWasRead()
    {
        using var tmp = new TempBrain();
        using var vb = Knowing(tmp);
        new Policy { MaxFlipRate = 0, Quarantine = true }.Save(tmp.Dir);
        vb.ReloadPolicy();
        using var writer = new System.IO.Pipes.AnonymousPipeServerStream(System.IO.Pipes.PipeDirection.Out);
        using var input = new System.IO.Pipes.AnonymousPipeClientStream(System.IO.Pipes.PipeDirection.In, writer.ClientSafePipeHandle);
        var text = Small.Text(300, 4);
        writer.Write(text); // less than a stretch, and the writer goes quiet without closing
        writer.Flush();
        long position = vb.Learner.Position, version = vb.Version;
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        var learning = Task.Run(() => vb.LearnGated(input, "pipe", 1 << 16, cancel: cancel.Token));
        var ended = await Task.WhenAny(learning, Task.Delay(TimeSpan.FromSeconds(60)));
        Assert.True(ended == learning, "quarantine learning did not stop while its input was idle");
        Assert.Equal((text.Length, 0L), await learning);
        Assert.Equal(position + text.Length, vb.Learner.Position);
        Assert.Equal(version + 1, vb.Version);
        writer.Dispose(); // the reader thread still waits on the pipe: end it before the pipe's reading end is disposed
    }

    [Fact]
    public async Task AChatTurnTheGatesRejectIsStillReadBeforeTheAnswer()
    {
        using var tmp = new TempBrain();
        using var vb = Knowing(tmp);
        new Policy { MaxKl = 0 }.Save(tmp.Dir); // any change of the probe distributions is too much: every update is rejected
        vb.ReloadPolicy();
        var hash = Brain.Hash(vb.Learner);
        var turn = "The code of the jade door is 4411. The code of the iron gate is 7302. The code of the jade door is";
        var answer = await new BrainChatClient(vb) { MaxReply = 12 }.GetResponseAsync(
            [new Microsoft.Extensions.AI.ChatMessage(Microsoft.Extensions.AI.ChatRole.User, turn)]);
        Assert.False(vb.Log.Last()!.Accepted); // rejected: not learned
        Assert.Equal(hash, Brain.Hash(vb.Learner));
        // the answer is the one the brain gives with the turn read as context, not the one it gives without it
        var read = Encoding.UTF8.GetString(vb.Learner.Continue(Utf8($"U: {turn}\nB:"), 12, b => b != '\n')).TrimEnd('\n');
        Assert.Equal(read, answer.Text);
        Assert.NotEqual(Encoding.UTF8.GetString(vb.Learner.Continue(Utf8("B:"), 12, b => b != '\n')).TrimEnd('\n'), read);
    }

    [Theory]
    [InlineData("{\"max_flip_rate\": 2}", "max_flip_rate 2 is outside 0..1")]
    [InlineData("{\"max_flips\": 0}", "not a valid policy")]
    [InlineData("[", "not a valid policy")]
    public void AMalformedPolicyIsRefusedWhenTheBrainIsOpened(string text, string expected)
    {
        using var tmp = new TempBrain();
        using (VersionedBrain.Open(tmp.Dir, Small.New)) { }
        File.WriteAllText(Path.Combine(tmp.Dir, Policy.FileName), text);
        var e = Assert.ThrowsAny<EngramException>(() => VersionedBrain.Open(tmp.Dir));
        Assert.Contains(expected, e.Message);
        Assert.Contains(Policy.FileName, e.Message);
    }
}
