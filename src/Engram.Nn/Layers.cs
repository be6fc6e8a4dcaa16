// Basic layers: Linear, Embedding, RMSNorm, LayerNorm. Shapes in comments use B… for any leading dims.
using Engram.Tensors;

namespace Engram.Nn;

/// <summary>y = x·Wᵀ + b; x [B…, in] → [B…, out]; weight [out, in] as in PyTorch. Default init: truncated LeCun normal.</summary>
public sealed class Linear : Module
{
    public Tensor Weight { get; }
    public Tensor? Bias { get; }
    public int InFeatures { get; }
    public int OutFeatures { get; }

    public Linear(int inFeatures, int outFeatures, bool bias, Generator generator, DType dtype = DType.Float32)
    {
        InFeatures = inFeatures; OutFeatures = outFeatures;
        Weight = RegisterParameter("weight", Init.TruncatedLeCunNormal(generator, [outFeatures, inFeatures], inFeatures, dtype));
        if (bias) Bias = RegisterParameter("bias", Init.Zeros([outFeatures], dtype));
    }

    public Tensor Forward(Tensor x)
    {
        if (x.Shape[^1] != InFeatures)
            throw new ShapeMismatchException($"Linear({InFeatures}→{OutFeatures}): input {x.ShapeText} has last dimension {x.Shape[^1]}");
        var y = Tensor.Matmul(x, Weight.MT);
        return Bias is null ? y : y + Bias;
    }
}

/// <summary>Lookup table [vocab, dim]; ids of shape S → [S…, dim]. Default init: normal(0, 1) as PyTorch.</summary>
public sealed class Embedding : Module
{
    public Tensor Weight { get; }
    public Embedding(int vocab, int dim, Generator generator, double std = 1.0, DType dtype = DType.Float32)
        => Weight = RegisterParameter("weight", Init.Normal(generator, [vocab, dim], 0, std, dtype));

    public Tensor Forward(int[] ids, params int[] idsShape)
    {
        int vocab = Weight.Shape[0];
        foreach (var id in ids)
            if ((uint)id >= (uint)vocab) throw new ShapeMismatchException($"Embedding: id {id} is outside the vocabulary [0, {vocab})");
        return Tensor.Embedding(Weight, ids, idsShape);
    }
}

/// <summary>RMSNorm over the last dimension, with a learned gain (ones) unless withGain is false.</summary>
public sealed class RmsNorm : Module
{
    public Tensor? Weight { get; }
    public double Eps { get; }
    public RmsNorm(int dim, double eps = 1e-6, bool withGain = true, DType dtype = DType.Float32)
    {
        Eps = eps;
        if (withGain) Weight = RegisterParameter("weight", Init.Ones([dim], dtype));
    }
    public Tensor Forward(Tensor x) => Functional.RmsNorm(x, Weight, Eps);
}

/// <summary>LayerNorm over the last dimension with learned weight (ones) and bias (zeros).</summary>
public sealed class LayerNorm : Module
{
    public Tensor? Weight { get; }
    public Tensor? Bias { get; }
    public double Eps { get; }
    public LayerNorm(int dim, double eps = 1e-5, bool affine = true, DType dtype = DType.Float32)
    {
        Eps = eps;
        if (affine)
        {
            Weight = RegisterParameter("weight", Init.Ones([dim], dtype));
            Bias = RegisterParameter("bias", Init.Zeros([dim], dtype));
        }
    }
    public Tensor Forward(Tensor x) => Functional.LayerNorm(x, Weight, Bias, Eps);
}

/// <summary>Parameter initialisers; every random one takes the generator explicitly so a seed fixes all weights.</summary>
public static class Init
{
    /// <summary>Standard deviation of a standard normal truncated to [−2, 2]; dividing by it restores the intended std.</summary>
    public const double TruncatedStdCorrection = 0.87962566103423978;

    public static Tensor Zeros(int[] shape, DType dtype = DType.Float32) => Tensor.Zeros(shape, dtype);
    public static Tensor Ones(int[] shape, DType dtype = DType.Float32) => Tensor.Ones(shape, dtype);
    public static Tensor Normal(Generator g, int[] shape, double mean = 0, double std = 1, DType dtype = DType.Float32)
        => Tensor.Randn(g, shape, mean, std, dtype);
    public static Tensor Uniform(Generator g, int[] shape, double low, double high, DType dtype = DType.Float32)
        => Tensor.Rand(g, shape, low, high, dtype);

    /// <summary>Normal truncated at ±2 parent std, scaled so the resulting std is exactly `std`.</summary>
    public static Tensor TruncatedNormal(Generator g, int[] shape, double std, DType dtype = DType.Float32)
        => Tensor.TruncatedNormal(g, shape, 0, std / TruncatedStdCorrection, -2, 2, dtype);

    /// <summary>LeCun normal (std = 1/√fanIn), truncated at ±2σ with the std corrected, as HRM/TRM initialise.</summary>
    public static Tensor TruncatedLeCunNormal(Generator g, int[] shape, int fanIn, DType dtype = DType.Float32)
        => TruncatedNormal(g, shape, 1.0 / Math.Sqrt(Math.Max(1, fanIn)), dtype);
}
