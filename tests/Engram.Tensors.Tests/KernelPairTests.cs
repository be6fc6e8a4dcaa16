// Every kernel/reference pair of Kernels/KernelPairs.cs on random inputs of sizes 0 to 256 (odd ones and block edges
// included): bit-identical where the pair says exact, within its tolerance otherwise. CI reruns this category with
// AVX-512 and with AVX2 off, so every SIMD path meets its reference. And the registry is complete: a public method
// named *Reference in Engram.Tensors that no pair names fails the build's tests, as does an old name for one.
using System.Reflection;
using Engram.Tensors.Kernels;

namespace Engram.Tensors.Tests;

[Trait("Category", "Kernels")]
public class KernelPairTests
{
    static readonly int[] Sizes = [0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 33, 63, 64, 65, 100, 127, 129, 200, 255, 256];

    public static TheoryData<string> Pairs()
    {
        var data = new TheoryData<string>();
        foreach (var pair in KernelPairs.All) data.Add(pair.Kernel);
        return data;
    }

    [Fact]
    public void KernelNamesAreUnique()
        => Assert.Equal(KernelPairs.All.Count, KernelPairs.All.Select(p => p.Kernel).Distinct().Count());

    [Theory]
    [MemberData(nameof(Pairs))]
    public void KernelMatchesItsReference(string kernel)
    {
        var pair = KernelPairs.All.Single(p => p.Kernel == kernel);
        foreach (int size in Sizes)
        {
            ulong seed = (ulong)size * 7919 + 17;
            var fast = pair.RunKernel(size, new Generator(seed));
            var slow = pair.RunReference(size, new Generator(seed));
            Assert.True(fast.Length == slow.Length, $"{pair}, size {size}: {fast.Length} outputs against {slow.Length}");
            for (int o = 0; o < slow.Length; o++)
            {
                Assert.True(fast[o].Length == slow[o].Length,
                    $"{pair}, size {size}, output {o}: {fast[o].Length} elements against {slow[o].Length}");
                double bound = pair.Tolerance * Math.Max(1, slow[o].Length == 0 ? 0 : slow[o].Max(Math.Abs));
                for (int i = 0; i < slow[o].Length; i++)
                {
                    double a = fast[o][i], b = slow[o][i];
                    bool ok = double.IsNaN(a) || double.IsNaN(b) ? double.IsNaN(a) && double.IsNaN(b)
                        : pair.Exact ? BitConverter.DoubleToInt64Bits(a) == BitConverter.DoubleToInt64Bits(b)
                        : Math.Abs(a - b) <= bound;
                    Assert.True(ok, $"{pair}, size {size}, output {o}[{i}]: kernel {a:R}, reference {b:R}" +
                        (pair.Exact ? " (must be bit-identical)" : $" (tolerance {bound:G3})"));
                }
            }
        }
    }

    static List<string> PublicMethods(Func<string, bool> named)
        => typeof(Tensor).Assembly.GetExportedTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly)
                .Where(m => !m.IsSpecialName && named(m.Name))
                .Select(m => $"{t.Name}.{m.Name}"))
            .Distinct().Order().ToList();

    [Fact]
    public void EveryPublicReferenceHasAPair()
    {
        var references = PublicMethods(name => name.EndsWith("Reference", StringComparison.Ordinal));
        var paired = KernelPairs.All.Select(p => p.Reference).ToHashSet();
        var missing = references.Where(r => !paired.Contains(r)).ToList();
        Assert.True(missing.Count == 0, $"public references without a pair in KernelPairs.All: {string.Join(", ", missing)}");
        var unknown = paired.Where(r => !references.Contains(r)).ToList();
        Assert.True(unknown.Count == 0, $"pairs naming no public method: {string.Join(", ", unknown)}");
    }

    [Fact]
    public void ReferencesGoByOneName()
    {
        var old = PublicMethods(name => name.Contains("Oracle") || name.Contains("Composed") || name.Contains("Naive"));
        Assert.True(old.Count == 0, $"a slow reference is called <Name>Reference, not: {string.Join(", ", old)}");
    }
}
