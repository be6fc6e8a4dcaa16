// The engine's own error types: every failure a caller can cause surfaces as an EngramException
// whose message names the operation or input and what was expected.
namespace Engram.Tensors;

public class EngramException : Exception
{
    public EngramException(string message) : base(message) { }
    public EngramException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>Shapes that an operation cannot combine; the message names the operation and both shapes.</summary>
public sealed class ShapeMismatchException : EngramException
{
    public ShapeMismatchException(string message) : base(message) { }
}

/// <summary>Raised in anomaly mode by the first operation (forward or backward) that produced NaN or Inf.</summary>
public sealed class AnomalyException : EngramException
{
    public AnomalyException(string message) : base(message) { }
}

/// <summary>A malformed, truncated or inconsistent file (safetensors, checkpoint).</summary>
public sealed class InvalidFileException : EngramException
{
    public InvalidFileException(string message) : base(message) { }
    public InvalidFileException(string message, Exception inner) : base(message, inner) { }
}
