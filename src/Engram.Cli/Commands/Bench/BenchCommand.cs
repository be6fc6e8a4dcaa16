// `engram bench ...`: the measured experiments and the engine's speed.
using System.CommandLine;

namespace Engram.Cli.Commands;

static class BenchCommand
{
    public static Command Create() => new("bench", "Measure: engine speed, determinism, recall, forgetting, reasoning, bAbI, " +
        "multi-query associative recall (MQAR), teaching, poisoning, the cost of a brain's history.")
    {
        EngineCommand.Create(), DeterminismCommand.Create(), RecallCommand.Create(), ForgettingCommand.Create(),
        ReasoningBenchCommand.Create(), ReasoningStepCommand.Create(), MemoryCommand.Create(), BabiCommand.Create(),
        MqarCommand.Create(), TeachingCommand.Create(), PoisoningCommand.Create(), HistoryCommand.Create(),
    };
}
