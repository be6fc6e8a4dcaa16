// The README's chat-client example is a test: this file runs the same code and checks the README still shows it
// verbatim; and the client's own behaviour: what it learns, what it does not, streaming equals the whole answer.
using System.Text;
using Engram.Learning;
using Engram.Models;
using Microsoft.Extensions.AI;

namespace Engram.Safety.Tests;

public class BrainChatClientTests
{
    [Fact]
    public async Task TheReadmeExampleRunsAndIsVerbatim()
    {
        using var tmp = new TempBrain();
        Directory.CreateDirectory(tmp.Dir);
        var saved = Directory.GetCurrentDirectory();
        Directory.SetCurrentDirectory(tmp.Dir);
        try
        {
            // README-BEGIN
            var preset = "small";
            using var brain = VersionedBrain.Open("brain", () => new OnlineLearner(Presets.Get(preset), LearnerConfig.ForPreset(preset)));
            IChatClient chat = new BrainChatClient(brain); // learns each user message ({ Learn = false }: only reads them)
            var history = new List<ChatMessage> { new(ChatRole.User, "The capital of Velkarin is Dorsul.") };
            var reply = await chat.GetResponseAsync(history);
            history.AddRange(reply.Messages);
            history.Add(new(ChatRole.User, "What is the capital of Velkarin?"));
            await foreach (var update in chat.GetStreamingResponseAsync(history)) Console.Write(update.Text);
            Console.WriteLine($" (the brain is at version {brain.Version})");
            // README-END
            Assert.Equal(2, brain.Version); // the origin, then one version per user message
            var learned = brain.Log.All(withData: true).Where(r => r.Kind == UpdateKind.Chat).Select(r => Encoding.UTF8.GetString(r.Data));
            Assert.Equal(["U: The capital of Velkarin is Dorsul.\n", "U: What is the capital of Velkarin?\n"], learned);
        }
        finally { Directory.SetCurrentDirectory(saved); }

        var source = File.ReadAllLines(FindUp("tests/Engram.Safety.Tests/BrainChatClientTests.cs"));
        int b = Array.FindIndex(source, l => l.Trim() == "// README-BEGIN"), e = Array.FindIndex(source, l => l.Trim() == "// README-END");
        var body = source[(b + 1)..e].Select(l => l.Trim()).ToArray();
        var readme = File.ReadAllText(FindUp("README.md"));
        int at = readme.IndexOf("new BrainChatClient(brain)", StringComparison.Ordinal);
        int start = readme.LastIndexOf("```csharp", at, StringComparison.Ordinal) + 9;
        var block = readme[start..readme.IndexOf("```", at, StringComparison.Ordinal)].Split('\n').Select(l => l.Trim())
            .Where(l => l.Length > 0 && !(l.StartsWith("using ", StringComparison.Ordinal) && !l.Contains('='))).ToArray();
        Assert.Equal(body, block);
    }

    static string FindUp(string relative)
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, relative))) return Path.Combine(d.FullName, relative);
        throw new FileNotFoundException(relative);
    }

    [Fact]
    public async Task OnlyNewUserMessagesAreLearnedAndStreamingGivesTheWholeAnswer()
    {
        using var tmp = new TempBrain();
        using var brain = VersionedBrain.Open(tmp.Dir, Small.New);
        brain.Apply(Small.Text(2000, 1), UpdateKind.Learn, "text");
        var client = new BrainChatClient(brain) { MaxReply = 30 };
        var history = new List<ChatMessage>
        {
            new(ChatRole.System, "be brief"), new(ChatRole.User, "the cat sat"), new(ChatRole.User, "on a\nmat"),
        };
        long v0 = brain.Version;
        var first = await client.GetResponseAsync(history);
        Assert.Equal(v0 + 1, brain.Version); // the two user messages (three lines) in one update; the system message is not learned
        Assert.Equal("U: the cat sat\nU: on a\nU: mat\n", Encoding.UTF8.GetString(brain.Log.Get(brain.Version)!.Data));
        Assert.Equal("test", client.GetService<ChatClientMetadata>()!.DefaultModelId);
        history.AddRange(first.Messages);
        // nothing new from the user: nothing learned, and the answer is the same whether streamed or not
        var again = await client.GetResponseAsync(history);
        Assert.Equal(v0 + 1, brain.Version);
        var streamed = new StringBuilder();
        await foreach (var u in client.GetStreamingResponseAsync(history)) streamed.Append(u.Text);
        Assert.Equal(again.Text, streamed.ToString());
        Assert.DoesNotContain('\n', again.Text);
        Assert.True(again.Text.Length <= 30); // 30 bytes at most, each a character or part of one
        // not learning: the brain reads the turn but does not change
        var hash = Brain.Hash(brain.Learner);
        var reader = new BrainChatClient(brain) { Learn = false };
        await reader.GetResponseAsync([new(ChatRole.User, "the mat")]);
        Assert.Equal(hash, Brain.Hash(brain.Learner));
        Assert.Equal(v0 + 1, brain.Version);
    }
}
