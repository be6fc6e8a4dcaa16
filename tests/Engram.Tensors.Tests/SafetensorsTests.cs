// Safetensors: bit-exact round trips for every dtype, PyTorch-written files, and fuzzing — random corruptions
// and truncations must only ever raise the engine's own InvalidFileException.
using CsCheck;
using Engram.Tensors.IO;

namespace Engram.Tensors.Tests;

public class SafetensorsTests
{
    static readonly Gen<StDType> GenDType = Gen.Enum<StDType>();
    static readonly Gen<int[]> GenShape = Gen.Int[0, 4].SelectMany(rank => Gen.Int[0, 5].Array[rank]);

    static Gen<SafetensorsEntry> GenEntry => Gen.Select(GenDType, GenShape).SelectMany((dt, shape) =>
    {
        long n = 1; foreach (var d in shape) n *= d;
        return Gen.Byte.Array[(int)n * Safetensors.ElementSize(dt)].Select(bytes => new SafetensorsEntry(dt, shape, bytes));
    });

    static Gen<List<KeyValuePair<string, SafetensorsEntry>>> GenFile =>
        GenEntry.List[0, 5].Select(es => es.Select((e, i) => new KeyValuePair<string, SafetensorsEntry>($"layers.{i}.w", e)).ToList());

    [Fact]
    public void RoundTripsBitForBit()
    {
        GenFile.Sample(entries =>
        {
            var meta = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ü ✓" };
            var bytes = Safetensors.Serialize(entries, meta);
            var back = Safetensors.Parse(bytes);
            Assert.Equal(entries.Select(e => e.Key), back.Names);
            foreach (var (name, e) in entries)
            {
                Assert.Equal(e.DType, back[name].DType);
                Assert.Equal(e.Shape, back[name].Shape);
                Assert.Equal(e.Bytes, back[name].Bytes);
            }
            Assert.Equal("ü ✓", back.Metadata["note"]);
            Assert.Equal(bytes,
                Safetensors.Serialize(back.Names.Select(n => new KeyValuePair<string, SafetensorsEntry>(n, back[n])), meta));
        }, iter: 200);
    }

    [Fact]
    public void FloatTensorsRoundTripThroughEveryFloatDType()
    {
        var t = Tensor.FromArray(new float[] { 0, 1, -2.5f, 65504, 1e-3f, float.NegativeInfinity }, 2, 3);
        Assert.Equal(t.ToFloatArray(), SafetensorsEntry.FromTensor(t).ToTensor().ToFloatArray());
        Assert.Equal(t.ToFloatArray(),
            SafetensorsEntry.FromTensor(t, StDType.F16).ToTensor().ToFloatArray().Select((v, i) => i == 4 ? t.ToFloatArray()[4] : v));
        var bf = SafetensorsEntry.FromTensor(t, StDType.BF16).ToTensor().ToFloatArray();
        Assert.Equal(-2.5f, bf[2]); Assert.Equal(65536f, bf[3]); // 65504 rounds to nearest bf16
        var d = Tensor.FromArray(new double[] { Math.PI }, 1);
        Assert.Equal(Math.PI, SafetensorsEntry.FromTensor(d).ToTensor().Item());
        var ints = SafetensorsEntry.FromInts([3, -7, 1 << 30], [3], StDType.I64);
        Assert.Equal(new[] { 3, -7, 1 << 30 }, ints.ToInt32Array());
    }

    [Fact]
    public void CorruptionsAndTruncationsOnlyRaiseInvalidFile()
    {
        var g = new Generator(77);
        var files = Enumerable.Range(0, 20).Select(_ => GenFile.Single())
            .Select(e => Safetensors.Serialize(e, new Dictionary<string, string> { ["k"] = "v" })).ToList();
        int rejected = 0, accepted = 0;
        void Try(byte[] b)
        {
            try { Safetensors.Parse(b); accepted++; }
            catch (InvalidFileException) { rejected++; }
        }
        foreach (var f in files)
        {
            for (int cut = 0; cut < f.Length; cut += Math.Max(1, f.Length / 40)) Try(f.AsSpan(0, cut).ToArray());
            for (int k = 0; k < 300; k++)
            {
                var b = (byte[])f.Clone();
                int flips = 1 + g.NextInt(4);
                for (int j = 0; j < flips; j++) b[g.NextInt(b.Length)] = (byte)g.NextInt(256);
                Try(b);
            }
        }
        Assert.True(rejected > 1000, $"only {rejected} corrupted files were rejected ({accepted} accepted)");
    }

    [Theory]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 8, "spans 4 bytes")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1]," +
        "\"data_offsets\":[2,6]}}", 6, "contiguous")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, "data section holds 8")]
    [InlineData("{\"a\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "unsupported dtype")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "invalid dimension")]
    [InlineData("[1,2]", 0, "start with")]
    [InlineData("{\"\\ud800\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "invalid string")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1]," +
        "\"data_offsets\":[4,8]}}", 8, "appears twice")]
    [InlineData("{\"a\":1", 0, "not valid JSON")]
    public void ValidationRulesNameTheProblem(string header, int dataBytes, string expected)
    {
        var h = System.Text.Encoding.UTF8.GetBytes(header);
        var file = new byte[8 + h.Length + dataBytes];
        BitConverter.GetBytes((ulong)h.Length).CopyTo(file, 0);
        h.CopyTo(file, 8);
        var ex = Assert.Throws<InvalidFileException>(() => Safetensors.Parse(file));
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void HugeHeaderLengthIsRejectedBeforeAllocation()
    {
        var file = new byte[16];
        BitConverter.GetBytes(ulong.MaxValue).CopyTo(file, 0);
        Assert.Contains("exceeds", Assert.Throws<InvalidFileException>(() => Safetensors.Parse(file)).Message);
    }

    [Fact]
    public void ReadsAFileWrittenByPyTorch()
    {
        // Written by tools/reference/make_golden.py with python3-torch.
        var path = Path.Combine(AppContext.BaseDirectory, "Golden", "mlp.safetensors");
        var f = Safetensors.Read(path);
        Assert.Equal(new[] { 8, 6 }, f["init.fc1.weight"].Shape);
        Assert.Equal(StDType.I64, f["input.targets"].DType);
        Assert.Equal(new[] { 0, 2, -100, 1 }, f["input.targets"].ToInt32Array());
        Assert.StartsWith("1.", f.Metadata["torch"]);
    }
}
