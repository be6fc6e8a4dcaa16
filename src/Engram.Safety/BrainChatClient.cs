// A brain as a Microsoft.Extensions.AI chat client: a .NET application talks to a brain as to any chat model, and the
// brain keeps learning from the conversation (or not: Learn = false). The transcript is `engram chat`'s: each line of a
// user message is learned as "U: <line>\n" (a version in the brain's audit log); the answer is the brain's greedy
// continuation of "B:" to the end of its line and is never learned. The API is stateless — every call carries the whole
// conversation — so only the user messages after the last assistant message are new and learned; earlier ones were
// learned by the calls that sent them. System messages are not learned (and not shown to the brain). Calls are served
// one at a time.
using System.Runtime.CompilerServices;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.AI;

namespace Engram.Safety;

public sealed class BrainChatClient : IChatClient
{
    readonly VersionedBrain _brain;
    readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>Whether user messages are learned (default); when false the brain only reads them as context.</summary>
    public bool Learn { get; init; } = true;
    /// <summary>The longest answer in bytes when the options do not say (ChatOptions.MaxOutputTokens counts bytes).</summary>
    public int MaxReply { get; init; } = 200;

    /// <summary>A chat client over an open brain; the caller keeps owning (and disposes) the brain.</summary>
    public BrainChatClient(VersionedBrain brain) => _brain = brain;

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        var updates = new List<ChatResponseUpdate>();
        await foreach (var u in GetStreamingResponseAsync(messages, options, cancellationToken)) updates.Add(u);
        return updates.ToChatResponse();
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages,
        ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var turn = messages.Reverse().TakeWhile(m => m.Role != ChatRole.Assistant).Reverse()
            .Where(m => m.Role == ChatRole.User).Select(m => m.Text).ToList();
        int max = options?.MaxOutputTokens is int n && n > 0 ? n : MaxReply;
        string id = Guid.NewGuid().ToString("N");
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        Task? worker = null;
        try
        {
            var lines = string.Concat(turn.SelectMany(t => t.Split('\n')).Select(l => $"U: {l.TrimEnd('\r')}\n"));
            var channel = Channel.CreateUnbounded<string>();
            bool stopped = false;
            var producer = worker = Task.Run(() =>
            {
                try
                {
                    var prompt = "B:";
                    // learned, or (not learning, or rejected by the brain's gates) only read before the answer
                    if (!(lines.Length > 0 && Learn && _brain.Apply(Encoding.UTF8.GetBytes(lines), UpdateKind.Chat,
                        "IChatClient: user turn").Accepted)) prompt = lines + prompt;
                    var decoder = Encoding.UTF8.GetDecoder();
                    var chars = new char[4];
                    var one = new byte[1];
                    _brain.Learner.Continue(Encoding.UTF8.GetBytes(prompt), max, b =>
                    {
                        if (b == '\n' || cancellationToken.IsCancellationRequested) { stopped = true; return false; }
                        one[0] = b;
                        int k = decoder.GetChars(one, 0, 1, chars, 0, flush: false);
                        if (k > 0) channel.Writer.TryWrite(new string(chars, 0, k));
                        return true;
                    });
                    channel.Writer.TryComplete();
                }
                catch (Exception e) { channel.Writer.TryComplete(e); }
            }, CancellationToken.None);
            await foreach (var text in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                yield return new ChatResponseUpdate(ChatRole.Assistant, text)
                {
                    ResponseId = id, MessageId = id, ModelId = _brain.Learner.ModelConfig.Preset,
                };
            await producer.ConfigureAwait(false);
            yield return new ChatResponseUpdate(ChatRole.Assistant, (string?)null)
            {
                ResponseId = id, MessageId = id, ModelId = _brain.Learner.ModelConfig.Preset,
                FinishReason = stopped ? ChatFinishReason.Stop : ChatFinishReason.Length,
            };
        }
        finally
        {
            // a caller that stops early (or cancels) must not let the next call use the brain while this one still does
            if (worker is not null)
            {
                try { await worker.ConfigureAwait(false); }
                catch (Exception) when (cancellationToken.IsCancellationRequested) { }
            }
            _gate.Release();
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(ChatClientMetadata) ? new ChatClientMetadata("engram", null, _brain.Learner.ModelConfig.Preset)
        : serviceType.IsInstanceOfType(this) ? this
        : serviceType.IsInstanceOfType(_brain) ? _brain
        : null;

    public void Dispose() => _gate.Dispose();
}
