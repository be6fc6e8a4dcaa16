// `engram brain info DIR`: what a brain holds (model, learner, stream position, bits per byte so far, size), read
// without changing or locking anything.
using System.CommandLine;
using Engram.Learning;

namespace Engram.Cli.Commands;

static class BrainCommand
{
    public sealed record InfoLine(string Brain, string Format, string Preset, long Parameters, long StreamBytes, double BitsPerByte,
        long FileBytes, DateTime SavedUtc, System.Text.Json.JsonElement Model, System.Text.Json.JsonElement Learner);

    public static Command Create()
    {
        var dir = new Argument<string>("brain") { Description = "Brain folder." };
        var info = new Command("info", "Show a brain's model, learner settings and stream position (read-only).") { dir, Shared.Json };
        info.SetAction(parse =>
        {
            var path = parse.GetValue(dir)!;
            var i = Brain.ReadInfo(path);
            if (parse.GetValue(Shared.Json))
            {
                Shared.WriteJson(new InfoLine(path, i.Format, i.Model.Preset, i.Parameters, i.Position, Math.Round(i.BitsPerByte, 6),
                    i.FileBytes, i.SavedUtc, System.Text.Json.JsonDocument.Parse(i.Model.ToJson()).RootElement,
                    System.Text.Json.JsonDocument.Parse(i.Learner.ToJson()).RootElement));
                return ExitCode.Success;
            }
            Console.WriteLine($"brain      {path} (format {i.Format}, {i.FileBytes:N0} bytes, saved {i.SavedUtc:yyyy-MM-dd HH:mm:ss} UTC)");
            Console.WriteLine($"model      {i.Model.Preset}, {i.Parameters:N0} parameters");
            Console.WriteLine(FormattableString.Invariant($"stream     {i.Position:N0} bytes read, {i.BitsPerByte:F4} bits per byte"));
            Console.WriteLine($"model settings   {i.Model.ToJson()}");
            Console.WriteLine($"learner settings {i.Learner.ToJson()}");
            return ExitCode.Success;
        });
        return new Command("brain", "Inspect a brain folder.") { info };
    }
}
