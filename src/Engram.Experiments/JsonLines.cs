// One JSON naming policy for every machine-readable line Engram prints (snake_case fields, one object per line),
// shared by the experiments and the CLI, so output is serialised by System.Text.Json, never by string interpolation.
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Engram.Experiments;

public static class JsonLines
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);

    /// <summary>Rounds for printing (figures carry no false precision; the value is still a JSON number).</summary>
    public static double Round(double value, int digits) => double.IsFinite(value) ? Math.Round(value, digits) : value;

    /// <summary>An object built field by field (for lines whose fields vary), serialised with the same options.</summary>
    public static string Serialize(JsonObject value) => value.ToJsonString(Options);
}
